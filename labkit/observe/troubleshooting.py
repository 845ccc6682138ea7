"""Chapter 07's troubleshooting drills: wait for many failing runs at once, read each one's symptom
where AWS reports it, and say where to look and how to fix it; and wait for an alarm's SNS message."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd

from labkit.progress import Progress, poll
from labkit.services.codebuild import failure_reason

# For each failure the article lists: where its evidence is, and the fix. The symptom itself is
# read from the run (see build_symptom / deployment_symptom), never written here.
GUIDE: dict[str, dict[str, str]] = {
    "dependency install error": {
        "where": "INSTALL phase context; the build log's `npm error` lines",
        "fix": "run `npm install` locally so package-lock.json matches package.json; commit both",
    },
    "test failure": {
        "where": "BUILD phase context; the test report (report group <project>-unit-tests); the log",
        "fix": "fix the code or the test and push: the fix travels as a new pipeline execution",
    },
    "buildspec syntax error": {
        "where": "DOWNLOAD_SOURCE phase context (YAML_FILE_ERROR names the line)",
        "fix": "correct the YAML (indentation); parse buildspec.yml before pushing",
    },
    "missing permission": {
        "where": "the phase context's AccessDenied: role, action and resource (iam.explain_denied)",
        "fix": "allow that action on that resource in the service role; retry, no commit needed",
    },
    "deployment script error": {
        "where": "the instance's lifecycle events: error code, script and log tail "
                 "(batch-get-deployment-targets); on EC2 the agent's deployment log",
        "fix": "fix the script or the bundle it checks (tools/bundle.sh carries node_modules); deploy again",
    },
    "agent not running (AWS only)": {
        "where": "SSM Run Command: `systemctl status codedeploy-agent`; "
                 "/var/log/aws/codedeploy-agent/codedeploy-agent.log",
        "fix": "`sudo systemctl enable --now codedeploy-agent`; check the instance profile and "
               "outbound HTTPS to CodeDeploy and S3",
    },
    "timeout": {
        "where": "the phase marked TIMED_OUT and the last command in the log before it",
        "fix": "make the hanging command finish (no prompts, no waits on unreachable services); "
               "raise timeoutInMinutes (5-2160) only for work that is really long",
    },
}

# What AWS shows when the CodeDeploy agent does not run: nothing a local host can reproduce (the
# emulator's hosts always run their agent), so the symptom is described, not read from a run.
AGENT_NOT_RUNNING = ("lifecycle events stay Pending; after CodeDeploy's one-hour wait for the agent "
                     "the instance fails and the deployment fails with HEALTH_CONSTRAINTS")


def build_symptom(build: dict) -> str:
    """`PHASE: STATUS_CODE message` of the build's first failed phase (or its status)."""
    found = failure_reason(build)
    if not found:
        return build.get("buildStatus", "")
    phase, message = found
    for record in build.get("phases", []):
        if record["phaseType"] == phase:
            code = ((record.get("contexts") or [{}])[0]).get("statusCode", "")
            return f"{phase}: {code} {message}".strip()
    return f"{phase}: {message}"


def deployment_symptom(lab, deployment_id: str) -> str:
    """`EVENT: errorCode <last stderr line of the log tail>` of the deployment's first failed event."""
    client = lab.client("codedeploy")
    info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    ids = client.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    targets = client.batch_get_deployment_targets(
        deploymentId=deployment_id, targetIds=ids)["deploymentTargets"] if ids else []
    for target in targets:
        for event in (target.get("instanceTarget") or {}).get("lifecycleEvents", []):
            if event.get("status") == "Failed":
                diagnostics = event.get("diagnostics") or {}
                tail = (diagnostics.get("logTail") or "").strip().splitlines()
                # The agent reads stdout and stderr from two pipes, so their lines may interleave
                # either way; the script's last complaint on stderr is the line that explains it.
                errors = [line for line in tail if line.startswith("[stderr]")]
                last = (errors or tail or [diagnostics.get("message", "")])[-1]
                return f"{event['lifecycleEventName']}: {diagnostics.get('errorCode', '')} {last}".strip()
    error = info.get("errorInformation") or {}
    return f"{info['status']}: {error.get('code', '')} {error.get('message', '')}".strip()


