"""Finders for monitoring and events: CloudWatch alarms and dashboards, log groups, EventBridge rules, budgets."""

from __future__ import annotations

from botocore.exceptions import ClientError

from labkit.teardown.context import FindContext
from labkit.teardown.core import LOOKUP_ERRORS, Resource, paginate, tags_from_list


def find_alarms(ctx: FindContext) -> list[Resource]:
    cw = ctx.client("cloudwatch")
    found = []
    pages = cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm",
                                                                     "CompositeAlarm"])
    for page in pages:
        for alarm in (*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])):
            name = alarm["AlarmName"]
            try:
                tags = tags_from_list(cw.list_tags_for_resource(
                    ResourceARN=alarm["AlarmArn"]).get("Tags"))
            except LOOKUP_ERRORS:
                tags = {}
            if ctx.owns("cloudwatch alarm", name, tags):
                found.append(Resource("cloudwatch alarm", name,
                                      lambda n=name: cw.delete_alarms(AlarmNames=[n])))
    return found


def find_dashboards(ctx: FindContext) -> list[Resource]:
    cw = ctx.client("cloudwatch")
    found = []
    for dashboard in paginate(cw, "list_dashboards", "DashboardEntries"):
        name = dashboard["DashboardName"]
        if ctx.owns("cloudwatch dashboard", name):
            found.append(Resource("cloudwatch dashboard", name,
                                  lambda n=name: cw.delete_dashboards(DashboardNames=[n])))
    return found


def find_log_groups(ctx: FindContext) -> list[Resource]:
    logs = ctx.client("logs")
    found = []
    for group in paginate(logs, "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        try:
            tags = logs.list_tags_log_group(logGroupName=name).get("tags") or {}
        except LOOKUP_ERRORS:
            tags = {}
        if ctx.owns("logs log group", name, tags):
            found.append(Resource("logs log group", name,
                                  lambda n=name: logs.delete_log_group(logGroupName=n)))
    return found


def find_log_resource_policies(ctx: FindContext) -> list[Resource]:
    """Account-wide CloudWatch Logs resource policies (e.g. EventBridge → log group); untaggable."""
    logs = ctx.client("logs")
    found = []
    for policy in logs.describe_resource_policies().get("resourcePolicies", []):
        name = policy["policyName"]
        if ctx.owns("logs resource policy", name):
            found.append(Resource("logs resource policy", name,
                                  lambda n=name: logs.delete_resource_policy(policyName=n)))
    return found


def find_event_rules(ctx: FindContext) -> list[Resource]:
    events = ctx.client("events")
    found = []
    for rule in paginate(events, "list_rules", "Rules"):
        name = rule["Name"]
        if rule.get("ManagedBy"):
            continue  # rules AWS services manage are deleted with their service's resource
        try:
            tags = tags_from_list(events.list_tags_for_resource(ResourceARN=rule["Arn"]).get(
                "Tags"))
        except LOOKUP_ERRORS:
            tags = {}
        if ctx.owns("events rule", name, tags):
            found.append(Resource("events rule", name, _delete_rule(events, name)))
    return found


def _delete_rule(events, name: str):
    def delete():
        ids = [t["Id"] for t in paginate(events, "list_targets_by_rule", "Targets", Rule=name)]
        for start in range(0, len(ids), 10):
            events.remove_targets(Rule=name, Ids=ids[start:start + 10])
        events.delete_rule(Name=name)
    return delete


def find_budgets(ctx: FindContext) -> list[Resource]:
    budgets = ctx.client("budgets")
    found = []
    try:
        listed = paginate(budgets, "describe_budgets", "Budgets", AccountId=ctx.account_id)
    except ClientError as exc:
        if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
            return []  # an account without budgets answers NotFoundException
        raise
    for budget in listed:
        name = budget["BudgetName"]
        if ctx.owns("budgets budget", name):
            found.append(Resource("budgets budget", name,
                                  lambda n=name: budgets.delete_budget(
                                      AccountId=ctx.account_id, BudgetName=n)))
    return found
