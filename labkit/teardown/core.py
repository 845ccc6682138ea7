"""What teardown works with: the lab's ownership rule, found resources, retries and the report table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from labkit.tags import LAB_TAG

# Error codes that mean "try again in a moment": throttling, and dependencies that are still
# going away (an instance still shutting down holds its security group, a load balancer its
# target group, an eventually consistent IAM detach its role ...).
RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
    "SlowDown", "DependencyViolation", "ResourceInUse", "ResourceInUseException",
    "DeleteConflict", "ConcurrentModificationException", "OperationAbortedException",
    "BucketNotEmpty", "InvalidGroup.InUse", "ResourceContentionFault", "ScalingActivityInProgress",
    "PriorRequestNotComplete", "ServiceUnavailable", "InternalError", "InternalFailure",
})
# What a lookup of optional detail (tags) may raise; the resource is then judged by its name.
LOOKUP_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
# Words in an error code that mean the resource is already gone (a second run, a race).
GONE_WORDS = ("NotFound", "NoSuch", "DoesNotExist", "NotExist", "NonExistent")
# AWS service prefixes of names labkit does not choose (log groups CodeBuild creates, ...).
SERVICE_NAME_PREFIXES = ("/aws/codebuild/", "/aws/codepipeline/", "/aws/codedeploy/",
                         "/aws/events/", "/aws/lambda/", "/aws/vendedlogs/")


def name_in_lab(name: str, prefix: str) -> bool:
    """True when `name` is one labkit gives this lab's resources: `<prefix>-...` or `/<prefix>/...`.

    Log group names of AWS services (`/aws/codebuild/<project>`) count by their last part.
    """
    for service_prefix in SERVICE_NAME_PREFIXES:
        if name.startswith(service_prefix):
            name = name[len(service_prefix):]
            break
    name = name.lstrip("/")
    return name == prefix or name.startswith((f"{prefix}-", f"{prefix}/"))


class CannotDelete(Exception):
    """A deletion AWS refused in a way retrying will not fix (an object lock, a legal hold)."""


@dataclass
class Ownership:
    """Decides whether a resource is the lab's: by its lab tag, else its name, else the ledger."""

    prefix: str
    ledger: set[tuple[str, str]] = field(default_factory=set)

    def owns(self, kind: str, name: str, tags: dict[str, str] | None = None) -> bool:
        lab_tag = (tags or {}).get(LAB_TAG)
        if lab_tag is not None:
            # Another lab's tag wins over a name that happens to share our prefix
            # ("labkit" and "labkit-b" are different labs).
            return lab_tag == self.prefix
        return (kind, name) in self.ledger or name_in_lab(name, self.prefix)


@dataclass
class Resource:
    """One thing to delete: what it is, its name, and how to delete it (and wait till it is gone)."""

    kind: str
    name: str
    delete: Callable[[], None]
    detail: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass
class Row:
    resource: str
    action: str
    result: str


def tags_from_list(items: Iterable[dict] | None, key: str = "Key", value: str = "Value") -> dict:
    return {t[key]: t.get(value, "") for t in (items or []) if key in t}


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_gone(exc: ClientError) -> bool:
    code = error_code(exc)
    return any(word in code for word in GONE_WORDS) or exc.response.get(
        "ResponseMetadata", {}).get("HTTPStatusCode") == 404 and not code


def run_with_retries(action: Callable[[], None], deadline_seconds: float,
                     sleep: Callable[[float], None] = time.sleep) -> str:
    """Run `action`; retry retryable errors with backoff until the deadline. Return the result text."""
    deadline = time.monotonic() + deadline_seconds
    delay = 0.25
    while True:
        try:
            action()
            return "deleted"
        except ClientError as exc:
            if is_gone(exc):
                return "already gone"
            code = error_code(exc)
            if code not in RETRYABLE_CODES or time.monotonic() + delay > deadline:
                message = exc.response.get("Error", {}).get("Message", "")
                return f"failed: {code}: {message}"[:300]
        except (CannotDelete, TimeoutError, BotoCoreError, ResponseParserError) as exc:
            return f"failed: {str(exc)[:280]}"
        sleep(delay)
        delay = min(delay * 2, 8.0)


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    """Poll `check` until true; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {timeout:.0f} s")
        time.sleep(interval)


def paginate(client, operation: str, key: str, **kwargs) -> list:
    """Every item under `key` across all pages of `operation`."""
    items: list = []
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items
    # A few operations have no botocore paginator; they all page with nextToken.
    method = getattr(client, operation)
    token = None
    while True:
        page = method(**kwargs, **({"nextToken": token} if token else {}))
        items.extend(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            return items


def format_table(rows: list[Row]) -> str:
    """A plain-text table: resource, action, result."""
    headers = ("resource", "action", "result")
    data = [(r.resource, r.action, r.result) for r in rows]
    widths = [max([len(h), *(len(d[i]) for d in data)]) for i, h in enumerate(headers)]
    widths[0] = min(widths[0], 90)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for cells in data:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines)
