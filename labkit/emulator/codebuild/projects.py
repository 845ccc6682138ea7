"""Project definitions checked as CodeBuild checks them, and normalised to the API's Project shape."""

from __future__ import annotations

import re

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.exceptions import InvalidInputException

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$")
_LOCATION_REQUIRED = {
    "CODECOMMIT",
    "S3",
    "GITHUB",
    "GITHUB_ENTERPRISE",
    "BITBUCKET",
    "GITLAB",
    "GITLAB_SELF_MANAGED",
}
_RUNNABLE_SOURCES = {"CODECOMMIT", "S3", "CODEPIPELINE", "NO_SOURCE"}
_COMPUTE_FOR_TYPE = {
    "LINUX_CONTAINER": {
        "BUILD_GENERAL1_SMALL",
        "BUILD_GENERAL1_MEDIUM",
        "BUILD_GENERAL1_LARGE",
        "BUILD_GENERAL1_XLARGE",
        "BUILD_GENERAL1_2XLARGE",
    },
    "ARM_CONTAINER": {
        "BUILD_GENERAL1_SMALL",
        "BUILD_GENERAL1_MEDIUM",
        "BUILD_GENERAL1_LARGE",
        "BUILD_GENERAL1_XLARGE",
        "BUILD_GENERAL1_2XLARGE",
    },
    "LINUX_GPU_CONTAINER": {"BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE"},
    "LINUX_LAMBDA_CONTAINER": {
        "BUILD_LAMBDA_1GB",
        "BUILD_LAMBDA_2GB",
        "BUILD_LAMBDA_4GB",
        "BUILD_LAMBDA_8GB",
        "BUILD_LAMBDA_10GB",
    },
    "ARM_LAMBDA_CONTAINER": {
        "BUILD_LAMBDA_1GB",
        "BUILD_LAMBDA_2GB",
        "BUILD_LAMBDA_4GB",
        "BUILD_LAMBDA_8GB",
        "BUILD_LAMBDA_10GB",
    },
}
DEFAULT_TIMEOUT, DEFAULT_QUEUED_TIMEOUT = 60, 480


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidInputException(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
            r"Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9\-_]{1,254}"
        )


def check_source(source: dict, what: str = "source") -> None:
    kind = source.get("type")
    if kind not in _RUNNABLE_SOURCES:
        raise InvalidInputException(
            f"Source type {kind} is not supported by labkit's emulator; use CODECOMMIT, S3, "
            "CODEPIPELINE or NO_SOURCE"
        )
    if kind in _LOCATION_REQUIRED and not source.get("location"):
        raise InvalidInputException(f"Invalid {what}: location is required for source type {kind}")
    if kind == "NO_SOURCE" and not (source.get("buildspec") or "").strip():
        raise InvalidInputException(
            "Invalid source: buildspec cannot be empty for NO_SOURCE source type"
        )
    if kind in ("NO_SOURCE", "CODEPIPELINE") and source.get("location"):
        raise InvalidInputException(
            f"Invalid {what}: location must not be set for source type {kind}"
        )
    if kind == "S3" and "/" not in source["location"].strip("/"):
        raise InvalidInputException(
            f"Invalid {what}: location must be a valid S3 source location: bucket-name/path/to/object.zip"
        )


def check_artifacts(artifacts: dict, what: str = "artifacts") -> None:
    kind = artifacts.get("type")
    if kind == "S3":
        if not artifacts.get("location"):
            raise InvalidInputException(
                f"Invalid {what}: location is required for artifacts type S3"
            )
        if not artifacts.get("name") and not artifacts.get("overrideArtifactName"):
            raise InvalidInputException(f"Invalid {what}: name is required for artifacts type S3")
    elif kind in ("NO_ARTIFACTS", "CODEPIPELINE"):
        for key in ("location", "path", "name"):
            if artifacts.get(key):
                raise InvalidInputException(
                    f"Invalid {what}: {key} must not be set for artifacts type {kind}"
                )


def check_environment(environment: dict) -> None:
    kind, compute = environment.get("type"), environment.get("computeType")
    allowed = _COMPUTE_FOR_TYPE.get(kind)
    if allowed is None:
        raise InvalidInputException(
            f"Environment type {kind} is not supported by labkit's emulator; "
            "use LINUX_CONTAINER or ARM_CONTAINER"
        )
    if compute not in allowed:
        raise InvalidInputException(f"Invalid compute type {compute} for environment type {kind}")
    check_variables(environment.get("environmentVariables", []))


