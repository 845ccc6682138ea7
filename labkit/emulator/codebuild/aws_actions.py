"""Every AWS action CodeBuild's engine takes on a build's behalf, in one place, as the build's role.

The engine reads and writes moto's backends directly (same process). Each action takes the
build's `Identity` (its service role in the session `AWSCodeBuild-<build uuid>`, as AWS names
it) and is checked against that role's policies before it is done; a denied action raises
ActionError with AWS's AccessDenied wording.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.emulator.authorization import (
    AccessDenied,
    RoleNotFound,
    authorize,
    enforcing,
    trusts_service,
)
from labkit.emulator.codebuild.exceptions import InvalidInputException


class ActionError(Exception):
    """An AWS call the build made failed; `code` is the AWS error name."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def denied(self) -> bool:
        return self.code in ("AccessDenied", "AccessDeniedException")


@dataclass(frozen=True)
class Identity:
    """Who a build acts as. Passed explicitly (never a thread-local): logs flush from other threads."""

    account_id: str
    region: str
    role_arn: str
    session: str

    @classmethod
    def for_build(cls, account_id: str, region: str, role_arn: str, build_uuid: str) -> Identity:
        return cls(account_id, region, role_arn, f"AWSCodeBuild-{build_uuid}")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def authorize(self, action: str, resource: str) -> None:
        """Raise ActionError (AccessDenied) unless the role's policies allow `action` on `resource`."""
        # S3 answers "AccessDenied"; the JSON services answer "AccessDeniedException".
        code = "AccessDenied" if action.startswith("s3:") else "AccessDeniedException"
        try:
            authorize(self.account_id, self.role_arn, action, resource, session=self.session)
        except AccessDenied as denied:
            raise ActionError(code, denied.message) from None
        except RoleNotFound:
            raise ActionError(code, assume_role_refusal(self.role_arn)) from None


def assume_role_refusal(role_arn: str) -> str:
    return f"CodeBuild is not authorized to perform: sts:AssumeRole on {role_arn}"


def check_assumable(identity: Identity) -> str | None:
    """Why CodeBuild cannot act as the build's role now (deleted, or no longer trusts it), or None."""
    if not enforcing():
        return None
    try:
        assumable_role_arn(identity.account_id, identity.role_arn)
    except InvalidInputException as refusal:
        return refusal.message
    return None


def _s3(account_id: str):
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def get_object(identity: Identity, bucket: str, key: str, version_id: str | None = None) -> bytes:
    action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
    identity.authorize(action, f"arn:aws:s3:::{bucket}/{key}")
    try:
        obj = _s3(identity.account_id).get_object(bucket, key, version_id=version_id)
    except Exception as exc:  # moto raises its own NoSuchBucket etc.
        raise ActionError(getattr(exc, "code", type(exc).__name__), str(exc)) from None
    if obj is None:
        raise ActionError("NoSuchKey", f"The specified key does not exist: s3://{bucket}/{key}")
    return obj.value


def object_version(identity: Identity, bucket: str, key: str) -> str | None:
    """The version id of an object the build has just read (no further permission needed)."""
    try:
        obj = _s3(identity.account_id).get_object(bucket, key)
    except Exception:
        return None
    version = getattr(obj, "version_id", None)
    return version if version and version != "null" else None


