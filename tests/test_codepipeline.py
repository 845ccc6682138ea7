"""CodePipeline in the emulator: definitions, the execution engine, approvals, modes, retries."""

import json

import pytest
from botocore.exceptions import ClientError
from pipeline_helpers import (
    action,
    action_state,
    approval,
    declaration,
    execution_status,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_deploy,
    s3_source,
    unique,
    wait_for,
    wait_for_approval_token,
    wait_for_execution,
    zip_bytes,
)


@pytest.fixture(scope="module")
def role(aws):
    return make_role(aws)


@pytest.fixture(scope="module")
def store(aws):
    return make_bucket(aws)


@pytest.fixture
def source(aws):
    bucket = make_bucket(aws)
    aws("s3").put_object(Bucket=bucket, Key="source.zip",
                         Body=zip_bytes({"index.html": "<h1>v1</h1>", "app/main.js": "1"}))
    return bucket


@pytest.fixture
def approval_queue(aws):
    """An SNS topic whose messages land in an SQS queue the test can read."""
    sqs, sns = aws("sqs"), aws("sns")
    url = sqs.create_queue(QueueName=unique("approvals"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    topic = sns.create_topic(Name=unique("approvals"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def test_source_approval_deploy_runs_for_real(aws, role, store, source, approval_queue):
    cp, topic, queue_url = aws("codepipeline"), *approval_queue
    target = make_bucket(aws, versioned=False)
    name = unique("pipe")
    created = cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source, namespace="SourceVariables")]),
        ("Approval", [approval(topic=topic)]),
        ("Deploy", [s3_deploy(target)]),
    ]), tags=[{"key": "labkit:lab", "value": "test"}])
    assert created["pipeline"]["version"] == 1
    assert created["pipeline"]["pipelineType"] == "V1"
    # A new pipeline starts its first execution by itself.
    execution_id = latest_execution_id(cp, name)
    summary = cp.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"][0]
    assert summary["trigger"]["triggerType"] == "CreatePipeline"

    token = wait_for_approval_token(cp, name, "Approval", "Approve")
    state = cp.get_pipeline_state(name=name)["stageStates"]
    assert [s["latestExecution"]["status"] for s in state[:2]] == ["Succeeded", "InProgress"]
    assert "latestExecution" not in state[2]
    assert state[0]["actionStates"][0]["currentRevision"]["revisionId"]

    message = json.loads(json.loads(aws("sqs").receive_message(QueueUrl=queue_url)["Messages"][0][
        "Body"])["Message"])
    assert message["approval"]["token"] == token
    assert message["approval"]["pipelineName"] == name
    assert message["approval"]["customData"] == "Please review"

    approved = cp.put_approval_result(pipelineName=name, stageName="Approval",
                                      actionName="Approve", token=token,
                                      result={"status": "Approved", "summary": "looks good"})
    assert approved["approvedAt"]
    assert wait_for_execution(cp, name, execution_id) == "Succeeded"
    keys = {o["Key"] for o in aws("s3").list_objects_v2(Bucket=target)["Contents"]}
    assert keys == {"index.html", "app/main.js"}

    details = cp.list_action_executions(pipelineName=name,
                                        filter={"pipelineExecutionId": execution_id})
    by_action = {d["actionName"]: d for d in details["actionExecutionDetails"]}
    assert set(by_action) == {"Source", "Approve", "Deploy"}
    assert by_action["Approve"]["output"]["executionResult"]["externalExecutionSummary"] == \
        "looks good"
    source_out = by_action["Source"]["output"]
    assert source_out["outputVariables"]["VersionId"]
    artifact = source_out["outputArtifacts"][0]
    assert artifact["name"] == "SourceOutput"
    assert artifact["s3location"]["bucket"] == store
    assert artifact["s3location"]["key"].startswith(f"{name[:20]}/SourceOutput/")
    assert by_action["Deploy"]["input"]["inputArtifacts"][0]["s3location"] == \
        artifact["s3location"]
    execution = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)
    assert execution["pipelineExecution"]["artifactRevisions"][0]["name"] == "Source"


