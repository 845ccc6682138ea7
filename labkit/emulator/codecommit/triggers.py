"""Repository triggers: validate PutRepositoryTriggers input and publish reference changes to SNS."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.models import Repository, check_branch_name

log = logging.getLogger("labkit.emulator.codecommit")
MAX_TRIGGERS = 10
MAX_BRANCHES = 100
EVENT_FOR_CHANGE = {"create": "createReference", "update": "updateReference", "delete": "deleteReference"}


def validate_triggers(repo: Repository, triggers: list[dict]) -> list[dict]:
    """The triggers as stored, or the AWS error for the first thing wrong with them."""
    if len(triggers) > MAX_TRIGGERS:
        raise exc.MaximumRepositoryTriggersExceededException(
            f"A repository can have at most {MAX_TRIGGERS} triggers.")
    names = set()
    for trigger in triggers:
        name = trigger.get("name", "")
        if not name or name in names:
            raise exc.InvalidRepositoryTriggerNameException(
                f"The trigger name {name!r} is not valid: each trigger needs a unique, non-empty name.")
        names.add(name)
        arn = trigger.get("destinationArn", "")
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sns", "lambda"):
            raise exc.InvalidRepositoryTriggerDestinationArnException(
                f"The destination ARN {arn} is not valid: use the ARN of an Amazon SNS topic or an "
                "AWS Lambda function.")
        if parts[3] != repo.region:
            raise exc.InvalidRepositoryTriggerRegionException(
                f"The destination {arn} is in region {parts[3]}; triggers must use a destination in "
                f"the repository's region, {repo.region}.")
        if len(trigger.get("customData") or "") > 1000:
            raise exc.InvalidRepositoryTriggerCustomDataException(
                "The custom data of a trigger can be at most 1,000 characters.")
        branches = trigger.get("branches") or []
        if len(branches) > MAX_BRANCHES:
            raise exc.MaximumBranchesExceededException(
                f"A trigger can name at most {MAX_BRANCHES} branches.")
        for branch in branches:
            try:
                check_branch_name(branch)
            except exc.CodeCommitError:
                raise exc.InvalidRepositoryTriggerBranchNameException(
                    f"The branch name {branch!r} of trigger {name} is not valid.") from None
        events = trigger.get("events") or []
        if not events or ("all" in events and len(events) > 1):
            raise exc.InvalidRepositoryTriggerEventsException(
                f"The events of trigger {name} are not valid: list 'all' alone, or any of "
                "updateReference, createReference, deleteReference.")
    return [dict(t) for t in triggers]


def fire_triggers(repo: Repository, changes, caller: str) -> None:
    """Publish each trigger's matching reference changes to its destination, as one message."""
    for trigger in list(repo.triggers):
        references = [_reference(ref, old, new) for ref, old, new in changes
                      if _matches(trigger, ref, old, new)]
        if not references:
            continue
        try:
            _deliver(repo, trigger, references, caller, "ReferenceChanges")
        except Exception as problem:  # a broken destination must not fail the push
            log.warning("trigger %s of %s failed: %s", trigger["name"], repo.name, problem)


def run_trigger_test(repo: Repository, triggers: list[dict], caller: str) -> dict:
    """TestRepositoryTriggers: send a sample message for the default branch's tip to each trigger."""
    validate_triggers(repo, triggers)
    branch = repo.default_branch
    tip = repo.git.branches().get(branch or "") if branch else None
    reference = {"commit": tip or "0" * 40, "ref": f"refs/heads/{branch or 'main'}"}
    succeeded, failed = [], []
    for trigger in triggers:
        try:
            _deliver(repo, trigger, [reference], caller, "TriggerEventTest")
            succeeded.append(trigger["name"])
        except Exception as problem:
            failed.append({"trigger": trigger["name"], "failureMessage": str(problem)})
    return {"successfulExecutions": succeeded, "failedExecutions": failed}


def _kind(old, new) -> str:
    return "create" if old is None else "delete" if new is None else "update"


def _matches(trigger: dict, ref: str, old, new) -> bool:
    events = trigger.get("events") or []
    if "all" not in events and EVENT_FOR_CHANGE[_kind(old, new)] not in events:
        return False
    branches = trigger.get("branches") or []
    return not branches or (ref.startswith("refs/heads/") and ref[len("refs/heads/"):] in branches)


def _reference(ref: str, old, new) -> dict:
    item = {"commit": new or old, "ref": ref}
    if old is None:
        item["created"] = True
    if new is None:
        item["deleted"] = True
    return item


def _deliver(repo: Repository, trigger: dict, references: list[dict], caller: str, event_name: str) -> None:
    arn = trigger["destinationArn"]
    service, region, account = arn.split(":")[2:5]
    if service != "sns":
        raise RuntimeError(f"labkit's emulator delivers triggers to SNS topics only, not to {arn}")
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    if arn not in backend.topics:
        raise RuntimeError(f"The SNS topic {arn} does not exist.")
    record = {
        "awsRegion": repo.region,
        "codecommit": {"references": references},
        "customData": trigger.get("customData"),
        "eventId": str(uuid.uuid4()),
        "eventName": event_name,
        "eventPartNumber": 1,
        "eventSourceARN": repo.arn,
        "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        "eventTotalParts": 1,
        "eventTriggerConfigId": repo.triggers_configuration_id,
        "eventTriggerName": trigger["name"],
        "eventVersion": "1.0",
        "userIdentityARN": caller,
    }
    subject = f"UPDATE: AWS CodeCommit {repo.region} push: {repo.name}"
    backend.publish(json.dumps({"Records": [record]}), arn=arn, subject=subject)
