"""Chapter 07's exercises: a metric filter that counts failed stages from the pipeline's events, and
giving the drill role back the one permission it lacks, scoped to the app's parameters."""

from __future__ import annotations

import fnmatch
import json

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import LOG_LEVEL_PARAMETER, course_names

FAILED_FILTER = "FailedStageExecutions"
STAGE_EVENT = "CodePipeline Stage Execution State Change"


# --- exercise 1: count failed stages with a metric filter ----------------------------------------

def _events(lab, group: str, pattern: str = "") -> list[dict]:
    """Every event in the group (or those `pattern` matches), parsed from JSON."""
    logs = lab.client("logs")
    params = {"logGroupName": group}
    if pattern:
        params["filterPattern"] = pattern
    found = []
    while True:
        page = logs.filter_log_events(**params)
        for event in page.get("events", []):
            try:
                found.append(json.loads(event["message"]))
            except ValueError:
                continue
        if not page.get("nextToken"):
            return found
        params["nextToken"] = page["nextToken"]


def _is_failed_stage(event: dict) -> bool:
    detail = event.get("detail") or {}
    return event.get("detail-type") == STAGE_EVENT and detail.get("state") == "FAILED" \
        and bool(detail.get("stage"))


def _check_failed_stage_filter(lab, answer) -> str:
    names = course_names(lab)
    group = names.pipeline_events_group
    if answer is None:
        raise NotAttempted(f"Create the metric filter on {group}, then set `failed_filter` to its name.")
    logs = lab.client("logs")
    try:
        filters = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    except logs.exceptions.ResourceNotFoundException:
        raise Wrong(f"The log group {group} does not exist: run the cells of Step 2 first.") from None
    mine = [f for f in filters if f["filterName"] == str(answer).strip()]
    if not mine:
        known = ", ".join(sorted(f["filterName"] for f in filters)) or "none"
        raise Wrong(f"{group} has no metric filter named {answer!r} (its filters: {known}). "
                    "put_metric_filter(logGroupName=..., filterName=..., ...) creates it.")
    found = mine[0]
    transformation = (found.get("metricTransformations") or [{}])[0]
    if transformation.get("metricName") != FAILED_FILTER:
        raise Wrong(f"The filter publishes {transformation.get('metricName')!r}; name the metric "
                    f"{FAILED_FILTER!r} so the dashboard and alarms can find it.")
    if transformation.get("metricNamespace") != names.pipeline_metrics_namespace:
        raise Wrong(f"The metric goes to namespace {transformation.get('metricNamespace')!r}; put it "
                    f"beside the success counts, in {names.pipeline_metrics_namespace!r}.")
    dimensions = transformation.get("dimensions") or {}
    if dimensions.get("StageName") != "$.detail.stage" or dimensions.get("PipelineName") != "$.detail.pipeline":
        raise Wrong("Give the metric two dimensions taken from the event: "
                    "{'PipelineName': '$.detail.pipeline', 'StageName': '$.detail.stage'} "
                    f"(yours: {dimensions or 'none'}).")
    expected = [e for e in _events(lab, group) if _is_failed_stage(e)]
    if not expected:
        raise Wrong("No stage has failed since the events were routed to the log group, so the "
                    "pattern cannot be tried: run the drills of Step 4 first.")
    try:
        matched = _events(lab, group, found["filterPattern"])
    except logs.exceptions.InvalidParameterException as exc:
        raise Wrong(f"CloudWatch Logs cannot read the pattern {found['filterPattern']!r}: {exc}") from None
    wrong = [e for e in matched if not _is_failed_stage(e)]
    if wrong:
        sample = wrong[0]
        raise Wrong(f"The pattern also matches events that are not failed stages, e.g. a "
                    f"{sample.get('detail-type')!r} with state {(sample.get('detail') or {}).get('state')!r}. "
                    "Require $.detail.state = \"FAILED\" and a stage ($.detail.stage = *).")
    if len(matched) < len(expected):
        raise Wrong(f"The pattern matches {len(matched)} of the {len(expected)} failed-stage events "
                    "in the group: it is too narrow.")
    return (f"{found['filterName']} matches exactly the failed-stage events in {group}; from now "
            f"on each one adds 1 to {FAILED_FILTER} for its pipeline and stage.")


def _solve_failed_stage_filter(lab) -> str:
    names = course_names(lab)
    lab.client("logs").put_metric_filter(
        logGroupName=names.pipeline_events_group, filterName=FAILED_FILTER,
        filterPattern='{ ($.detail.pipeline = *) && ($.detail.stage = *) && ($.detail.state = "FAILED") }',
        metricTransformations=[{
            "metricName": FAILED_FILTER, "metricNamespace": names.pipeline_metrics_namespace,
            "metricValue": "1", "unit": "Count",
            "dimensions": {"PipelineName": "$.detail.pipeline", "StageName": "$.detail.stage"}}])
    return FAILED_FILTER


# --- exercise 2: give the drill role its missing permission, scoped -----------------------------