def test_rejection_fails_the_execution_and_is_counted(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("reject")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    execution_id = latest_execution_id(cp, name)
    token = wait_for_approval_token(cp, name, "Approval", "Approve")
    with pytest.raises(ClientError) as wrong:
        cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                               token="not-the-token", result={"status": "Approved", "summary": "x"})
    assert wrong.value.response["Error"]["Code"] == "InvalidApprovalTokenException"
    cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                           token=token, result={"status": "Rejected", "summary": "not today"})
    with pytest.raises(ClientError) as twice:
        cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                               token=token, result={"status": "Approved", "summary": "x"})
    assert twice.value.response["Error"]["Code"] == "ApprovalAlreadyCompletedException"
    assert wait_for_execution(cp, name, execution_id) == "Failed"
    latest = action_state(cp, name, "Approval", "Approve")["latestExecution"]
    assert latest["status"] == "Failed" and "not today" in latest["errorDetails"]["message"]
    metrics = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/CodePipeline", MetricName="FailedPipelineExecutions",
        Dimensions=[{"Name": "PipelineName", "Value": name}], Statistics=["Sum"], Period=60,
        StartTime="2020-01-01", EndTime="2100-01-01")
    assert sum(p["Sum"] for p in metrics["Datapoints"]) == 1


@pytest.mark.parametrize("change, error, words", [
    (lambda d: d["stages"].pop(), "InvalidStructureException", "minimum of 2 stages"),
    (lambda d: d.update(roleArn="arn:aws:iam::123456789012:role/nope"),
     "InvalidStructureException", "not authorized to perform AssumeRole"),
    (lambda d: d["artifactStore"].update(location="no-such-bucket-xyz"),
     "InvalidStructureException", "does not exist"),
    (lambda d: d["stages"][1]["actions"][0]["actionTypeId"].update(provider="Nope"),
     "InvalidActionDeclarationException", "is not available"),
    (lambda d: d["stages"][1]["actions"][0]["configuration"].pop("BucketName"),
     "InvalidActionDeclarationException", "missing required configuration 'BucketName'"),
    (lambda d: d["stages"][1]["actions"][0].update(inputArtifacts=[{"name": "Nothing"}]),
     "InvalidStructureException", "Input artifact 'Nothing'"),
    (lambda d: d["stages"][1]["actions"][0].update(inputArtifacts=[]),
     "InvalidActionDeclarationException", "less than the minimum count (1)"),
    (lambda d: d["stages"][1]["actions"].append(d["stages"][0]["actions"][0]),
     "InvalidStructureException", "only be in the first stage"),
])
def test_invalid_declarations_are_refused_with_aws_errors(aws, role, store, change, error, words):
    cp = aws("codepipeline")
    name = unique("invalid")
    bad = declaration(name, role, store, [("Source", [s3_source("any-bucket")]),
                                          ("Deploy", [s3_deploy("any-bucket")])])
    change(bad)
    with pytest.raises(ClientError) as err:
        cp.create_pipeline(pipeline=bad)
    assert err.value.response["Error"]["Code"] == error
    assert words in err.value.response["Error"]["Message"]
    # Nothing half-created.
    with pytest.raises(ClientError) as missing:
        cp.get_pipeline(name=name)
    assert missing.value.response["Error"]["Code"] == "PipelineNotFoundException"


def test_role_must_trust_codepipeline(aws, store):
    cp = aws("codepipeline")
    wrong_role = make_role(aws, service="codebuild.amazonaws.com")
    with pytest.raises(ClientError) as err:
        cp.create_pipeline(pipeline=declaration(unique("trust"), wrong_role, store, [
            ("Source", [s3_source("b")]), ("Approval", [approval()])]))
    assert "AssumeRole" in err.value.response["Error"]["Message"]