def put_object(identity: Identity, bucket: str, key: str, data: bytes) -> None:
    identity.authorize("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
    try:
        _s3(identity.account_id).put_object(bucket, key, data)
    except Exception as exc:
        raise ActionError(getattr(exc, "code", type(exc).__name__), str(exc)) from None


def git_pull(identity: Identity, bare_repo: Path, dest: Path) -> None:
    """Clone a CodeCommit repository (a bare repo in the state dir) without checking out."""
    repository = bare_repo.name.removesuffix(".git")
    identity.authorize("codecommit:GitPull", identity.arn("codecommit", repository))
    done = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", str(bare_repo), str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise ActionError("GitPullFailed", done.stderr.strip()[:500])


def get_parameter(identity: Identity, name: str) -> str:
    from moto.ssm.models import ssm_backends

    # CodeBuild reads parameter-store variables with GetParameters (plural), as its role needs.
    identity.authorize("ssm:GetParameters", parameter_arn(identity, name))
    try:
        parameter = ssm_backends[identity.account_id][identity.region].get_parameter(name)
    except Exception as exc:
        raise ActionError("ParameterNotFound", str(exc)) from None
    if parameter is None:
        raise ActionError("ParameterNotFound", f"parameter does not exist: {name}")
    return parameter.value


def parameter_arn(identity: Identity, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return identity.arn("ssm", f"parameter/{name.lstrip('/')}")


def get_secret_value(
    identity: Identity, secret_id: str, version_stage: str | None, version_id: str | None
) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[identity.account_id][identity.region]
    identity.authorize("secretsmanager:GetSecretValue", _secret_arn(identity, backend, secret_id))
    try:
        value = backend.get_secret_value(
            secret_id, version_id or None, version_stage or None
        )
    except Exception as exc:
        raise ActionError(
            "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
        ) from exc
    return value.get("SecretString") or ""


def _secret_arn(identity: Identity, backend, secret_id: str) -> str:
    """The secret's full ARN (with its random suffix), which is what policies name."""
    secret = backend.secrets.get(secret_id)  # moto's store finds names, full and partial ARNs
    if secret is not None:
        return secret.arn
    return secret_id if secret_id.startswith("arn:") else identity.arn(
        "secretsmanager", f"secret:{secret_id}")


def log_stream_arn(identity: Identity, group: str, stream: str) -> str:
    return identity.arn("logs", f"log-group:{group}:log-stream:{stream}")


def put_log_events(identity: Identity, group: str, stream: str, events: list[dict]) -> None:
    from moto.logs.models import logs_backends

    identity.authorize("logs:PutLogEvents", log_stream_arn(identity, group, stream))
    logs_backends[identity.account_id][identity.region].put_log_events(group, stream, events)


def ensure_log_stream(identity: Identity, group: str, stream: str) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[identity.account_id][identity.region]
    if group not in backend.groups:
        # IAM sees a log group as `log-group:<name>:*` (the ARN DescribeLogGroups returns).
        identity.authorize("logs:CreateLogGroup", identity.arn("logs", f"log-group:{group}:*"))
        try:
            backend.create_log_group(group, {})
        except Exception:  # another build of the project created it at the same moment
            pass
    identity.authorize("logs:CreateLogStream", log_stream_arn(identity, group, stream))
    backend.create_log_stream(group, stream)


def report_group(identity: Identity, backend, name: str, tags: list[dict] | None):
    """The build's report group, created (codebuild:CreateReportGroup) when it is new."""
    arn = name if name.startswith("arn:") else identity.arn("codebuild", f"report-group/{name}")
    with backend.lock:
        exists = arn in backend.report_groups
    if not exists:
        identity.authorize("codebuild:CreateReportGroup", arn)
    return backend.report_group_for(name, tags)


def put_report(identity: Identity, backend, group, build):
    """A report with its test cases: CreateReport, BatchPutTestCases and UpdateReport on the group."""
    for action in ("codebuild:CreateReport", "codebuild:BatchPutTestCases", "codebuild:UpdateReport"):
        identity.authorize(action, group.arn)
    return backend.add_report(group, build)


def put_metric_data(account_id: str, region: str, namespace: str, metric_data: list[dict]) -> None:
    # AWS/CodeBuild metrics are published by the service itself, not by the build's role.
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account_id][region].put_metric_data(namespace, metric_data)


def assumable_role_arn(account_id: str, role: str) -> str:
    """The role's ARN if CodeBuild may assume it (it exists and trusts codebuild.amazonaws.com)."""
    from moto.iam.models import iam_backends

    name = role.split(":role/", 1)[1].rsplit("/", 1)[-1] if ":role/" in role else role
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{account_id}:role/{name}"
    refusal = InvalidInputException(assume_role_refusal(arn))
    try:
        found = iam_backends[account_id]["global"].get_role(name)
    except Exception:
        raise refusal from None
    if not trusts_service(found.assume_role_policy_document, "codebuild.amazonaws.com"):
        raise refusal
    return found.arn


def initiator_for(account_id: str, access_key: str | None) -> str:
    """Who started a build, as CodeBuild reports it: the IAM user name when the key has one.

    labkit's pipeline engine calls StartBuild in-process with the access key
    `codepipeline/<pipeline name>`, which is CodeBuild's initiator for pipeline builds.
    """
    if access_key and access_key.startswith("codepipeline/"):
        return access_key
    if access_key:
        try:
            from moto.iam.models import iam_backends

            user = iam_backends[account_id]["global"].get_user_from_access_key_id(access_key)
            if user is not None:
                return user.name
        except Exception:
            pass
    return "labkit-user"


def now_ms() -> int:
    return int(time.time() * 1000)
