"""Chapter 07: its exercises pass on their solutions and fail with their messages on wrong answers;
the troubleshooting helpers read real runs; PutMetricFilter replaces a filter of the same name."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from course_helpers import lab_on
from pipeline_helpers import make_role

import labkit.exercises
from labkit.names import course_names
from labkit.observe import troubleshooting
from labkit.services import iam as iam_helpers

STAGE = "CodePipeline Stage Execution State Change"
PIPELINE = "CodePipeline Pipeline Execution State Change"


def _event(names, detail_type: str, state: str, stage: str | None = None) -> str:
    detail = {"pipeline": names.pipeline, "execution-id": str(uuid.uuid4()), "state": state}
    if stage:
        detail["stage"] = stage
    return json.dumps({"version": "0", "source": "aws.codepipeline", "detail-type": detail_type,
                       "detail": detail})


def _write_events(lab, group: str, messages: list[str]) -> None:
    logs = lab.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = uuid.uuid4().hex
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])


def _checked(exercise, answer) -> tuple[bool | None, str]:
    result = exercise.check(answer)
    return result.passed, result.message


# --- exercise 1: the failed-stage metric filter --------------------------------------------------

@pytest.fixture
def events_lab(emulator):
    with lab_on(emulator) as lab:
        names = course_names(lab)
        _write_events(lab, names.pipeline_events_group, [
            _event(names, PIPELINE, "STARTED"),
            _event(names, STAGE, "STARTED", "Build"),
            _event(names, STAGE, "FAILED", "Build"),
            _event(names, PIPELINE, "FAILED"),
            _event(names, STAGE, "SUCCEEDED", "Source"),
        ])
        yield lab


def _put_filter(lab, pattern: str, dimensions: dict | None = None, metric: str = "FailedStageExecutions",
                name: str = "FailedStageExecutions") -> None:
    names = course_names(lab)
    lab.client("logs").put_metric_filter(
        logGroupName=names.pipeline_events_group, filterName=name, filterPattern=pattern,
        metricTransformations=[{
            "metricName": metric, "metricNamespace": names.pipeline_metrics_namespace, "metricValue": "1",
            "dimensions": dimensions or {"PipelineName": "$.detail.pipeline", "StageName": "$.detail.stage"}}])


def test_failed_stage_filter_not_attempted_and_unknown_name(events_lab):
    ex = labkit.exercises.for_chapter("07", events_lab)
    assert _checked(ex.failed_stage_filter, None)[0] is None
    passed, message = _checked(ex.failed_stage_filter, "NoSuchFilter")
    assert passed is False and "has no metric filter named 'NoSuchFilter'" in message


def test_failed_stage_filter_too_broad_pattern_is_wrong(events_lab):
    ex = labkit.exercises.for_chapter("07", events_lab)
    _put_filter(events_lab, '{ $.detail.state = "FAILED" }')  # also the pipeline-level FAILED event
    passed, message = _checked(ex.failed_stage_filter, "FailedStageExecutions")
    assert passed is False
    assert "also matches events that are not failed stages" in message and PIPELINE in message


def test_failed_stage_filter_needs_the_stage_dimension(events_lab):
    ex = labkit.exercises.for_chapter("07", events_lab)
    _put_filter(events_lab, '{ ($.detail.stage = *) && ($.detail.state = "FAILED") }',
                dimensions={"PipelineName": "$.detail.pipeline"})
    passed, message = _checked(ex.failed_stage_filter, "FailedStageExecutions")
    assert passed is False and "two dimensions" in message


def test_failed_stage_filter_metric_name(events_lab):
    ex = labkit.exercises.for_chapter("07", events_lab)
    _put_filter(events_lab, '{ ($.detail.stage = *) && ($.detail.state = "FAILED") }', metric="Failures")
    passed, message = _checked(ex.failed_stage_filter, "FailedStageExecutions")
    assert passed is False and "'Failures'" in message


def test_failed_stage_filter_solution_passes_and_publishes(events_lab):
    ex = labkit.exercises.for_chapter("07", events_lab)
    answer = ex.failed_stage_filter.solve()
    passed, message = _checked(ex.failed_stage_filter, answer)
    assert passed is True, message
    # The filter applies to events written after it: one more failed Build adds a datapoint.
    names = course_names(events_lab)
    _write_events(events_lab, names.pipeline_events_group, [_event(names, STAGE, "FAILED", "Build")])
    cloudwatch = events_lab.client("cloudwatch")
    stats = cloudwatch.get_metric_statistics(
        Namespace=names.pipeline_metrics_namespace, MetricName="FailedStageExecutions",
        Dimensions=[{"Name": "PipelineName", "Value": names.pipeline}, {"Name": "StageName", "Value": "Build"}],
        StartTime=datetime.fromtimestamp(time.time() - 600, timezone.utc),
        EndTime=datetime.fromtimestamp(time.time() + 600, timezone.utc), Period=60, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 1.0


def test_failed_stage_filter_without_failures_says_so(emulator):
    with lab_on(emulator) as lab:
        names = course_names(lab)
        _write_events(lab, names.pipeline_events_group, [_event(names, STAGE, "SUCCEEDED", "Build")])
        ex = labkit.exercises.for_chapter("07", lab)
        ex.failed_stage_filter.solve()
        passed, message = _checked(ex.failed_stage_filter, "FailedStageExecutions")
        assert passed is False and "No stage has failed" in message


# --- exercise 2: the drill role's missing permission ---------------------------------------------

@pytest.fixture
def drill_lab(emulator):
    with lab_on(emulator) as lab:
        names = course_names(lab)
        policy = iam_helpers.codebuild_policy(names)
        policy["Statement"] = [s for s in policy["Statement"]
                               if not any(a.startswith("ssm:") for a in s["Action"])]
        iam_helpers.ensure_service_role(lab, names.drill_role, "codebuild.amazonaws.com", policy, "drill")
        yield lab


def _put_statement(lab, statement: dict, name: str = "attempt") -> None:
    lab.client("iam").put_role_policy(
        RoleName=course_names(lab).drill_role, PolicyName=name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def test_drill_role_not_attempted_wrong_role_and_still_missing(drill_lab):
    ex = labkit.exercises.for_chapter("07", drill_lab)
    assert _checked(ex.drill_role, None)[0] is None
    passed, message = _checked(ex.drill_role, "some-other-role")
    assert passed is False and "is not the role the drill used" in message
    passed, message = _checked(ex.drill_role, course_names(drill_lab).drill_role)
    assert passed is False and "still lacks ssm:GetParameters" in message


def test_drill_role_resource_star_is_too_broad(drill_lab):
    ex = labkit.exercises.for_chapter("07", drill_lab)
    _put_statement(drill_lab, {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"})
    passed, message = _checked(ex.drill_role, course_names(drill_lab).drill_role)
    assert passed is False and "lets the role read every parameter" in message


def test_drill_role_explicit_deny_wins(drill_lab):
    ex = labkit.exercises.for_chapter("07", drill_lab)
    ex.drill_role.solve()
    _put_statement(drill_lab, {"Effect": "Deny", "Action": "ssm:GetParameters", "Resource": "*"}, "deny")
    passed, message = _checked(ex.drill_role, course_names(drill_lab).drill_role)
    assert passed is False and "explicit Deny" in message


def test_drill_role_solution_passes(drill_lab):
    ex = labkit.exercises.for_chapter("07", drill_lab)
    passed, message = _checked(ex.drill_role, ex.drill_role.solve())
    assert passed is True, message


def test_drill_role_scoped_to_the_exact_parameter_passes(drill_lab):
    names = course_names(drill_lab)
    _put_statement(drill_lab, {"Effect": "Allow", "Action": ["ssm:GetParameters"],
                               "Resource": [names.arn("ssm", "parameter/my-app/dev/log-level")]})
    ex = labkit.exercises.for_chapter("07", drill_lab)
    assert _checked(ex.drill_role, names.drill_role)[0] is True


# --- the troubleshooting helpers on real runs ------------------------------------------------------

FAILING = """version: 0.2
phases:
  install:
    commands:
      - echo installing
  build:
    commands:
      - exit 3