ACTION = "ssm:GetParameters"


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _covers(patterns: list[str], value: str, case_insensitive: bool = False) -> bool:
    if case_insensitive:
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _statements(lab, role: str) -> list[dict]:
    iam = lab.client("iam")
    found = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement", [])
        found += [statements] if isinstance(statements, dict) else statements
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                         VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        document = version["Document"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement", [])
        found += [statements] if isinstance(statements, dict) else statements
    return found


def _check_drill_role(lab, answer) -> str:
    names = course_names(lab)
    if answer is None:
        raise NotAttempted("Change the drill role's policy, then set `fixed_role` to the role's name.")
    if str(answer).strip() != names.drill_role:
        raise Wrong(f"{answer!r} is not the role the drill used: the AccessDenied message names "
                    f"assumed-role/{names.drill_role}/...")
    iam = lab.client("iam")
    try:
        statements = _statements(lab, names.drill_role)
    except iam.exceptions.NoSuchEntityException:
        raise Wrong(f"The role {names.drill_role} does not exist: run the drill cells first.") from None
    parameter = names.arn("ssm", f"parameter{LOG_LEVEL_PARAMETER}")
    allowing, denying = [], []
    for statement in statements:
        if not _covers(_as_list(statement.get("Action")), ACTION, case_insensitive=True):
            continue
        if not _covers(_as_list(statement.get("Resource")), parameter):
            continue
        (denying if statement.get("Effect") == "Deny" else allowing).append(statement)
    if denying:
        raise Wrong(f"A Deny statement covers {ACTION} on {parameter}; an explicit Deny wins over any "
                    "Allow, so remove it.")
    if not allowing:
        raise Wrong(f"The role still lacks {ACTION} on {parameter}: no Allow statement of its policies "
                    "covers that action on that resource.")
    broad = [r for s in allowing for r in _as_list(s.get("Resource"))
             if _covers([r], parameter) and _covers([r], names.arn("ssm", "parameter/some/other/parameter"))]
    if broad:
        raise Wrong(f"That works, but Resource {broad[0]!r} lets the role read every parameter. Scope it "
                    f"to the app's own, e.g. {names.arn('ssm', 'parameter/my-app/dev/*')}.")
    return (f"{names.drill_role} may read {LOG_LEVEL_PARAMETER} again, and only the app's parameters: "
            "the next build with this role gets past DOWNLOAD_SOURCE.")


def _solve_drill_role(lab) -> str:
    names = course_names(lab)
    lab.client("iam").put_role_policy(
        RoleName=names.drill_role, PolicyName="read-app-parameters",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ACTION,
            "Resource": names.arn("ssm", "parameter/my-app/dev/*")}]}))
    return names.drill_role


EXERCISES = [
    Exercise(
        name="failed_stage_filter", chapter="07",
        task=(f"CodePipeline publishes no per-stage failure count. Add a metric filter to the "
              f"pipeline-events log group that publishes {FAILED_FILTER} (value 1, namespace "
              "names.pipeline_metrics_namespace, dimensions PipelineName and StageName taken from "
              "the event) for every FAILED stage event, and set `failed_filter` to its name."),
        checker=_check_failed_stage_filter,
        hints=("Copy the shape of the SucceededStageExecutions filter shown in Step 2 "
               "(logs.describe_metric_filters).",
               'The pattern: { ($.detail.pipeline = *) && ($.detail.stage = *) && '
               '($.detail.state = "FAILED") }; dimensions {"PipelineName": "$.detail.pipeline", '
               '"StageName": "$.detail.stage"}.'),
        solution_code="""
            logs.put_metric_filter(
                logGroupName=names.pipeline_events_group, filterName="FailedStageExecutions",
                filterPattern='{ ($.detail.pipeline = *) && ($.detail.stage = *) && ($.detail.state = "FAILED") }',
                metricTransformations=[{
                    "metricName": "FailedStageExecutions", "metricNamespace": names.pipeline_metrics_namespace,
                    "metricValue": "1", "unit": "Count",
                    "dimensions": {"PipelineName": "$.detail.pipeline", "StageName": "$.detail.stage"}}])
            failed_filter = "FailedStageExecutions"
        """,
        solve=_solve_failed_stage_filter,
    ),
    Exercise(
        name="drill_role", chapter="07",
        task=("Fix the missing-permission drill the way you would fix it for real: give the drill "
              "role back the action its AccessDenied names, on the app's parameters only (not "
              "Resource '*'), and set `fixed_role` to the role's name."),
        checker=_check_drill_role,
        hints=("iam_helpers.explain_denied(...) above says which action on which resource the role lacks.",
               "iam.put_role_policy(RoleName=names.drill_role, PolicyName=..., PolicyDocument=...) with "
               "a statement allowing ssm:GetParameters on "
               "arn:aws:ssm:<region>:<account>:parameter/my-app/dev/*."),
        solution_code="""
            iam.put_role_policy(RoleName=names.drill_role, PolicyName="read-app-parameters",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                    "Effect": "Allow", "Action": "ssm:GetParameters",
                                    "Resource": names.arn("ssm", "parameter/my-app/dev/*")}]}))
            fixed_role = names.drill_role
        """,
        solve=_solve_drill_role,
    ),
]
