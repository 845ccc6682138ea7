"""Every AWS action CodeBuild's engine takes on a build's behalf, in one place.

The engine reads and writes moto's backends directly (same process). Keeping each action a
small function here is what lets permission checks against the service role be added later.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from labkit.emulator.codebuild.exceptions import InvalidInputException


class ActionError(Exception):
    """An AWS call the build made failed; `code` is the AWS error name."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _s3(account_id: str):
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def get_object(account_id: str, bucket: str, key: str, version_id: str | None = None) -> bytes:
    try:
        obj = _s3(account_id).get_object(bucket, key, version_id=version_id)
    except Exception as exc:  # moto raises its own NoSuchBucket etc.
        raise ActionError(getattr(exc, "code", type(exc).__name__), str(exc)) from None
    if obj is None:
        raise ActionError("NoSuchKey", f"The specified key does not exist: s3://{bucket}/{key}")
    return obj.value


def object_version(account_id: str, bucket: str, key: str) -> str | None:
    try:
        obj = _s3(account_id).get_object(bucket, key)
    except Exception:
        return None
    version = getattr(obj, "version_id", None)
    return version if version and version != "null" else None


def put_object(account_id: str, bucket: str, key: str, data: bytes) -> None:
    try:
        _s3(account_id).put_object(bucket, key, data)
    except Exception as exc:
        raise ActionError(getattr(exc, "code", type(exc).__name__), str(exc)) from None


def git_pull(bare_repo: Path, dest: Path) -> None:
    """Clone a CodeCommit repository (a bare repo in the state dir) without checking out."""
    done = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", str(bare_repo), str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise ActionError("GitPullFailed", done.stderr.strip()[:500])


def get_parameter(account_id: str, region: str, name: str) -> str:
    from moto.ssm.models import ssm_backends

    try:
        parameter = ssm_backends[account_id][region].get_parameter(name)
    except Exception as exc:
        raise ActionError("ParameterNotFound", str(exc)) from None
    if parameter is None:
        raise ActionError("ParameterNotFound", f"parameter does not exist: {name}")
    return parameter.value


def get_secret_value(
    account_id: str, region: str, secret_id: str, version_stage: str | None, version_id: str | None
) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        value = secretsmanager_backends[account_id][region].get_secret_value(
            secret_id, version_id or None, version_stage or None
        )
    except Exception as exc:
        raise ActionError(
            "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
        ) from exc
    return value.get("SecretString") or ""


def put_log_events(
    account_id: str, region: str, group: str, stream: str, events: list[dict]
) -> None:
    from moto.logs.models import logs_backends

    logs_backends[account_id][region].put_log_events(group, stream, events)


def ensure_log_stream(account_id: str, region: str, group: str, stream: str) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region]
    if group not in backend.groups:
        try:
            backend.create_log_group(group, {})
        except Exception:  # another build of the project created it at the same moment
            pass
    backend.create_log_stream(group, stream)


def put_metric_data(account_id: str, region: str, namespace: str, metric_data: list[dict]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account_id][region].put_metric_data(namespace, metric_data)


def assumable_role_arn(account_id: str, role: str) -> str:
    """The role's ARN if CodeBuild may assume it (it exists and trusts codebuild.amazonaws.com)."""
    from moto.iam.models import iam_backends

    name = role.split(":role/", 1)[1].rsplit("/", 1)[-1] if ":role/" in role else role
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{account_id}:role/{name}"
    refusal = InvalidInputException(
        f"CodeBuild is not authorized to perform: sts:AssumeRole on {arn}"
    )
    try:
        found = iam_backends[account_id]["global"].get_role(name)
    except Exception:
        raise refusal from None
    if not _trusts_codebuild(found.assume_role_policy_document):
        raise refusal
    return found.arn


def _trusts_codebuild(document) -> bool:
    from urllib.parse import unquote

    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if "codebuild.amazonaws.com" in services or principal == "*":
            return True
    return False


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