"""
HANGING = """version: 0.2
phases:
  install:
    commands:
      - until false; do sleep 1; done
"""


@pytest.mark.slow
def test_wait_for_runs_and_build_symptoms(aws, emulator):
    with lab_on(emulator) as lab:
        role = make_role(aws, service="codebuild.amazonaws.com")
        project = f"{lab.prefix}-ch07-drills"
        lab.client("codebuild").create_project(
            name=project, source={"type": "NO_SOURCE", "buildspec": FAILING},
            artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL"})
        codebuild = lab.client("codebuild")
        builds = {
            "exit": codebuild.start_build(projectName=project)["build"]["id"],
            "syntax": codebuild.start_build(projectName=project, buildspecOverride="version: 0.2\nphases: [")["build"]["id"],
            "timeout": codebuild.start_build(projectName=project, buildspecOverride=HANGING, environmentVariablesOverride=[
                {"name": "LABKIT_BUILD_TIMEOUT_SECONDS", "value": "3", "type": "PLAINTEXT"}])["build"]["id"],
        }
        runs = troubleshooting.wait_for_runs(lab, builds, timeout=120)
        assert sorted(runs) == ["exit", "syntax", "timeout"]
        assert troubleshooting.build_symptom(runs["exit"]) == (
            "BUILD: COMMAND_EXECUTION_ERROR Error while executing command: exit 3. Reason: exit status 3")
        assert troubleshooting.build_symptom(runs["syntax"]).startswith("DOWNLOAD_SOURCE: YAML_FILE_ERROR")
        assert runs["timeout"]["buildStatus"] == "TIMED_OUT"
        assert troubleshooting.build_symptom(runs["timeout"]) == "INSTALL: BUILD_TIMED_OUT Build has timed out."

        table = troubleshooting.drill_table([
            {"failure": "timeout", "symptom": troubleshooting.build_symptom(runs["timeout"])},
            {"failure": "test failure", "symptom": troubleshooting.build_symptom(runs["exit"])}])
        assert list(table.columns) == ["failure", "symptom", "where to look", "fix"]
        assert list(table["failure"]) == ["test failure", "timeout"]  # GUIDE's order
        assert all(table["where to look"]) and all(table["fix"])


def test_build_symptom_of_a_build_that_did_not_fail():
    assert troubleshooting.build_symptom({"buildStatus": "SUCCEEDED", "phases": []}) == "SUCCEEDED"


@pytest.mark.slow
def test_wait_for_alarm_message_reads_the_alarm_from_sqs(aws, emulator):
    with lab_on(emulator) as lab:
        sns, sqs, cloudwatch = lab.client("sns"), lab.client("sqs"), lab.client("cloudwatch")
        topic = sns.create_topic(Name=f"{lab.prefix}-alarms")["TopicArn"]
        url = sqs.create_queue(QueueName=f"{lab.prefix}-alarms")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        namespace, name = f"{lab.prefix}/Test", f"{lab.prefix}-failures"
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace=namespace, MetricName="Failures", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="reset")
        since = datetime.now(timezone.utc)
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Failures", "Value": 1.0}])
        message = troubleshooting.wait_for_alarm_message(lab, url, name, "ALARM", since=since, timeout=60)
        assert message["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
        assert message["NewStateValue"] == "ALARM" and message["Trigger"]["MetricName"] == "Failures"


# --- emulator: PutMetricFilter replaces a filter of the same name -----------------------------------

def test_put_metric_filter_twice_keeps_one_filter_and_counts_once(aws):
    logs, cloudwatch = aws("logs"), aws("cloudwatch")
    group, namespace = f"/labkit/ch07-{uuid.uuid4().hex[:8]}", f"Labkit/Ch07-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    for pattern in ("ERROR", "?ERROR ?FATAL"):  # the second call changes the pattern
        logs.put_metric_filter(logGroupName=group, filterName="errors", filterPattern=pattern,
                               metricTransformations=[{"metricName": "Errors", "metricNamespace": namespace,
                                                       "metricValue": "1"}])
    found = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [(f["filterName"], f["filterPattern"]) for f in found] == [("errors", "?ERROR ?FATAL")]
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "ERROR one"}])
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Errors",
        StartTime=datetime.fromtimestamp(time.time() - 600, timezone.utc),
        EndTime=datetime.fromtimestamp(time.time() + 600, timezone.utc), Period=60, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 1.0
    logs.delete_log_group(logGroupName=group)


def test_metric_chart_of_one_minute_gets_readable_minute_ticks():
    import matplotlib.dates as mdates
    import pandas as pd

    from labkit.observe.charts import metric_chart

    stamp = pd.Timestamp("2026-11-26 09:34:00", tz="UTC")
    frame = pd.DataFrame([{"timestamp": stamp, "value": 1.0, "metric": "FailedPipelineExecutions",
                           "stat": "Sum", "dimensions": "", "namespace": "AWS/CodePipeline"}])
    ax = metric_chart(frame).axes[0]
    low, high = (mdates.num2date(x) for x in ax.get_xlim())
    assert (high - low).total_seconds() == 240
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "09:34" in labels and len(labels) == len(set(labels))


FAILING_HOOK_APPSPEC = """version: 0.0
os: linux
files:
  - source: /payload
    destination: /srv/ch07