def test_superseded_mode_replaces_the_waiting_execution(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("superseded")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    first = latest_execution_id(cp, name)
    token = wait_for_approval_token(cp, name, "Approval", "Approve")
    second = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def waiting_at_approval(execution_id):
        stage = cp.get_pipeline_state(name=name)["stageStates"][1]
        return stage.get("inboundExecution", {}).get("pipelineExecutionId") == execution_id

    wait_for(lambda: waiting_at_approval(second), what="second execution to wait")
    third = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    assert wait_for_execution(cp, name, second) == "Superseded"
    wait_for(lambda: waiting_at_approval(third), what="third execution to wait")
    cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                           token=token, result={"status": "Approved", "summary": "ok"})
    assert wait_for_execution(cp, name, first) == "Succeeded"
    token3 = wait_for_approval_token(cp, name, "Approval", "Approve", execution_id=third)
    cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                           token=token3, result={"status": "Approved", "summary": "ok"})
    assert wait_for_execution(cp, name, third) == "Succeeded"


def test_queued_mode_runs_waiting_executions_in_order(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("queued")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])],
        pipelineType="V2", executionMode="QUEUED"))
    first = latest_execution_id(cp, name)
    second = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    third = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    for execution_id in (first, second, third):
        token = wait_for_approval_token(cp, name, "Approval", "Approve", execution_id=execution_id)
        assert execution_status(cp, name, execution_id) == "InProgress"
        cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                               token=token, result={"status": "Approved", "summary": "ok"})
        assert wait_for_execution(cp, name, execution_id) == "Succeeded"


def test_disabled_transition_holds_executions_until_enabled(aws, role, store, source):
    cp = aws("codepipeline")
    target = make_bucket(aws, versioned=False)
    name = unique("transition")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(target)])]))
    wait_for_execution(cp, name, latest_execution_id(cp, name))
    cp.disable_stage_transition(pipelineName=name, stageName="Deploy", transitionType="Inbound",
                                reason="change freeze")
    execution_id = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def waiting():
        stage = cp.get_pipeline_state(name=name)["stageStates"][1]
        return (stage.get("inboundExecution", {}).get("pipelineExecutionId") == execution_id
                and stage["inboundTransitionState"])

    transition = wait_for(waiting, what="execution to wait at the disabled transition")
    assert transition["enabled"] is False and transition["disabledReason"] == "change freeze"
    assert execution_status(cp, name, execution_id) == "InProgress"
    cp.enable_stage_transition(pipelineName=name, stageName="Deploy", transitionType="Inbound")
    assert wait_for_execution(cp, name, execution_id) == "Succeeded"


def test_stop_and_abandon_an_approval(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("stop")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    execution_id = latest_execution_id(cp, name)
    wait_for_approval_token(cp, name, "Approval", "Approve")
    cp.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id,
                               abandon=True, reason="wrong build")
    assert wait_for_execution(cp, name, execution_id) == "Stopped"
    assert action_state(cp, name, "Approval", "Approve")["latestExecution"]["status"] == \
        "Abandoned"
    with pytest.raises(ClientError) as err:
        cp.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)
    assert err.value.response["Error"]["Code"] == "PipelineExecutionNotStoppableException"


