"""What a build tells the world: EventBridge state and phase events, CloudWatch metrics at the end."""

from __future__ import annotations

import json
import logging

from labkit.emulator.codebuild import aws_actions

log = logging.getLogger("labkit.emulator.codebuild")
_PHASE_METRICS = {
    "SUBMITTED": "SubmittedDuration",
    "QUEUED": "QueuedDuration",
    "PROVISIONING": "ProvisioningDuration",
    "DOWNLOAD_SOURCE": "DownloadSourceDuration",
    "INSTALL": "InstallDuration",
    "PRE_BUILD": "PreBuildDuration",
    "BUILD": "BuildDuration",
    "POST_BUILD": "PostBuildDuration",
    "UPLOAD_ARTIFACTS": "UploadArtifactsDuration",
    "FINALIZING": "FinalizingDuration",
}


def _event_time(value) -> str:
    # CodeBuild's events write times like "Sep 1, 2017 4:12:29 PM".
    return value.strftime("%b %-d, %Y %-I:%M:%S %p") if value else ""


class BuildNotifier:
    def __init__(self, runtime, backend, build):
        self.runtime, self.backend, self.build = runtime, backend, build

    def _additional_information(self, final: bool = False) -> dict:
        build, project = self.build, self.build.project
        with self.backend.lock:
            phases = [
                {
                    "phase-type": p["phaseType"],
                    "phase-status": p.get("phaseStatus"),
                    "start-time": _event_time(p.get("startTime")),
                    "end-time": _event_time(p.get("endTime")),
                    "duration-in-seconds": p.get("durationInSeconds"),
                    "phase-context": [
                        f"{c['statusCode']}: {c['message']}" for c in p.get("contexts", [])
                    ],
                }
                for p in build.phases
            ]
        info = {
            "artifact": dict(build.artifacts) if build.artifacts else {},
            "environment": {
                "image": project["environment"]["image"],
                "privileged-mode": project["environment"].get("privilegedMode", False),
                "compute-type": project["environment"]["computeType"],
                "type": project["environment"]["type"],
                "environment-variables": [
                    {
                        "name": v["name"],
                        "type": v.get("type", "PLAINTEXT"),
                        "value": v.get("value", ""),
                    }
                    for v in project["environment"].get("environmentVariables", [])
                ],
            },
            "timeout-in-minutes": project["timeoutInMinutes"],
            "build-complete": final or build.complete,
            "initiator": build.initiator,
            "build-start-time": _event_time(build.start_time),
            "source": project["source"],
            "logs": {
                "group-name": build.logs.get("groupName"),
                "stream-name": build.logs.get("streamName"),
                "deep-link": build.logs.get("deepLink"),
            },
            "phases": phases,
        }
        if build.source_version:
            info["source-version"] = build.source_version
        return info

    def _put(self, detail_type: str, detail: dict) -> None:
        try:
            self.runtime.events.put_event(
                self.backend.account_id,
                self.backend.region,
                "aws.codebuild",
                detail_type,
                detail,
                [self.build.arn],
            )
        except Exception as exc:  # events are best effort; a broken rule must not break the build
            log.warning("could not send %s for %s: %s", detail_type, self.build.id, exc)

    def state_change(self, final: bool = False) -> None:
        build = self.build
        last = build.phases[-1] if build.phases else {}
        self._put(
            "CodeBuild Build State Change",
            {
                "build-status": build.status,
                "project-name": build.project_name,
                "build-id": build.arn,
                "additional-information": self._additional_information(final),
                "current-phase": build.current_phase,
                "current-phase-context": json.dumps(
                    [c["message"] for c in last.get("contexts", [])]
                ),
                "version": "1",
            },
        )

    def phase_change(self, record: dict) -> None:
        build = self.build
        self._put(
            "CodeBuild Build Phase Change",
            {
                "completed-phase": record["phaseType"],
                "project-name": build.project_name,
                "build-id": build.arn,
                "completed-phase-context": json.dumps(
                    [f"{c['statusCode']}: {c['message']}" for c in record.get("contexts", [])]
                ),
                "additional-information": self._additional_information(),
                "completed-phase-status": record.get("phaseStatus"),
                "completed-phase-duration-seconds": record.get("durationInSeconds", 0),
                "version": "1",
                "completed-phase-start": _event_time(record.get("startTime")),
                "completed-phase-end": _event_time(record.get("endTime")),
            },
        )

    def metrics(self) -> None:
        """AWS/CodeBuild metrics of the finished build, per project and for the account."""
        build = self.build
        succeeded = build.status == "SUCCEEDED"
        values = [
            ("Builds", 1, "Count"),
            ("SucceededBuilds", int(succeeded), "Count"),
            ("FailedBuilds", int(not succeeded), "Count"),
            ("Duration", max(0.0, (build.end_time - build.start_time).total_seconds()), "Seconds"),
        ]
        for phase in build.phases:
            name = _PHASE_METRICS.get(phase["phaseType"])
            if name and "endTime" in phase:
                values.append(
                    (name, (phase["endTime"] - phase["startTime"]).total_seconds(), "Seconds")
                )
        data = []
        for metric, value, unit in values:
            for dimensions in ([{"Name": "ProjectName", "Value": build.project_name}], []):
                data.append(
                    {
                        "MetricName": metric,
                        "Value": float(value),
                        "Unit": unit,
                        "Dimensions": dimensions,
                        # moto compares naive UTC datetimes
                        "Timestamp": build.end_time.replace(tzinfo=None),
                    }
                )
        try:
            aws_actions.put_metric_data(
                self.backend.account_id, self.backend.region, "AWS/CodeBuild", data
            )
        except Exception as exc:
            log.warning("could not put metrics for %s: %s", build.id, exc)
