"""CodeBuild helpers: wait for a build with a progress bar, its phases as a table, its log."""

from __future__ import annotations

import pandas as pd

from labkit.aws_names import CODEBUILD_PHASES
from labkit.progress import Progress, poll

PHASES = list(CODEBUILD_PHASES)


def get_build(lab, build_id: str) -> dict:
    return lab.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]


def wait_for_build(lab, build_id: str, timeout: float = 1800) -> dict:
    """Follow a build phase by phase until it completes; return the final build."""
    with Progress(len(PHASES), f"Build {build_id}", unit="phase") as bar:
        seen = {"state": "not yet started"}

        def complete():
            build = get_build(lab, build_id)
            phase = build.get("currentPhase", "SUBMITTED")
            seen["state"] = f"in phase {phase} ({build.get('buildStatus')})"
            bar.update(PHASES.index(phase) if phase in PHASES else 0, phase)
            return build if build.get("buildComplete") else None

        build = poll(complete, timeout, interval=0.5, what=f"build {build_id}",
                     last_state=lambda: seen["state"])
        bar.done(build["buildStatus"])
    return build


def phases_table(build: dict) -> pd.DataFrame:
    """One row per phase: status, seconds, and the reason when it failed."""
    rows = []
    for phase in build.get("phases", []):
        context = (phase.get("contexts") or [{}])[0]
        running = "endTime" not in phase and phase["phaseType"] != "COMPLETED"
        rows.append({
            "phase": phase["phaseType"],
            "status": phase.get("phaseStatus", "IN_PROGRESS" if running else ""),
            "seconds": phase.get("durationInSeconds"),
            "reason": " ".join(filter(None, [context.get("statusCode"), context.get("message")])),
        })
    return pd.DataFrame(rows, columns=["phase", "status", "seconds", "reason"])


def build_log(lab, build: dict, last: int | None = None) -> str:
    """The build's CloudWatch Logs stream as text (the last `last` lines if given)."""
    logs = build.get("logs") or {}
    group, stream = logs.get("groupName"), logs.get("streamName")
    if not group or not stream:
        return "(this build has no CloudWatch Logs stream)"
    client = lab.client("logs")
    lines, token = [], None
    while True:
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        lines += [e["message"].rstrip("\n") for e in page["events"]]
        if not page["events"] or page.get("nextForwardToken") == token:
            break
        token = page.get("nextForwardToken")
    return "\n".join(lines[-last:] if last else lines)


IMAGE = "aws/codebuild/standard:7.0"


def project_definition(lab, names, role_arn: str, cache: bool = True) -> dict:
    """The sample app's build project: CodeCommit source, zipped artifact in S3, LOCAL npm cache."""
    return {
        "name": names.build_project,
        "description": "Builds, tests and bundles my-app",
        "source": {"type": "CODECOMMIT", "location": _clone_url(lab, names.repository),
                   "buildspec": "buildspec.yml"},
        "artifacts": {"type": "S3", "location": names.artifact_bucket, "path": "builds",
                      "name": "my-app.zip", "packaging": "ZIP", "namespaceType": "NONE"},
        "environment": {"type": "LINUX_CONTAINER", "image": IMAGE,
                        "computeType": "BUILD_GENERAL1_SMALL"},
        "cache": ({"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]} if cache else {"type": "NO_CACHE"}),
        "serviceRole": role_arn,
        "timeoutInMinutes": 15,
        "tags": lab.tags.as_list(key="key", value="value"),
    }


def pipeline_project_definition(lab, names, role_arn: str) -> dict:
    """The same build for CodePipeline: the pipeline hands in the source and takes the artifact."""
    definition = project_definition(lab, names, role_arn)
    definition.update(name=names.pipeline_build_project,
                      description="Builds my-app inside the pipeline",
                      source={"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
                      artifacts={"type": "CODEPIPELINE"})
    return definition


def _clone_url(lab, repository: str) -> str:
    return lab.client("codecommit").get_repository(
        repositoryName=repository)["repositoryMetadata"]["cloneUrlHttp"]


def ensure_project(lab, definition: dict) -> str:
    """Create the project, or update it to `definition` when it exists; return 'created' or 'updated'."""
    client = lab.client("codebuild")
    try:
        client.create_project(**definition)
        return "created"
    except client.exceptions.ResourceAlreadyExistsException:
        client.update_project(**definition)
        return "updated"


def latest_build(lab, project: str, status: str | None = None) -> dict | None:
    """The newest build of `project` (with `status` if given), or None."""
    client = lab.client("codebuild")
    ids = client.list_builds_for_project(projectName=project, sortOrder="DESCENDING").get("ids", [])
    for start in range(0, len(ids), 100):
        for build in client.batch_get_builds(ids=ids[start:start + 100])["builds"]:
            if build.get("buildComplete") and (status is None or build["buildStatus"] == status):
                return build
    return None


def build_summary(build: dict) -> pd.DataFrame:
    """Status, source commit, duration and artifact of a build, as a two-column table."""
    seconds = None
    if build.get("startTime") and build.get("endTime"):
        seconds = round((build["endTime"] - build["startTime"]).total_seconds())
    exported = {v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables", [])}
    rows = {"status": build.get("buildStatus"), "build number": build.get("buildNumber"),
            "source version": (build.get("resolvedSourceVersion") or "")[:7],
            "duration": f"{seconds} s" if seconds is not None else "", "artifact": (build.get("artifacts") or {}).get("location", ""),
            **{f"exported {k}": v for k, v in exported.items()}}
    return pd.DataFrame({"field": list(rows), "value": [str(v) for v in rows.values()]})


def report_table(lab, build: dict) -> pd.DataFrame:
    """The build's test cases: name, status and seconds."""
    client = lab.client("codebuild")
    rows = []
    for report_arn in build.get("reportArns", []):
        kwargs = {"reportArn": report_arn}
        while True:
            page = client.describe_test_cases(**kwargs)
            rows += [{"test": c.get("name"), "status": c.get("status"),
                      "ms": round(c.get("durationInNanoSeconds", 0) / 1e6)}
                     for c in page.get("testCases", [])]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return pd.DataFrame(rows, columns=["test", "status", "ms"])


def failure_reason(build: dict) -> tuple[str, str] | None:
    """(phase, reason) of the first failed phase, from its context; None if nothing failed."""
    for phase in build.get("phases", []):
        if phase.get("phaseStatus") in ("FAILED", "FAULT", "TIMED_OUT"):
            context = (phase.get("contexts") or [{}])[0]
            return phase["phaseType"], context.get("message", "")
    return None
