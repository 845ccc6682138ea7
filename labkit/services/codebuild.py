"""CodeBuild helpers: wait for a build with a progress bar, its phases as a table, its log."""

from __future__ import annotations

import pandas as pd

from labkit.progress import Progress, poll

PHASES = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD",
          "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]


def get_build(lab, build_id: str) -> dict:
    return lab.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]


def wait_for_build(lab, build_id: str, timeout: float = 1800) -> dict:
    """Follow a build phase by phase until it completes; return the final build."""
    with Progress(len(PHASES), f"Build {build_id}", unit="phase") as bar:
        def complete():
            build = get_build(lab, build_id)
            phase = build.get("currentPhase", "SUBMITTED")
            bar.update(PHASES.index(phase) if phase in PHASES else 0, phase)
            return build if build.get("buildComplete") else None

        build = poll(complete, timeout, interval=0.5, what=f"build {build_id}")
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
