"""Every resource name the course uses, in one place, derived from the lab's prefix, account and region."""

from __future__ import annotations

from dataclasses import dataclass

# The sample app's buildspec reads this parameter; its name is part of the app, not the lab.
LOG_LEVEL_PARAMETER = "/my-app/dev/log-level"


@dataclass(frozen=True)
class CourseNames:
    """Names of the resources chapters create; `course_names(lab)` makes one."""

    prefix: str
    account: str
    region: str

    def _(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    @property
    def repository(self) -> str:
        return self._("my-app")

    @property
    def artifact_bucket(self) -> str:
        # Bucket names are global: the account and region make them unique across learners.
        return f"{self.prefix}-artifacts-{self.account}-{self.region}"

    @property
    def approval_template(self) -> str:
        return self._("two-approvals")

    @property
    def reviewers(self) -> tuple[str, str]:
        return (self._("reviewer-ana"), self._("reviewer-ben"))

    @property
    def build_project(self) -> str:
        return self._("my-app-build")

    @property
    def pipeline_build_project(self) -> str:
        """The pipeline's build project: source and artifacts come from and go to CodePipeline."""
        return self._("my-app-pipeline-build")

    @property
    def secrets_demo_project(self) -> str:
        return self._("secrets-demo")

    @property
    def codebuild_role(self) -> str:
        return self._("codebuild-role")

    @property
    def log_level_parameter(self) -> str:
        return LOG_LEVEL_PARAMETER

    @property
    def api_token_secret(self) -> str:
        return f"{self.prefix}/my-app/dev/api-token"

    @property
    def codedeploy_app(self) -> str:
        return self._("my-app")

    @property
    def deployment_group(self) -> str:
        return self._("my-app-dev")

    @property
    def codedeploy_role(self) -> str:
        return self._("codedeploy-role")

    @property
    def hosts_name(self) -> str:
        """The Name tag's suffix: hosts are tagged `Name=<prefix>-web`."""
        return "web"

    @property
    def hosts_tag(self) -> str:
        return self._(self.hosts_name)

    @property
    def pipeline(self) -> str:
        return self._("my-app-pipeline")

    @property
    def codepipeline_role(self) -> str:
        return self._("codepipeline-role")

    @property
    def source_rule(self) -> str:
        return self._("my-app-on-push")

    @property
    def events_role(self) -> str:
        return self._("events-start-pipeline")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def course_names(lab) -> CourseNames:
    return CourseNames(lab.prefix, lab.account_id, lab.region)