def test_retry_reruns_the_failed_stage_with_the_same_revision(aws, role, store, source):
    cp = aws("codepipeline")
    target = unique("created-later")
    name = unique("retry")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(target)])]))
    execution_id = latest_execution_id(cp, name)
    assert wait_for_execution(cp, name, execution_id) == "Failed"
    failed = action_state(cp, name, "Deploy", "Deploy")["latestExecution"]
    assert target in failed["errorDetails"]["message"]
    revision = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["artifactRevisions"][0]["revisionId"]
    # A fix made outside the source: the bucket now exists. A new version of the source must
    # not be picked up by a retry.
    make_bucket(aws, target, versioned=False)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"index.html": "v2"}))
    with pytest.raises(ClientError) as err:
        cp.retry_stage_execution(pipelineName=name, stageName="Source",
                                 pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")
    assert err.value.response["Error"]["Code"] == "StageNotRetryableException"
    cp.retry_stage_execution(pipelineName=name, stageName="Deploy",
                             pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")
    assert wait_for_execution(cp, name, execution_id) == "Succeeded"
    after = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)
    assert after["pipelineExecution"]["artifactRevisions"][0]["revisionId"] == revision
    body = aws("s3").get_object(Bucket=target, Key="index.html")["Body"].read()
    assert body == b"<h1>v1</h1>"
    deploy_runs = [d for d in cp.list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
        if d["actionName"] == "Deploy"]
    assert [d["status"] for d in deploy_runs] == ["Succeeded", "Failed"]


def test_parallel_actions_and_variables_between_actions(aws, role, store, source):
    cp = aws("codepipeline")
    target = make_bucket(aws, versioned=False)
    name = unique("parallel")
    deploy_a = s3_deploy(target, name="DeployA", ObjectKey="a")
    deploy_b = s3_deploy(target, name="DeployB", ObjectKey="b")
    by_version = action("ByVersion", "Deploy", "S3",
                        {"BucketName": target, "Extract": "false",
                         "ObjectKey": "releases/#{SourceVariables.VersionId}.zip"},
                        inputs=["SourceOutput"], run_order=2)
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source, namespace="SourceVariables")]),
        ("Deploy", [deploy_a, deploy_b, by_version])]))
    execution_id = latest_execution_id(cp, name)
    assert wait_for_execution(cp, name, execution_id) == "Succeeded"
    details = cp.list_action_executions(pipelineName=name)["actionExecutionDetails"]
    runs = {d["actionName"]: d for d in details}
    version = runs["Source"]["output"]["outputVariables"]["VersionId"]
    assert runs["ByVersion"]["input"]["resolvedConfiguration"]["ObjectKey"] == \
        f"releases/{version}.zip"
    # runOrder 1 actions ran side by side, before the runOrder 2 action started.
    assert runs["ByVersion"]["startTime"] >= max(runs["DeployA"]["lastUpdateTime"],
                                                 runs["DeployB"]["lastUpdateTime"])
    keys = {o["Key"] for o in aws("s3").list_objects_v2(Bucket=target)["Contents"]}
    assert {"a/index.html", "b/index.html", f"releases/{version}.zip"} <= keys


def test_eventbridge_rule_targeting_the_pipeline_starts_it(aws, role, store, source):
    cp, events = aws("codepipeline"), aws("events")
    name = unique("rule")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    arn = cp.get_pipeline(name=name)["metadata"]["pipelineArn"]
    rule = unique("start-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["labkit.test"],
                                                        "detail": {"pipeline": [name]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "pipeline", "Arn": arn,
                                            "RoleArn": make_role(aws, service="events.amazonaws.com")}])
    events.put_events(Entries=[{"Source": "labkit.test", "DetailType": "Go",
                                "Detail": json.dumps({"pipeline": name})}])
    summaries = wait_for(lambda: [s for s in cp.list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"] if s["trigger"]["triggerType"] == "CloudWatchEvent"],
        what="an execution started by the rule")
    assert summaries[0]["trigger"]["triggerDetail"].endswith(f"rule/{rule}")
    events.remove_targets(Rule=rule, Ids=["pipeline"])
    events.delete_rule(Name=rule)


def test_definitions_update_get_list_and_delete(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("crud")
    pipeline = declaration(name, role, store, [("Source", [s3_source(source)]),
                                                ("Approval", [approval()])])
    cp.create_pipeline(pipeline=pipeline)
    with pytest.raises(ClientError) as err:
        cp.create_pipeline(pipeline=pipeline)
    assert err.value.response["Error"]["Code"] == "PipelineNameInUseException"
    pipeline["stages"][1]["actions"][0]["name"] = "ApproveRelease"
    updated = cp.update_pipeline(pipeline=pipeline)["pipeline"]
    assert updated["version"] == 2
    assert cp.get_pipeline(name=name, version=1)["pipeline"]["stages"][1]["actions"][0][
        "name"] == "Approve"
    with pytest.raises(ClientError) as err:
        cp.get_pipeline(name=name, version=7)
    assert err.value.response["Error"]["Code"] == "PipelineVersionNotFoundException"
    names = [p["name"] for p in cp.list_pipelines()["pipelines"]]
    assert name in names
    arn = cp.get_pipeline(name=name)["metadata"]["pipelineArn"]
    cp.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "blue"}])
    assert {"key": "team", "value": "blue"} in cp.list_tags_for_resource(resourceArn=arn)["tags"]
    cp.delete_pipeline(name=name)
    assert name not in [p["name"] for p in cp.list_pipelines()["pipelines"]]
    with pytest.raises(ClientError) as err:
        cp.get_pipeline_state(name=name)
    assert err.value.response["Error"]["Code"] == "PipelineNotFoundException"


