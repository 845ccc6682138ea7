"""Manual approval: notify the SNS topic, then wait for PutApprovalResult (or time out)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed
from labkit.emulator.codepipeline.models import now

DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60  # AWS fails an unanswered approval after 7 days
CONSOLE = "https://console.aws.amazon.com/codesuite/codepipeline/pipelines"


def manual(ctx: ActionContext) -> None:
    run = ctx.run
    token = str(uuid.uuid4())
    minutes = float(ctx.action.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES)
    topic = ctx.configuration.get("NotificationArn")
    if topic:
        ctx.authorize("sns:Publish", topic)
        publish_request(ctx, topic, token, minutes)
    # The token becomes visible (GetPipelineState) only once the request has been sent.
    run.token = token
    decided = ctx.wait_for(lambda: run.status != "InProgress" and run.status,
                           timeout=minutes * 60, interval=0.2,
                           on_timeout="The manual approval was not answered before it timed out.")
    if decided == "Failed":  # rejected: PutApprovalResult already recorded who and why
        raise ActionFailed(run.error["message"] if run.error else "Rejected", "JobFailed")


def publish_request(ctx: ActionContext, topic_arn: str, token: str, minutes: float) -> None:
    """The JSON AWS publishes to the approval's SNS topic."""
    from moto.sns.models import sns_backends

    pipeline, stage, action = ctx.execution.pipeline_name, ctx.stage_name, ctx.run.name
    link = f"{CONSOLE}/{pipeline}/view?region={ctx.region}"
    message = {
        "region": ctx.region,
        "consoleLink": link,
        "approval": {
            "pipelineName": pipeline,
            "stageName": stage,
            "actionName": action,
            "token": token,
            "expires": (now() + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%MZ"),
            "externalEntityLink": ctx.configuration.get("ExternalEntityLink"),
            "approvalReviewLink": f"{link}#/{stage}/{action}/approve/{token}",
            "customData": ctx.configuration.get("CustomData"),
        },
    }
    try:
        _, _, _, region, account, _ = topic_arn.split(":", 5)
        sns_backends[account][region].publish(
            json.dumps(message), arn=topic_arn,
            subject=f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"[:100])
    except Exception as exc:
        raise ActionFailed(f"Could not publish the approval request to {topic_arn}: {exc}") from None