def check_variables(variables: list[dict]) -> None:
    for variable in variables:
        if variable["name"].startswith("CODEBUILD_"):
            raise InvalidInputException(
                f"Invalid environment variable name {variable['name']}: names starting with "
                "CODEBUILD_ are reserved"
            )


def check_cache(cache: dict) -> None:
    kind = cache.get("type")
    if kind == "S3" and not cache.get("location"):
        raise InvalidInputException("Invalid cache: location is required for cache type S3")
    if kind == "LOCAL" and not cache.get("modes"):
        raise InvalidInputException("Invalid cache: modes is required for cache type LOCAL")
    if kind == "NO_CACHE" and (cache.get("location") or cache.get("modes")):
        raise InvalidInputException(
            "Invalid cache: location and modes must not be set for NO_CACHE"
        )


def check_timeout(value: int | None, name: str, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInputException(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have value between {low} and {high}"
        )


def check_logs(logs: dict) -> None:
    s3 = logs.get("s3Logs") or {}
    if s3.get("status") == "ENABLED" and not s3.get("location"):
        raise InvalidInputException("Invalid logs config: s3Logs location is required when enabled")


def normalise(params: dict, account_id: str, region: str, existing: dict | None = None) -> dict:
    """The Project to store: `existing` updated with `params`, checked whole before it is kept."""
    project = dict(existing or {})
    for key, value in params.items():
        if key != "name":
            project[key] = value
    source, artifacts = project.get("source") or {}, project.get("artifacts") or {}
    check_source(source)
    for extra in project.get("secondarySources", []):
        check_source(extra, "secondary source")
        if not extra.get("sourceIdentifier"):
            raise InvalidInputException("Invalid secondary source: sourceIdentifier is required")
    check_artifacts(artifacts)
    for extra in project.get("secondaryArtifacts", []):
        check_artifacts(extra, "secondary artifacts")
        if not extra.get("artifactIdentifier"):
            raise InvalidInputException(
                "Invalid secondary artifacts: artifactIdentifier is required"
            )
    if (source.get("type") == "CODEPIPELINE") != (artifacts.get("type") == "CODEPIPELINE"):
        raise InvalidInputException(
            "Invalid input: when the source type or the artifacts type is CODEPIPELINE, both must be CODEPIPELINE"
        )
    check_environment(project.get("environment") or {})
    project.setdefault("cache", {"type": "NO_CACHE"})
    check_cache(project["cache"])
    check_timeout(project.get("timeoutInMinutes"), "timeoutInMinutes", 5, 2160)
    check_timeout(project.get("queuedTimeoutInMinutes"), "queuedTimeoutInMinutes", 5, 480)
    check_logs(project.get("logsConfig") or {})
    project["serviceRole"] = aws_actions.assumable_role_arn(
        account_id, project.get("serviceRole", "")
    )
    project.setdefault("timeoutInMinutes", DEFAULT_TIMEOUT)
    project.setdefault("queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT)
    project.setdefault("encryptionKey", f"arn:aws:kms:{region}:{account_id}:alias/aws/s3")
    project.setdefault("tags", [])
    project.setdefault("secondarySources", [])
    project.setdefault("secondaryArtifacts", [])
    project.setdefault("secondarySourceVersions", [])
    project.setdefault(
        "logsConfig",
        {
            "cloudWatchLogs": {"status": "ENABLED"},
            "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
        },
    )
    project["environment"].setdefault("environmentVariables", [])
    project["environment"].setdefault("privilegedMode", False)
    project["environment"].setdefault("imagePullCredentialsType", "CODEBUILD")
    if "badgeEnabled" in project:
        project["badge"] = {"badgeEnabled": bool(project.pop("badgeEnabled"))}
    project.setdefault("badge", {"badgeEnabled": False})
    project.setdefault("projectVisibility", "PRIVATE")
    if source.get("type") == "CODECOMMIT":
        source.setdefault("gitCloneDepth", 1)
        source.setdefault("gitSubmodulesConfig", {"fetchSubmodules": False})
    source.setdefault("insecureSsl", False)
    return project
