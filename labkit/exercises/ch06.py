"""Chapter 06's exercises: the narrowest policy statement that fixes the pipeline's AccessDenied,
and which instances the load balancer sends users to after the blue/green deployment."""

from __future__ import annotations

import fnmatch

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names
from labkit.services.iam import DeniedAction, explain_denied


def _denials(lab) -> list[DeniedAction]:
    """Every AccessDenied the pipeline's actions reported, newest first."""
    client = lab.client("codepipeline")
    pipeline = course_names(lab).pipeline
    found, kwargs = [], {"pipelineName": pipeline}
    while True:
        try:
            page = client.list_action_executions(**kwargs)
        except client.exceptions.PipelineNotFoundException:
            return found
        for detail in page["actionExecutionDetails"]:
            error = ((detail.get("output") or {}).get("executionResult") or {}).get("errorDetails")
            if detail["status"] == "Failed" and error and "not authorized to perform" in error.get("message", ""):
                found.append(explain_denied(error))
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise Wrong(f"{value!r} should be a string or a list of strings.")


def _check_statement(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `statement` to a policy statement: a dict with Effect, Action and Resource.")
    if not isinstance(answer, dict):
        raise Wrong(f"A policy statement is a dict such as {{'Effect': 'Allow', 'Action': ..., 'Resource': ...}}, "
                    f"not a {type(answer).__name__}.")
    denials = _denials(lab)
    if not denials:
        raise Wrong("Your pipeline has reported no AccessDenied yet: run the cells of step 5 that take "
                    "codebuild:StartBuild away from its role first.")
    denied = denials[0]
    missing = [key for key in ("Effect", "Action", "Resource") if key not in answer]
    if missing:
        raise Wrong(f"The statement lacks {', '.join(missing)} (keys are case-sensitive).")
    if answer["Effect"] != "Allow":
        raise Wrong(f"Effect is {answer['Effect']!r}: a statement that grants must say 'Allow'.")
    actions, resources = _as_list(answer["Action"]), _as_list(answer["Resource"])
    if not any(fnmatch.fnmatchcase(denied.action.lower(), a.lower()) for a in actions):
        raise Wrong(f"None of {actions} is the action the role lacked. Read the error again: "
                    "'is not authorized to perform: <action>'.")
    if not any(fnmatch.fnmatchcase(denied.resource, r) for r in resources):
        raise Wrong(f"The action is right, but {resources} does not cover the resource it was denied on: "
                    "'on resource: <arn>' in the error.")
    wide_actions = [a for a in actions if "*" in a or "?" in a]
    if wide_actions:
        raise Wrong(f"{wide_actions} is a wildcard: it also grants actions the pipeline never needs. "
                    f"Name the one action, {denied.action}.")
    if len(actions) > 1:
        raise Wrong(f"Only {denied.action} was missing; the other actions {[a for a in actions if a.lower() != denied.action.lower()]} "
                    "are not needed to fix this error.")
    wide_resources = [r for r in resources if "*" in r or "?" in r]
    if wide_resources:
        raise Wrong(f"{wide_resources} covers more than the one resource (with '*' the pipeline could start "
                    f"every build project in the account). Name its ARN: {denied.resource}.")
    if len(resources) > 1:
        raise Wrong(f"Only {denied.resource} is needed; drop the other resources.")
    return (f"that statement allows exactly {denied.action} on {denied.resource}, what "
            f"{denied.role} lacked, and nothing more.")


def _solve_statement(lab) -> dict | None:
    denials = _denials(lab)
    return dict(denials[0].statement) if denials else None


def _target_group_arn(lab) -> str:
    client = lab.client("elbv2")
    name = course_names(lab).target_group
    try:
        return client.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    except client.exceptions.TargetGroupNotFoundException:
        raise Wrong(f"There is no target group {name} yet: run step 1 of the chapter first.") from None


def _serving(lab) -> set[str]:
    found = lab.client("elbv2").describe_target_health(TargetGroupArn=_target_group_arn(lab))
    return {d["Target"]["Id"] for d in found["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] == "healthy"}


def _check_serving(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `serving` to the list of instance ids the load balancer sends requests to.")
    given = {answer} if isinstance(answer, str) else set(answer)
    serving = _serving(lab)
    if not serving:
        raise Wrong("No target of the target group is healthy right now: run the blue/green deployment first.")
    extra, missing = given - serving, serving - given
    if extra:
        raise Wrong(f"{sorted(extra)} get no traffic (not registered, draining or unhealthy). "
                    "describe_target_health tells each target's State.")
    if missing:
        raise Wrong(f"{len(missing)} more healthy target(s) also serve: look for State 'healthy'.")
    return f"the load balancer spreads requests over these {len(serving)} instances (the green fleet)."


EXERCISES = [
    Exercise(
        name="narrowest_statement", chapter="06",
        task=("The pipeline's Build action failed with AccessDenied. Write, as a dict, the one policy "
              "statement that fixes it and grants nothing more: one action, one resource ARN, no wildcard."),
        checker=_check_statement,
        hints=("The action's errorDetails message names the action after 'not authorized to perform:' and the "
               "resource after 'on resource:'.",
               "labkit.services.iam.explain_denied(errorDetails) reads both for you. The statement looks like "
               "{'Effect': 'Allow', 'Action': 'service:Action', 'Resource': 'arn:aws:...'}."),
        solution_code="""
            # After the retry the pipeline's state shows the success; the failed attempt is in the history.
            failed = [a for a in codepipeline.list_action_executions(pipelineName=names.pipeline)["actionExecutionDetails"]
                      if a["status"] == "Failed" and a["stageName"] == "Build"][0]
            denied = iam_helpers.explain_denied(failed["output"]["executionResult"]["errorDetails"])
            statement = {"Effect": "Allow", "Action": denied.action, "Resource": denied.resource}
        """,
        solve=_solve_statement,
    ),
    Exercise(
        name="serving_fleet", chapter="06",
        task="Which instances does the load balancer send users to now? Set `serving` to their instance ids.",
        checker=_check_serving,
        hints=("elbv2.describe_target_health(TargetGroupArn=...) lists the registered targets.",
               "Keep the targets whose TargetHealth State is 'healthy'; a deregistered one is 'draining' or gone."),
        solution_code="""
            health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
            serving = [d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] == "healthy"]
        """,
        solve=lambda lab: sorted(_serving(lab)),
    ),
]
