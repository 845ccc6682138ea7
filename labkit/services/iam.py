"""IAM roles the chapters create: each trusts one service and has one least-privilege inline policy."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.names import CourseNames

POLICY_NAME = "least-privilege"


def trust_policy(service: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def ensure_service_role(lab, name: str, service: str, policy: dict, description: str) -> str:
    """Create the role if it is missing and (re)write its inline policy; return its ARN."""
    iam = lab.client("iam")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy(service)),
                               Description=description, Tags=lab.tags.as_list())["Role"]
    iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
    return role["Arn"]


def statement(actions: list[str], resources: list[str]) -> dict:
    """One Allow statement: these actions on these resources."""
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def codebuild_policy(names: CourseNames, projects: list[str] | None = None) -> dict:
    """What a build of the sample app needs, and nothing more."""
    projects = projects or [names.build_project, names.pipeline_build_project, names.secrets_demo_project]
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"
    return {"Version": "2012-10-17", "Statement": [
        statement(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                   [names.arn("logs", f"log-group:/aws/codebuild/{p}:*") for p in projects]),
        statement(["codecommit:GitPull"], [names.arn("codecommit", names.repository)]),
        statement(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], [f"{bucket}/*"]),
        statement(["s3:GetBucketLocation", "s3:GetBucketAcl"], [bucket]),
        statement(["ssm:GetParameters"], [names.arn("ssm", "parameter/my-app/dev/*")]),
        statement(["secretsmanager:GetSecretValue"],
                   [names.arn("secretsmanager", f"secret:{names.api_token_secret}-*")]),
        statement(["codebuild:CreateReportGroup", "codebuild:CreateReport", "codebuild:UpdateReport",
                    "codebuild:BatchPutTestCases"],
                   [names.arn("codebuild", f"report-group/{p}-*") for p in projects]),
    ]}


def codedeploy_policy(names: CourseNames) -> dict:
    """What CodeDeploy needs to find instances by tag for an in-place deployment."""
    return {"Version": "2012-10-17", "Statement": [
        statement(["ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "tag:GetResources"], ["*"]),
    ]}


def codepipeline_policy(names: CourseNames, projects: list[str] | None = None,
                        groups: list[str] | None = None) -> dict:
    """Read the repository, use the artifact bucket, run the builds, start the deployments
    (default: chapter 04's one build project and the dev deployment group)."""
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"
    projects = projects or [names.pipeline_build_project]
    groups = groups or [names.deployment_group]
    return {"Version": "2012-10-17", "Statement": [
        statement(["codecommit:GetBranch", "codecommit:GetCommit", "codecommit:GetRepository",
                    "codecommit:UploadArchive", "codecommit:GetUploadArchiveStatus",
                    "codecommit:CancelUploadArchive"], [names.arn("codecommit", names.repository)]),
        statement(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], [f"{bucket}/*"]),
        statement(["s3:GetBucketVersioning", "s3:GetBucketLocation"], [bucket]),
        statement(["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                   [names.arn("codebuild", f"project/{p}") for p in projects]),
        statement(["codedeploy:CreateDeployment", "codedeploy:GetDeployment",
                    "codedeploy:GetApplication", "codedeploy:GetApplicationRevision",
                    "codedeploy:RegisterApplicationRevision", "codedeploy:GetDeploymentConfig"],
                   [names.arn("codedeploy", f"application:{names.codedeploy_app}"),
                    *[names.arn("codedeploy", f"deploymentgroup:{names.codedeploy_app}/{g}") for g in groups],
                    names.arn("codedeploy", "deploymentconfig:*")]),
    ]}


def events_policy(names: CourseNames) -> dict:
    """EventBridge may start this one pipeline."""
    return {"Version": "2012-10-17", "Statement": [
        statement(["codepipeline:StartPipelineExecution"], [names.arn("codepipeline", names.pipeline)])]}


def policy_table(policy: dict):
    """The policy's statements as a table: actions and resources, one row per statement."""
    import pandas as pd

    rows = [{"effect": s["Effect"], "actions": ", ".join(s["Action"]),
             "resources": ", ".join(s["Resource"])} for s in policy["Statement"]]
    return pd.DataFrame(rows, columns=["effect", "actions", "resources"])


def retry_while_role_propagates(lab, call: Callable[[], object], timeout: float = 60) -> object:
    """Run `call`; on AWS a new role takes a few seconds to be usable, so retry that one error."""
    deadline = time.monotonic() + (timeout if lab.backend == "aws" else 0)
    while True:
        try:
            return call()
        except Exception as exc:  # boto3 raises per-service ClientError subclasses
            message = str(exc)
            propagating = "AssumeRole" in message or "assume role" in message.lower()
            if not propagating or time.monotonic() > deadline:
                raise
            time.sleep(3)


# AWS's AccessDenied sentence, wherever it is embedded (a build phase context, a pipeline
# action's errorDetails, a CodeDeploy diagnostic, a botocore ClientError).
_DENIED = re.compile(
    r"(?:User|Principal): (?P<principal>arn:\S+?) is not authorized to perform: "
    r"(?P<action>[\w-]+:[\w*]+)(?: on resource: \"?(?P<resource>[^\s\"]+?)\"?)?"
    r"(?= because| with an explicit deny|\.?\s*$|\.?\s*[(\n])(?P<rest>.*)",
    re.DOTALL,
)


@dataclass(frozen=True)
class DeniedAction:
    """What an AccessDenied message says: who (the role) lacked which action on which resource."""

    role: str
    action: str
    resource: str
    explicit_deny: bool
    statement: dict  # the policy statement that would allow it

    def __str__(self) -> str:
        verb = "is denied (an explicit Deny wins over any Allow)" if self.explicit_deny else "lacks"
        return (f"role {self.role} {verb} action {self.action} on resource {self.resource}.\n"
                f"A statement that would allow it:\n{json.dumps(self.statement, indent=2)}")


def explain_denied(error) -> DeniedAction:
    """Turn an AccessDenied message, a botocore ClientError or an errorDetails dict into who lacks what.

    `str()` of the result reads "role X lacks action Y on resource Z" followed by the policy
    statement that would allow it (with an explicit Deny, that statement must go too).
    """
    text = _message_of(error)
    match = _DENIED.search(text)
    if not match:
        raise ValueError(f"This is not an AccessDenied message: {text[:300]!r}")
    principal = match.group("principal")
    # arn:aws:sts::<account>:assumed-role/<role>/<session> → the role; users and roles as they are.
    role = principal
    assumed = re.match(r"arn:aws[\w-]*:sts::\d{12}:assumed-role/([^/]+)/", principal)
    if assumed:
        role = assumed.group(1)
    resource = match.group("resource") or "*"
    statement = {"Effect": "Allow", "Action": match.group("action"), "Resource": resource}
    return DeniedAction(role=role, action=match.group("action"), resource=resource,
                        explicit_deny="explicit deny" in match.group("rest").lower(),
                        statement=statement)


def _message_of(error) -> str:
    if isinstance(error, str):
        return error
    if isinstance(error, dict):  # errorDetails {code, message}, a build context, a diagnostics dict
        for key in ("message", "Message", "errorMessage"):
            if isinstance(error.get(key), str):
                return error[key]
        return json.dumps(error)
    response = getattr(error, "response", None)  # botocore.exceptions.ClientError
    if isinstance(response, dict):
        message = (response.get("Error") or {}).get("Message")
        if message:
            return message
    return str(error)


# chapter 06
TRAFFIC_CONTROL_POLICY_NAME = "traffic-control"


def traffic_control_policy(names: CourseNames) -> dict:
    """What CodeDeploy needs, beyond finding instances, to move them in and out of the course's
    target group (in-place with traffic control, and blue/green)."""
    target_group = names.arn("elasticloadbalancing", f"targetgroup/{names.target_group}/*")
    return {"Version": "2012-10-17", "Statement": [
        # Describe* calls cannot be scoped to a resource: AWS requires "*" for them.
        statement(["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"],
                   ["*"]),
        statement(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                   [target_group]),
    ]}


def role_permissions_table(lab, roles: list[str]):
    """What each role may do, read from IAM: one row per statement of its inline policies, and one
    per attached managed policy (by name: its document is AWS's, often much wider)."""
    import pandas as pd

    iam = lab.client("iam")
    rows = []
    for role in roles:
        trusted = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
        service = trusted.get("Principal", {}).get("Service", "")
        for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
            if isinstance(document, str):  # moto answers a string, AWS a decoded document
                document = json.loads(document)
            for statement in document["Statement"]:
                actions, resources = statement["Action"], statement["Resource"]
                rows.append({"role": role, "trusts": service, "policy": policy_name,
                             "effect": statement["Effect"],
                             "actions": ", ".join(actions if isinstance(actions, list) else [actions]),
                             "resources": ", ".join(resources if isinstance(resources, list) else [resources])})
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            rows.append({"role": role, "trusts": service, "policy": attached["PolicyName"] + " (managed)",
                         "effect": "Allow", "actions": "(AWS managed)", "resources": attached["PolicyArn"]})
    return pd.DataFrame(rows, columns=["role", "trusts", "policy", "effect", "actions", "resources"])
