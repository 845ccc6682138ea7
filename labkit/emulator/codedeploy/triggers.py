"""Deployment group triggers: SNS notifications for deployment and instance events, as AWS sends them."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy import permissions

log = logging.getLogger("labkit.emulator.codedeploy.triggers")
MAX_TRIGGERS = 10
# EventBridge state -> trigger event, and the status word AWS puts in the message and subject.
DEPLOYMENT_TRIGGERS = {"START": ("DeploymentStart", "CREATED"), "SUCCESS": ("DeploymentSuccess", "SUCCEEDED"),
                       "FAILURE": ("DeploymentFailure", "FAILED"), "STOP": ("DeploymentStop", "STOPPED")}
INSTANCE_TRIGGERS = {"START": ("InstanceStart", "INPROGRESS"), "SUCCESS": ("InstanceSuccess", "SUCCEEDED"),
                     "FAILURE": ("InstanceFailure", "FAILED")}


def check_triggers(account_id: str, region: str, triggers: list[dict]) -> None:
    """AWS refuses triggers whose SNS topic does not exist, or too many of them."""
    from moto.sns.models import sns_backends

    if len(triggers) > MAX_TRIGGERS:
        raise errors.TriggerTargetsLimitExceededException(
            f"A deployment group may have at most {MAX_TRIGGERS} triggers.")
    for trigger in triggers:
        arn = trigger.get("triggerTargetArn") or ""
        parts = arn.split(":")
        topics = sns_backends[parts[4]][parts[3]].topics if len(parts) == 6 and parts[2] == "sns" else {}
        if not trigger.get("triggerName") or arn not in topics:
            raise errors.InvalidTriggerConfigException(
                f"The trigger {trigger.get('triggerName')!r} is not valid: its target {arn or '(none)'} "
                "must be an existing SNS topic, and the trigger needs a name.")


def notify(deployment, state: str, region: str, account_id: str, instance_id: str | None = None) -> None:
    """Publish to the SNS topic of every trigger of the group that asks for this event."""
    table = INSTANCE_TRIGGERS if instance_id else DEPLOYMENT_TRIGGERS
    if state not in table:
        return
    event, status = table[state]
    for trigger in deployment.group.settings.get("triggerConfigurations") or []:
        if event not in (trigger.get("triggerEvents") or []):
            continue
        # CodeDeploy publishes as the group's service role; AWS drops what the role may not send.
        denied = permissions.may_publish(account_id, deployment.group.settings.get("serviceRoleArn", ""),
                                         trigger["triggerTargetArn"])
        if denied:
            log.warning("trigger %s not sent: %s", trigger.get("triggerName"), denied)
            continue
        message = _message(deployment, trigger, status, region, account_id, instance_id)
        subject = f"{status}: AWS CodeDeploy {deployment.deployment_id} in {region} to {deployment.application}"
        _publish(trigger["triggerTargetArn"], json.dumps(message), subject[:100])


def _message(deployment, trigger: dict, status: str, region: str, account_id: str,
             instance_id: str | None) -> dict:
    message = {
        "region": region, "accountId": account_id, "eventTriggerName": trigger.get("triggerName"),
        "applicationName": deployment.application, "deploymentId": deployment.deployment_id,
        "deploymentGroupName": deployment.group.name, "createTime": _when(deployment.create_time),
        "completeTime": _when(deployment.complete_time), "status": status,
    }
    if instance_id:
        message["instanceId"] = instance_id
        target = deployment.targets.get(instance_id)
        message["lastUpdatedAt"] = _when(target.last_updated) if target else None
        message["instanceStatus"] = target.status if target else None
    else:
        message["deploymentOverview"] = json.dumps({k: str(v) for k, v in deployment.overview().items()})
        if deployment.error:
            message["errorInformation"] = json.dumps(deployment.error)
    return message


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def _publish(topic_arn: str, message: str, subject: str) -> None:
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = topic_arn.split(":", 5)
    try:
        sns_backends[account][region].publish(message, arn=topic_arn, subject=subject)
    except Exception:  # a deleted topic must not break the deployment
        log.warning("trigger to %s failed", topic_arn, exc_info=True)
