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

    # chapter 06
    @property
    def load_balancer(self) -> str:
        """The application load balancer in front of the web fleet (ALB names: at most 32 characters)."""
        return self._("web-alb")

    @property
    def load_balancer_security_group(self) -> str:
        return self._("web-alb")

    @property
    def target_group(self) -> str:
        return self._("web-tg")

    @property
    def green_hosts_name(self) -> str:
        """The Name tag's suffix of the blue/green replacement fleet: `Name=<prefix>-green`."""
        return "green"

    @property
    def green_hosts_tag(self) -> str:
        return self._(self.green_hosts_name)

    @property
    def bluegreen_group(self) -> str:
        return self._("my-app-bluegreen")

    # chapter 05
    @property
    def release_pipeline(self) -> str:
        """Chapter 05's pipeline: dev → staging → prod with approvals (started by hand, not by a push)."""
        return self._("my-app-release")

    @property
    def release_pipeline_role(self) -> str:
        return self._("release-pipeline-role")

    @property
    def release_build_role(self) -> str:
        """The role of chapter 05's scan, smoke-test and configure projects."""
        return self._("release-build-role")

    @property
    def scan_project(self) -> str:
        return self._("my-app-scan")

    @property
    def smoke_test_project(self) -> str:
        return self._("my-app-smoke-test")

    @property
    def configure_project(self) -> str:
        return self._("my-app-configure")

    @property
    def approval_topic(self) -> str:
        return self._("release-approvals")

    @property
    def approval_queue(self) -> str:
        """An SQS queue subscribed to the approval topic: it keeps what a subscriber receives."""
        return self._("release-approvals-inbox")

    def environment_group(self, environment: str) -> str:
        """The deployment group of `environment`; dev is chapter 03's group."""
        return self.deployment_group if environment == "dev" else self._(f"my-app-{environment}")

    def environment_hosts_name(self, environment: str) -> str:
        """The Name tag's suffix of `environment`'s hosts; dev is chapter 03's fleet."""
        return self.hosts_name if environment == "dev" else f"{self.hosts_name}-{environment}"

    def environment_parameter(self, environment: str, key: str = "log-level") -> str:
        """Parameter Store names per environment, like the dev log level: /my-app/<env>/<key>."""
        return f"/my-app/{environment}/{key}"

    # chapter 09
    @property
    def iac_stack(self) -> str:
        """Chapter 09's stack of cloudformation/pipeline.yaml (its resources: `<prefix>-iac-...`)."""
        return self._("iac")

    @property
    def iac_hosts_stack(self) -> str:
        """Chapter 09's stack of cloudformation/hosts.yaml: two hosts for the stack's pipeline."""
        return self._("iac-hosts")

    @property
    def iac_repository(self) -> str:
        return self._("iac-app")

    @property
    def iac_build_project(self) -> str:
        return self._("iac-build")

    @property
    def iac_codedeploy_app(self) -> str:
        return self._("iac-app")

    @property
    def iac_deployment_group(self) -> str:
        """pipeline.yaml's DeploymentGroupName (its default)."""
        return "dev"

    @property
    def iac_pipeline(self) -> str:
        return self._("iac-pipeline")

    @property
    def iac_hosts_tag(self) -> str:
        """The `App` tag value of the stack's hosts (HostTagValue)."""
        return self._("iac-app")

    @property
    def iac_change_set(self) -> str:
        return self._("iac-all-at-once")

    @property
    def iac_rename_change_set(self) -> str:
        """The exercise's change set: reviewed, never executed."""
        return self._("iac-rename-build")

    # chapter 07
    @property
    def pipeline_events_rule(self) -> str:
        """EventBridge rule that copies the pipeline's state-change events into a log group."""
        return self._("pipeline-events")

    @property
    def pipeline_events_group(self) -> str:
        return f"/aws/events/{self.prefix}-pipeline-events"

    @property
    def pipeline_metrics_namespace(self) -> str:
        """Custom metrics the log group's metric filters publish (successes per pipeline and stage)."""
        return f"{self.prefix}/CodePipeline"

    @property
    def alarm_topic(self) -> str:
        return self._("pipeline-alarms")

    @property
    def alarm_queue(self) -> str:
        """An SQS queue subscribed to the alarm topic: it keeps what a subscriber receives."""
        return self._("pipeline-alarms-inbox")

    @property
    def failed_executions_alarm(self) -> str:
        return f"{self.pipeline}-failed-executions"

    @property
    def dashboard(self) -> str:
        return self._("my-app")

    @property
    def drill_role(self) -> str:
        """A copy of the CodeBuild role without Parameter Store access (the missing-permission drill)."""
        return self._("codebuild-drill-role")

    @property
    def drill_hosts_name(self) -> str:
        """The Name tag's suffix of the one host the deployment drill breaks: `Name=<prefix>-drill`."""
        return "drill"

    @property
    def drill_hosts_tag(self) -> str:
        return self._(self.drill_hosts_name)

    @property
    def drill_deployment_group(self) -> str:
        return self._("my-app-drill")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def course_names(lab) -> CourseNames:
    return CourseNames(lab.prefix, lab.account_id, lab.region)
