"""Pipelines act as their role: missing permissions fail where AWS fails them, with AWS's words."""

import json
import time

from pipeline_helpers import (
    action,
    action_state,
    approval,
    declaration,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_deploy,
    s3_source,
    unique,
    wait_for,
    wait_for_execution,
    zip_bytes,
)


def scoped_policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_least_privilege_role_runs_its_pipeline_and_nothing_else(aws):
    store, source = make_bucket(aws), make_bucket(aws)
    site, elsewhere = make_bucket(aws, versioned=False), make_bucket(aws, versioned=False)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"index.html": "hi"}))
    role_name = unique("pipeline-lp")
    role = make_role(aws, name=role_name, actions=[])
    aws("iam").put_role_policy(RoleName=role_name, PolicyName="least-privilege",
                               PolicyDocument=scoped_policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{store}/*", f"arn:aws:s3:::{source}/*",
                      f"arn:aws:s3:::{site}/*"]},
        {"Effect": "Allow", "Action": "s3:GetBucketVersioning",
         "Resource": f"arn:aws:s3:::{source}"}))
    cp = aws("codepipeline")
    good = unique("lp-good")
    cp.create_pipeline(pipeline=declaration(good, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(site)])]))
    assert wait_for_execution(cp, good, latest_execution_id(cp, good)) == "Succeeded"

    bad = unique("lp-bad")
    cp.create_pipeline(pipeline=declaration(bad, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(elsewhere)])]))
    assert wait_for_execution(cp, bad, latest_execution_id(cp, bad)) == "Failed"
    error = action_state(cp, bad, "Deploy", "Deploy")["latestExecution"]["errorDetails"]
    assert error["message"].startswith("The provided role does not have permissions")
    assert f"assumed-role/{role_name}/" in error["message"]
    assert f"s3:PutObject on resource: arn:aws:s3:::{elsewhere}/index.html" in error["message"]


def test_missing_codebuild_start_build_fails_the_build_action(aws):
    store, source = make_bucket(aws), make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"a": "b"}))
    role = make_role(aws, actions=["s3:*"])
    cp = aws("codepipeline")
    name = unique("no-build")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]),
        ("Build", [action("Build", "Build", "CodeBuild", {"ProjectName": "my-app-build"},
                          inputs=["SourceOutput"])])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Failed"
    message = action_state(cp, name, "Build", "Build")["latestExecution"]["errorDetails"]["message"]
    assert "codebuild:StartBuild" in message
    assert "arn:aws:codebuild:us-east-1:123456789012:project/my-app-build" in message


def test_explicit_deny_beats_the_allow(aws):
    store, source = make_bucket(aws), make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"a": "b"}))
    topic = aws("sns").create_topic(Name=unique("approvals"))["TopicArn"]
    role_name = unique("deny")
    role = make_role(aws, name=role_name)  # allows sns:Publish among others
    aws("iam").put_role_policy(RoleName=role_name, PolicyName="no-notifications",
                               PolicyDocument=scoped_policy(
                                   {"Effect": "Deny", "Action": "sns:Publish", "Resource": topic}))
    cp = aws("codepipeline")
    name = unique("deny-sns")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval(topic=topic)])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Failed"
    message = action_state(cp, name, "Approval", "Approve")["latestExecution"]["errorDetails"][
        "message"]
    assert "sns:Publish" in message and "explicit deny" in message


def test_a_rule_whose_role_cannot_start_the_pipeline_starts_nothing(aws):
    store, source = make_bucket(aws), make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"a": "b"}))
    cp, events = aws("codepipeline"), aws("events")
    name = unique("rule-denied")
    cp.create_pipeline(pipeline=declaration(name, make_role(aws), store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    arn = cp.get_pipeline(name=name)["metadata"]["pipelineArn"]
    rule = unique("denied-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["labkit.test"],
                                                        "detail": {"run": [name]}}))
    weak_role = make_role(aws, service="events.amazonaws.com", actions=["sns:Publish"])
    events.put_targets(Rule=rule, Targets=[{"Id": "p", "Arn": arn, "RoleArn": weak_role}])
    events.put_events(Entries=[{"Source": "labkit.test", "DetailType": "Go",
                                "Detail": json.dumps({"run": name})}])

    def failed_invocations():
        stats = aws("cloudwatch").get_metric_statistics(
            Namespace="AWS/Events", MetricName="FailedInvocations",
            Dimensions=[{"Name": "RuleName", "Value": rule}], Statistics=["Sum"], Period=60,
            StartTime=time.time() - 600, EndTime=time.time() + 600)
        return sum(p["Sum"] for p in stats["Datapoints"])

    assert wait_for(failed_invocations, what="a failed invocation") == 1
    triggers = [s["trigger"]["triggerType"] for s in cp.list_pipeline_executions(
        pipelineName=name)["pipelineExecutionSummaries"]]
    assert triggers == ["CreatePipeline"]