def wait_for_runs(lab, builds: dict[str, str] | None = None,
                  deployments: dict[str, str] | None = None,
                  executions: dict[str, tuple[str, str]] | None = None,
                  timeout: float = 900) -> dict[str, dict]:
    """Wait, with one progress bar, until every build id, deployment id and (pipeline, execution
    id) has ended; return the final BatchGetBuilds / GetDeployment / GetPipelineExecution record
    of each, by the key it was given under."""
    builds, deployments, executions = builds or {}, deployments or {}, executions or {}
    codebuild, codedeploy = lab.client("codebuild"), lab.client("codedeploy")
    codepipeline = lab.client("codepipeline")
    total = len(builds) + len(deployments) + len(executions)
    finished: dict[str, dict] = {}

    def check():
        waiting = [k for k in builds if k not in finished]
        if waiting:
            found = codebuild.batch_get_builds(ids=[builds[k] for k in waiting])["builds"]
            by_id = {b["id"]: b for b in found}
            for key in waiting:
                build = by_id.get(builds[key])
                if build and build.get("buildComplete"):
                    finished[key] = build
        for key, deployment_id in deployments.items():
            if key not in finished:
                info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
                if info["status"] in ("Succeeded", "Failed", "Stopped"):
                    finished[key] = info
        for key, (pipeline, execution_id) in executions.items():
            if key not in finished:
                record = codepipeline.get_pipeline_execution(
                    pipelineName=pipeline, pipelineExecutionId=execution_id)["pipelineExecution"]
                if record["status"] not in ("InProgress", "Stopping"):
                    finished[key] = record
        bar.update(len(finished), f"{len(finished)} of {total} ended")
        return len(finished) == total

    with Progress(total, "Runs", unit="run") as bar:
        poll(check, timeout, interval=0.5, what=f"{total} runs",
             last_state=lambda: "with " + ", ".join(sorted(set(builds) | set(deployments)
                                                          | set(executions) - set(finished)))
             + " still running")
        bar.done(f"all {total} ended")
    return finished


def drill_table(rows: list[dict]) -> pd.DataFrame:
    """failure | symptom | where to look | fix, from rows {failure, symptom}, in GUIDE's order."""
    symptoms = {row["failure"]: row["symptom"] for row in rows}
    table = [{"failure": failure, "symptom": symptoms.get(failure, ""),
              "where to look": guide["where"], "fix": guide["fix"]}
             for failure, guide in GUIDE.items() if failure in symptoms]
    return pd.DataFrame(table, columns=["failure", "symptom", "where to look", "fix"])


def wait_for_alarm_message(lab, queue_url: str, alarm: str, state: str = "ALARM",
                           since: datetime | None = None, timeout: float = 300) -> dict:
    """Read the SQS queue subscribed to the alarm's SNS topic until CloudWatch's message about
    `alarm` entering `state` (at or after `since`) arrives; return that message's JSON. Messages
    read are deleted, as a consumer does."""
    sqs = lab.client("sqs")
    since = since or datetime(1970, 1, 1, tzinfo=timezone.utc)

    def arrived():
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            try:
                alarm_message = json.loads(body.get("Message", ""))
            except ValueError:
                continue
            changed = _parse_time(alarm_message.get("StateChangeTime", ""))
            if (alarm_message.get("AlarmName") == alarm
                    and alarm_message.get("NewStateValue") == state
                    and changed is not None and changed >= since.replace(microsecond=0)):
                return {"Subject": body.get("Subject"), **alarm_message}
        return None

    with Progress(1, f"SNS message: {alarm} is {state}") as bar:
        found = poll(arrived, timeout, interval=0.2, what=f"the {state} message of {alarm}")
        bar.done("delivered")
    return found


def _parse_time(text: str) -> datetime | None:
    # CloudWatch writes e.g. 2026-11-26T09:13:41.443+0000
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern).replace(microsecond=0)
        except ValueError:
            continue
    return None
