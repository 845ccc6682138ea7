"""Health checks as ELBv2 performs them: per target, on the target group's path, interval and thresholds."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field

INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = ("healthy", None, None)
DISABLED = ("unavailable", "Target.HealthCheckDisabled", "Health checks are disabled")


@dataclass
class CheckSettings:
    """What the target group says about checking its targets (moto's FakeTargetGroup, read once a round)."""

    protocol: str = "HTTP"
    path: str = "/"
    port: str = "traffic-port"
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"
    enabled: bool = True

    @classmethod
    def of(cls, group) -> CheckSettings:
        matcher = (getattr(group, "matcher", None) or {}).get("HttpCode") or "200"
        return cls(protocol=(group.health_check_protocol or "HTTP").upper(),
                   path=group.health_check_path or "/",
                   port=str(group.health_check_port or "traffic-port"),
                   interval=float(group.health_check_interval_seconds or 30),
                   timeout=float(group.health_check_timeout_seconds or 5),
                   healthy_threshold=int(group.healthy_threshold_count or 5),
                   unhealthy_threshold=int(group.unhealthy_threshold_count or 2),
                   matcher=str(matcher), enabled=bool(group.health_check_enabled))


@dataclass
class TargetHealth:
    """One registered target's health, moved by consecutive check results as ELB moves it."""

    state: tuple[str, str | None, str | None] = INITIAL
    successes: int = 0
    failures: int = 0
    next_check: float = 0.0
    checking: bool = False
    last_result: tuple[bool, str, str] | None = None
    registered_at: float = field(default_factory=time.monotonic)

    def record(self, ok: bool, reason: str, description: str, settings: CheckSettings) -> None:
        self.last_result = (ok, reason, description)
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= settings.healthy_threshold:
                self.state = HEALTHY
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures >= settings.unhealthy_threshold:
                self.state = ("unhealthy", reason, description)


def code_matches(status: int, matcher: str) -> bool:
    """ELB's matcher syntax: "200", "200,202", "200-299"."""
    for part in matcher.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


def check_once(port: int | None, settings: CheckSettings) -> tuple[bool, str, str]:
    """One health check against 127.0.0.1:port: (passed, reason code, description)."""
    if port is None:
        return False, "Target.FailedHealthChecks", "Health checks failed"
    if settings.protocol == "TCP":
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=settings.timeout):
                return True, "", ""
        except TimeoutError:
            return False, "Target.Timeout", "Request timed out"
        except OSError:
            return False, "Target.FailedHealthChecks", "Health checks failed"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=settings.timeout)
    try:
        connection.request("GET", settings.path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = connection.getresponse().status
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        connection.close()
    if code_matches(status, settings.matcher):
        return True, "", ""
    return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"


class HealthChecker:
    """Runs due checks on short-lived threads so a slow target never delays the others."""

    def __init__(self, stopping: threading.Event):
        self.stopping = stopping
        self.lock = threading.Lock()
        # (target group ARN, target id, port) -> its health
        self.targets: dict[tuple[str, str, int], TargetHealth] = {}

    def track(self, key: tuple[str, str, int]) -> TargetHealth:
        with self.lock:
            health = self.targets.get(key)
            if health is None:
                health = self.targets[key] = TargetHealth()
            return health

    def restart(self, key: tuple[str, str, int]) -> None:
        """A (re-)registered target starts over in the initial state, checked at once."""
        with self.lock:
            self.targets[key] = TargetHealth()

    def forget_except(self, keep: set[tuple[str, str, int]]) -> None:
        with self.lock:
            for key in [k for k in self.targets if k not in keep]:
                del self.targets[key]

    def state_of(self, key: tuple[str, str, int]) -> tuple[str, str | None, str | None] | None:
        with self.lock:
            health = self.targets.get(key)
            return health.state if health else None

    def run_due(self, key: tuple[str, str, int], port: int | None, settings: CheckSettings) -> None:
        """Start the target's next check if its interval has passed."""
        health = self.track(key)
        if not settings.enabled:
            health.state = DISABLED
            return
        now = time.monotonic()
        with self.lock:
            if health.checking or now < health.next_check:
                return
            health.checking, health.next_check = True, now + settings.interval

        def check():
            try:
                result = check_once(port, settings)
                if not self.stopping.is_set():
                    with self.lock:
                        health.record(*result, settings)
            finally:
                health.checking = False

        threading.Thread(target=check, name=f"elb-health-{key[1]}", daemon=True).start()
