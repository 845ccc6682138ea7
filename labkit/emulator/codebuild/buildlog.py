"""A build's log: CloudWatch Logs lines written as the build runs, secrets masked as ***."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.aws_actions import ActionError

log = logging.getLogger("labkit.emulator.codebuild")
_BATCH = 500  # events per put; the buffer never holds more, so huge output stays bounded


class BuildLog:
    """Writes as the build's role; `identity` is passed in because flushes come from any thread."""

    def __init__(self, identity: aws_actions.Identity, group: str | None, stream: str | None):
        self.identity = identity
        self.group, self.stream = group, stream
        # Set when the role may not create the log stream: AWS fails the build in QUEUED.
        self.denied: ActionError | None = None
        self._put_denied = False
        self._secrets: list[str] = []
        self._buffer: list[dict] = []
        self._lock = threading.Lock()
        self.lines_written = 0

    def open(self) -> str | None:
        """Create the log group (if new) and the build's stream; return a problem, if any.

        Called on the build's own thread, so StartBuild never fails half-way on a log problem.
        """
        if not (self.group and self.stream):
            return None
        try:
            aws_actions.ensure_log_stream(self.identity, self.group, self.stream)
        except ActionError as exc:
            self.group = None
            if exc.denied:
                self.denied = exc
            return exc.message
        except Exception as exc:
            self.group = None  # the build still runs; it just has no CloudWatch log
            return str(exc) or type(exc).__name__
        return None

    def add_secrets(self, values: list[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({v for v in [*self._secrets, *values] if v}, key=len, reverse=True)

    def container(self, message: str) -> None:
        """A line from CodeBuild's agent: `[Container] 2024/05/01 12:00:00.123456 Running command ...`."""
        stamp = datetime.now(timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
        self.line(f"[Container] {stamp} {message}")

    def line(self, text: str) -> None:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        with self._lock:
            self._buffer.append({"timestamp": aws_actions.now_ms(), "message": text})
            full = len(self._buffer) >= _BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._buffer = self._buffer, []
        if not events or not self.group:
            return
        try:
            aws_actions.put_log_events(self.identity, self.group, self.stream, events)
            self.lines_written += len(events)
        except ActionError as exc:
            # As on AWS: the build goes on, but lines the role may not write are missing.
            if exc.denied and not self._put_denied:
                self._put_denied = True
                log.warning("build log %s/%s: %s", self.group, self.stream, exc.message)
        except Exception:  # a deleted log group must not break the build; the lines are dropped
            pass


def log_location(project: dict, build, region: str, account: str) -> tuple[str | None, str | None]:
    """Set `build.logs` from the project's logsConfig; return (group, stream), or Nones if disabled."""
    settings = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
    group = settings.get("groupName") or f"/aws/codebuild/{build.project_name}"
    stream = f"{settings['streamName']}/{build.uuid}" if settings.get("streamName") else build.uuid
    enabled = settings.get("status", "ENABLED") == "ENABLED"
    logs = {
        "cloudWatchLogs": {
            "status": "ENABLED" if enabled else "DISABLED",
            **({"groupName": settings["groupName"]} if settings.get("groupName") else {}),
            **({"streamName": settings["streamName"]} if settings.get("streamName") else {}),
        },
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }
    if enabled:
        encoded = group.replace("/", "$252F")
        logs.update(
            groupName=group,
            streamName=stream,
            deepLink=(
                f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
                f"#logsV2:log-groups/log-group/{encoded}/log-events/{stream.replace('/', '$252F')}"
            ),
            cloudWatchLogsArn=f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
        )
    build.logs = logs
    return (group, stream) if enabled else (None, None)
