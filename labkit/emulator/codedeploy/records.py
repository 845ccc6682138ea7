"""What a deployment records per target: lifecycle events with status, times and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

# The events an in-place EC2 deployment lists per instance, in order. Without a load
# balancer the traffic events do not apply, and AWS lists them as Skipped.
TRAFFIC_BEFORE = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic")
INSTALL_EVENTS = ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install",
                  "AfterInstall", "ApplicationStart", "ValidateService")
TRAFFIC_AFTER = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
IN_PLACE_EVENTS = TRAFFIC_BEFORE + INSTALL_EVENTS + TRAFFIC_AFTER


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Diagnostics:
    error_code: str = "Success"
    script_name: str = ""
    message: str = "Succeeded"
    log_tail: str = ""

    def to_api(self) -> dict:
        return {"errorCode": self.error_code, "scriptName": self.script_name,
                "message": self.message, "logTail": self.log_tail}


@dataclass
class LifecycleEventRecord:
    name: str
    status: str = "Pending"
    start: datetime | None = None
    end: datetime | None = None
    diagnostics: Diagnostics | None = None

    def to_api(self) -> dict:
        return {"lifecycleEventName": self.name, "status": self.status,
                "startTime": self.start, "endTime": self.end,
                "diagnostics": self.diagnostics.to_api() if self.diagnostics else None}


@dataclass
class TargetRecord:
    deployment_id: str
    instance_id: str
    target_arn: str
    status: str = "Pending"
    last_updated: datetime = field(default_factory=now)
    events: list[LifecycleEventRecord] = field(
        default_factory=lambda: [LifecycleEventRecord(n) for n in IN_PLACE_EVENTS])

    def event(self, name: str) -> LifecycleEventRecord:
        return next(e for e in self.events if e.name == name)

    def set_status(self, status: str) -> None:
        self.status, self.last_updated = status, now()

    def skip_pending(self) -> None:
        """Events that never ran are listed as Skipped, as AWS lists them."""
        for event in self.events:
            if event.status == "Pending":
                event.status = "Skipped"
        self.last_updated = now()

    def failed_event(self) -> LifecycleEventRecord | None:
        return next((e for e in self.events if e.status == "Failed"), None)

    def events_api(self) -> list[dict]:
        return [e.to_api() for e in self.events]

    def instance_target_api(self) -> dict:
        return {"deploymentId": self.deployment_id, "targetId": self.instance_id,
                "targetArn": self.target_arn, "status": self.status,
                "lastUpdatedAt": self.last_updated, "lifecycleEvents": self.events_api()}

    def instance_summary_api(self) -> dict:
        return {"deploymentId": self.deployment_id, "instanceId": self.target_arn,
                "status": self.status, "lastUpdatedAt": self.last_updated,
                "lifecycleEvents": self.events_api()}