def test_state_change_events_reach_a_rule(aws, role, store, source):
    cp, sqs, events = aws("codepipeline"), aws("sqs"), aws("events")
    name = unique("events")
    url = sqs.create_queue(QueueName=unique("pipeline-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    rule = unique("pipeline-events")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.codepipeline"], "detail": {"pipeline": [name]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    target = make_bucket(aws, versioned=False)
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(target)])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Succeeded"

    def received():
        found = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(m["Body"]) for m in batch]
        return found

    seen = wait_for(lambda: (r := received()) and r, what="pipeline events")
    while len(seen) < 10:
        more = received()
        if not more:
            break
        seen += more
    kinds = [(e["detail-type"].split()[1], e["detail"]["state"]) for e in seen]
    assert ("Pipeline", "STARTED") in kinds and ("Pipeline", "SUCCEEDED") in kinds
    assert ("Stage", "SUCCEEDED") in kinds and ("Action", "SUCCEEDED") in kinds
    pipeline_events = [e for e in seen if e["detail-type"].startswith("CodePipeline Pipeline")]
    assert all(e["source"] == "aws.codepipeline" for e in seen)
    assert pipeline_events[0]["detail"]["execution-trigger"]["trigger-type"] == "CreatePipeline"
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)


def test_poll_for_source_changes_starts_a_new_execution(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("poll")
    polled = s3_source(source)
    polled["configuration"]["PollForSourceChanges"] = "true"
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [polled]), ("Deploy", [s3_deploy(make_bucket(aws, versioned=False))])]))
    wait_for_execution(cp, name, latest_execution_id(cp, name))
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"index.html": "v2"}))
    polled_runs = wait_for(lambda: [s for s in cp.list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"] if s["trigger"]["triggerType"] == "PollForSourceChanges"],
        what="an execution started by polling")
    assert len(polled_runs) == 1


def test_v2_variables_and_idempotent_start(aws, role, store, source):
    cp = aws("codepipeline")
    target = make_bucket(aws, versioned=False)
    name = unique("variables")
    deploy = action("Deploy", "Deploy", "S3", {"BucketName": target, "Extract": "false",
                                                "ObjectKey": "#{variables.environment}/app.zip"},
                    inputs=["SourceOutput"])
    cp.create_pipeline(pipeline=declaration(
        name, role, store, [("Source", [s3_source(source)]), ("Deploy", [deploy])],
        pipelineType="V2", variables=[{"name": "environment", "defaultValue": "dev"}]))
    wait_for_execution(cp, name, latest_execution_id(cp, name))
    first = cp.start_pipeline_execution(name=name, clientRequestToken="release-42",
                                        variables=[{"name": "environment", "value": "prod"}])
    again = cp.start_pipeline_execution(name=name, clientRequestToken="release-42",
                                        variables=[{"name": "environment", "value": "prod"}])
    assert first["pipelineExecutionId"] == again["pipelineExecutionId"]
    assert wait_for_execution(cp, name, first["pipelineExecutionId"]) == "Succeeded"
    execution = cp.get_pipeline_execution(pipelineName=name,
                                          pipelineExecutionId=first["pipelineExecutionId"])
    assert execution["pipelineExecution"]["variables"] == [
        {"name": "environment", "resolvedValue": "prod"}]
    keys = {o["Key"] for o in aws("s3").list_objects_v2(Bucket=target)["Contents"]}
    assert keys == {"dev/app.zip", "prod/app.zip"}
    with pytest.raises(ClientError) as err:
        cp.start_pipeline_execution(name=name, variables=[{"name": "nope", "value": "x"}])
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_v1_pipelines_refuse_v2_features(aws, role, store, source):
    with pytest.raises(ClientError) as err:
        aws("codepipeline").create_pipeline(pipeline=declaration(
            unique("v1"), role, store, [("Source", [s3_source(source)]),
                                        ("Approval", [approval()])], executionMode="QUEUED"))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "V2" in err.value.response["Error"]["Message"]


def test_deleting_a_pipeline_stops_its_running_execution(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("deleted")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Approval", [approval()])]))
    wait_for_approval_token(cp, name, "Approval", "Approve")
    cp.delete_pipeline(name=name)
    cp.delete_pipeline(name=name)  # deleting again is not an error, as on AWS
    assert name not in [p["name"] for p in cp.list_pipelines()["pipelines"]]


def test_action_types_describe_the_emulated_providers(aws):
    cp = aws("codepipeline")
    types = cp.list_action_types(actionOwnerFilter="AWS")["actionTypes"]
    providers = {(t["id"]["category"], t["id"]["provider"]) for t in types}
    assert {("Source", "CodeCommit"), ("Build", "CodeBuild"), ("Deploy", "CodeDeploy"),
            ("Approval", "Manual")} <= providers
    build = cp.get_action_type(category="Build", owner="AWS", provider="CodeBuild", version="1")
    assert build["actionType"]["inputArtifactDetails"] == {"minimumCount": 1, "maximumCount": 5}


def test_listing_pages_through_executions(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("pages")
    target = make_bucket(aws, versioned=False)
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(target)])],
        pipelineType="V2", executionMode="PARALLEL"))
    ids = [cp.start_pipeline_execution(name=name)["pipelineExecutionId"] for _ in range(3)]
    for execution_id in ids:
        assert wait_for_execution(cp, name, execution_id) == "Succeeded"
    seen, token = [], None
    while True:
        page = cp.list_pipeline_executions(pipelineName=name, maxResults=2,
                                           **({"nextToken": token} if token else {}))
        seen += [s["pipelineExecutionId"] for s in page["pipelineExecutionSummaries"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(seen) == 4 and seen[:3] == list(reversed(ids))


TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  TopicName:
    Type: String
  Release:
    Type: String
    Default: first
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref TopicName
Outputs:
  TopicArn:
    Value: !Ref Topic
  Release:
    Value: !Ref Release
"""


def test_cloudformation_actions_create_change_and_delete_a_stack(aws, role, store):
    cp, cfn = aws("codepipeline"), aws("cloudformation")
    source = make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({
        "infra/template.yaml": TEMPLATE,
        "infra/config.json": json.dumps({"Parameters": {"TopicName": "from-config"}})}))
    stack, topic = unique("stack"), unique("topic")
    deploy = action("CreateStack", "Deploy", "CloudFormation", {
        "ActionMode": "CREATE_UPDATE", "StackName": stack,
        "TemplatePath": "SourceOutput::infra/template.yaml",
        "TemplateConfiguration": "SourceOutput::infra/config.json",
        "ParameterOverrides": json.dumps({"TopicName": topic})},
        inputs=["SourceOutput"], namespace="StackOutputs")
    plan = action("Plan", "Deploy", "CloudFormation", {
        "ActionMode": "CHANGE_SET_REPLACE", "StackName": stack, "ChangeSetName": "next",
        "TemplatePath": "SourceOutput::infra/template.yaml",
        "ParameterOverrides": json.dumps({"TopicName": topic, "Release": "second"})},
        inputs=["SourceOutput"], run_order=2)
    execute = action("Execute", "Deploy", "CloudFormation", {
        "ActionMode": "CHANGE_SET_EXECUTE", "StackName": stack, "ChangeSetName": "next"},
        run_order=3)
    name = unique("cfn")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]), ("Infrastructure", [deploy, plan, execute])]))
    execution_id = latest_execution_id(cp, name)
    status = wait_for_execution(cp, name, execution_id)
    assert status == "Succeeded", cp.get_pipeline_state(name=name)["stageStates"]
    runs = {d["actionName"]: d for d in cp.list_action_executions(pipelineName=name)[
        "actionExecutionDetails"]}
    assert runs["CreateStack"]["output"]["outputVariables"]["TopicArn"].endswith(f":{topic}")
    assert runs["CreateStack"]["output"]["outputVariables"]["Release"] == "first"
    # The change set was created for review, then executed by the next action.
    assert "ready to review" in runs["Plan"]["output"]["executionResult"][
        "externalExecutionSummary"]
    change_set = cfn.describe_change_set(StackName=stack, ChangeSetName="next")
    assert change_set["ExecutionStatus"] == "EXECUTE_COMPLETE"
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    remover = unique("cfn-delete")
    cp.create_pipeline(pipeline=declaration(remover, role, store, [
        ("Source", [s3_source(source)]),
        ("Remove", [action("Delete", "Deploy", "CloudFormation",
                           {"ActionMode": "DELETE_ONLY", "StackName": stack})])]))
    assert wait_for_execution(cp, remover, latest_execution_id(cp, remover)) == "Succeeded"
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName=stack)


def test_cloudformation_action_reports_a_missing_template(aws, role, store, source):
    cp = aws("codepipeline")
    name = unique("cfn-missing")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]),
        ("Infrastructure", [action("Create", "Deploy", "CloudFormation", {
            "ActionMode": "CREATE_UPDATE", "StackName": unique("stack"),
            "TemplatePath": "SourceOutput::nope.yaml"}, inputs=["SourceOutput"])])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Failed"
    error = action_state(cp, name, "Infrastructure", "Create")["latestExecution"]["errorDetails"]
    assert "nope.yaml" in error["message"]


def test_a_project_with_its_own_s3_source_and_artifacts_builds_for_the_pipeline(aws, role, store):
    """The pipeline overrides the project's source, source version and artifacts, as on AWS."""
    source, own = make_bucket(aws), make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"greeting.txt": "hi"}))
    project = unique("standalone")
    aws("codebuild").create_project(
        name=project, serviceRole=make_role(aws, service="codebuild.amazonaws.com"),
        source={"type": "S3", "location": f"{own}/elsewhere.zip", "buildspec": (
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            "      - mkdir -p out && tr a-z A-Z < greeting.txt > out/greeting.txt\n"
            "artifacts:\n  base-directory: out\n  files:\n    - '**/*'\n")},
        sourceVersion="not-a-real-version",
        artifacts={"type": "S3", "location": own, "name": "standalone.zip"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    site = make_bucket(aws, versioned=False)
    deploy = action("Deploy", "Deploy", "S3", {"BucketName": site, "Extract": "true"},
                    inputs=["Built"])
    cp = aws("codepipeline")
    name = unique("own-artifacts")
    cp.create_pipeline(pipeline=declaration(name, role, store, [
        ("Source", [s3_source(source)]),
        ("Build", [action("Build", "Build", "CodeBuild", {"ProjectName": project},
                          inputs=["SourceOutput"], outputs=["Built"])]),
        ("Deploy", [deploy])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Succeeded"
    body = aws("s3").get_object(Bucket=site, Key="greeting.txt")["Body"].read()
    assert body.strip() == b"HI"
    assert "Contents" not in aws("s3").list_objects_v2(Bucket=own)  # nothing went to the project's own place