hooks:
  AfterInstall:
    - location: scripts/check.sh
      timeout: 30
"""
FAILING_HOOK = "#!/bin/bash\necho 'checking the bundle'\necho 'ERROR: node_modules is missing' >&2\nexit 1\n"


@pytest.mark.slow
def test_deployment_symptom_names_event_error_code_and_last_log_line(aws, emulator):
    from bundles import Fleet, s3_revision, tgz_files
    from pipeline_helpers import make_bucket

    fleet = Fleet(aws, emulator, 1)
    try:
        fleet.create_group(make_role(aws, service="codedeploy.amazonaws.com"))
        revision = s3_revision(aws("s3"), make_bucket(aws, versioned=False), "rev/ch07.tgz", tgz_files({
            "appspec.yml": (FAILING_HOOK_APPSPEC, 0o644), "payload/index.html": ("hi\n", 0o644),
            "scripts/check.sh": (FAILING_HOOK, 0o755)}), "tgz")
        deployment_id = fleet.deploy(revision)
        with lab_on(emulator) as lab:
            runs = troubleshooting.wait_for_runs(lab, deployments={"script": deployment_id}, timeout=120)
            assert runs["script"]["status"] == "Failed"
            symptom = troubleshooting.deployment_symptom(lab, deployment_id)
        assert symptom.startswith("AfterInstall: ScriptFailed ")
        assert symptom.endswith("ERROR: node_modules is missing")
    finally:
        fleet.terminate()
