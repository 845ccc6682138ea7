"""The event bridge every engine shares: puts AWS-shaped events into moto's EventBridge and delivers
them to the targets of matching rules (SNS, SQS, CloudWatch Logs, and targets engines register,
such as CodePipeline)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("labkit.emulator.events")

# A handler gets (target, event, rule) and delivers the event; raising counts as a failed invocation.
TargetHandler = Callable[[dict, dict, Any], None]


class EventBridge:
    def __init__(self):
        self._handlers: dict[str, TargetHandler] = {}
        self._lock = threading.Lock()
        self.delivered: list[dict] = []  # (rule, target, event id, ok) records, newest last
        self.register("sns", _deliver_to_sns)
        self.register("sqs", _deliver_to_sqs)
        self.register("logs", _deliver_to_log_group)

    def register(self, service: str, handler: TargetHandler) -> None:
        """Deliver events for targets whose ARN belongs to `service` (e.g. "codepipeline")."""
        self._handlers[service] = handler

    def put_event(self, account_id: str, region: str, source: str, detail_type: str,
                  detail: dict, resources: list[str] | None = None) -> dict:
        """Send one event to the default bus and to every matching rule's targets; return it."""
        from moto.events.models import events_backends

        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account_id,
            "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": list(resources or []),
            "detail": detail,
        }
        backend = events_backends[account_id][region]
        bus = backend.describe_event_bus("default")
        for rule in list(bus.rules.values()):
            if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
                continue
            failed = sum(not self._deliver(rule, target, event) for target in list(rule.targets))
            _rule_metrics(account_id, region, rule.name, len(rule.targets), failed)
        return event

    def put_events_api(self, entries: list[dict], account_id: str, region: str) -> dict:
        """PutEvents as the API answers it. moto's own PutEvents cannot deliver to SNS or to
        pipelines, so the emulator routes the call here."""
        results, failed = [], 0
        for entry in entries:
            problem = _entry_problem(entry)
            if problem:
                failed += 1
                results.append(problem)
                continue
            event = self.put_event(account_id, region, entry["Source"], entry["DetailType"],
                                   json.loads(entry["Detail"]), entry.get("Resources"))
            results.append({"EventId": event["id"]})
        return {"FailedEntryCount": failed, "Entries": results}

    def _deliver(self, rule, target: dict, event: dict) -> bool:
        service = target["Arn"].split(":")[2]
        payload = _target_input(target, event)
        ok = True
        try:
            handler = self._handlers.get(service)
            if handler is None:
                raise NotImplementedError(f"targets of type {service} are not emulated")
            handler(target, payload, rule)
        except Exception as exc:  # a failed target must never break the engine that sent the event
            ok = False
            log.warning("rule %s: delivery to %s failed: %s", rule.name, target["Arn"], exc)
        with self._lock:
            self.delivered.append({"rule": rule.name, "target": target["Arn"],
                                   "eventId": event["id"], "ok": ok})
            del self.delivered[:-1000]
        return ok


def _rule_metrics(account_id: str, region: str, rule: str, invocations: int, failed: int) -> None:
    """AWS/Events: TriggeredRules, Invocations and FailedInvocations, per rule."""
    from moto.cloudwatch.models import cloudwatch_backends

    dims = [{"Name": "RuleName", "Value": rule}]
    data = [{"MetricName": "TriggeredRules", "Value": 1.0, "Unit": "Count", "Dimensions": dims},
            {"MetricName": "Invocations", "Value": float(invocations), "Unit": "Count",
             "Dimensions": dims}]
    if failed:
        data.append({"MetricName": "FailedInvocations", "Value": float(failed), "Unit": "Count",
                     "Dimensions": dims})
    try:
        cloudwatch_backends[account_id][region].put_metric_data("AWS/Events", data)
    except Exception:
        log.exception("could not put AWS/Events metrics for rule %s", rule)


def _entry_problem(entry: dict) -> dict | None:
    for key in ("Source", "DetailType", "Detail"):
        if not entry.get(key):
            return {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": f"Parameter {key} is not valid. Reason: {key} is a required argument."}
    try:
        if not isinstance(json.loads(entry["Detail"]), dict):
            raise ValueError
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    if entry.get("EventBusName", "default") not in ("default",) and ":event-bus/default" not in entry.get("EventBusName", ""):
        return {"ErrorCode": "NotImplemented",
                "ErrorMessage": "labkit's emulator delivers events on the default event bus only."}
    return None


def _target_input(target: dict, event: dict):
    """What a target receives: the event, a constant `Input`, an `InputPath` slice, or a transform."""
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        value: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    if target.get("InputTransformer"):
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


def _deliver_to_sns(target: dict, payload, rule) -> None:
    from moto.sns.models import sns_backends

    arn = target["Arn"]
    _, _, _, region, account, _ = arn.split(":", 5)
    message = payload if isinstance(payload, str) else json.dumps(payload)
    sns_backends[account][region].publish(message, arn=arn)


def _deliver_to_sqs(target: dict, payload, rule) -> None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, queue = target["Arn"].split(":", 5)
    group_id = target.get("SqsParameters", {}).get("MessageGroupId")
    body = payload if isinstance(payload, str) else json.dumps(payload)
    sqs_backends[account][region].send_message(queue, body, group_id=group_id,
                                               deduplication_id=str(uuid.uuid4()) if group_id else None)


def _deliver_to_log_group(target: dict, payload, rule) -> None:
    import time

    from moto.logs.models import logs_backends

    _, _, _, region, account, resource = target["Arn"].split(":", 5)
    group = resource.split(":", 1)[1] if resource.startswith("log-group:") else resource
    group = group.removesuffix(":*")
    backend = logs_backends[account][region]
    stream = str(uuid.uuid4())
    backend.create_log_stream(group, stream)
    message = payload if isinstance(payload, str) else json.dumps(payload)
    backend.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": message}])
