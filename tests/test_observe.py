"""labkit.observe on the fixture emulator after real work: builds (one failing), a V2 pipeline run
approved and one rejected, a CodeDeploy deployment; metrics, history, charts, logs, alarms,
dashboards, the pipeline-events metric filter, measured usage and Cost Explorer."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
import warnings
from datetime import date, datetime, timedelta, timezone

import matplotlib
import pandas as pd
import pytest
from bundles import Fleet, s3_revision, tgz_files
from pipeline_helpers import (
    approval,
    declaration,
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

import labkit
from labkit import metering, prices
from labkit.observe import (
    alarms,
    charts,
    cost_explorer,
    costs,
    dashboards,
    history,
    insights,
    logs,
    metrics,
    pipeline_events,
)

matplotlib.use("Agg")

BUILDSPEC = textwrap.dedent("""\
    version: 0.2
    phases:
      install:
        commands:
          - echo installing
      pre_build:
        commands:
          - echo "pre-build for $LABEL"
      build:
        commands:
          - echo "ERROR-MARKER build says hello $LABEL"
          - test "$FAIL" != 1
""")
HOOK = "#!/bin/bash\necho \"$LIFECYCLE_EVENT ran\"\n"
APPSPEC = """version: 0.0
os: linux
files:
  - source: /payload
    destination: /srv/observe
hooks:
  AfterInstall:
    - location: scripts/hook.sh
      timeout: 30
"""


def run_builds(aws, project: str, overrides: list[dict]) -> list[dict]:
    cb = aws("codebuild")
    ids = [cb.start_build(projectName=project, environmentVariablesOverride=env)["build"]["id"]
           for env in overrides]

    def done():
        builds = cb.batch_get_builds(ids=ids)["builds"]
        return builds if all(b["buildComplete"] for b in builds) else None

    return wait_for(done, 60, what="the builds to finish")


@pytest.fixture(scope="module")
def lab_env(emulator):
    """A Lab for the whole module; the environment connect() changes is restored after."""
    saved = dict(os.environ)
    os.environ["LABKIT_STATE_DIR"] = str(emulator.state_dir)
    try:
        yield labkit.connect(backend="local", port=emulator.port, state_dir=emulator.state_dir,
                             prefix=f"obs{uuid.uuid4().hex[:6]}")
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def activity(aws, emulator, lab_env):
    """Everything the module measures, made once: 3 builds (1 fails, the last with a cache), a
    pipeline whose first run is approved and second rejected, and one deployment."""
    lab = lab_env
    began = datetime.now(timezone.utc) - timedelta(seconds=1)
    # CodeBuild: two plain builds (one fails), then one with a LOCAL cache.
    role = make_role(aws, service="codebuild.amazonaws.com")
    project = unique("obs-build")
    aws("codebuild").create_project(
        name=project, source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    # A metric filter on the build logs' group, made before any build writes to it.
    aws("logs").create_log_group(logGroupName=f"/aws/codebuild/{project}")
    aws("logs").put_metric_filter(
        logGroupName=f"/aws/codebuild/{project}", filterName="hello-lines",
        filterPattern='"says hello" -Running', metricTransformations=[{
            "metricName": "HelloLines", "metricNamespace": f"{lab.prefix}/Builds",
            "metricValue": "1"}])
    plain = run_builds(aws, project, [[{"name": "LABEL", "value": "one"}],
                                      [{"name": "LABEL", "value": "two"},
                                       {"name": "FAIL", "value": "1"}]])
    aws("codebuild").update_project(name=project, cache={"type": "LOCAL",
                                                         "modes": ["LOCAL_CUSTOM_CACHE"]})
    cached = run_builds(aws, project, [[{"name": "LABEL", "value": "three"}]])

    # CodePipeline V2: events routed to logs and the alarm exist before it runs.
    cp = aws("codepipeline")
    pipeline = unique("obs-pipe")
    routed = pipeline_events.route_pipeline_events(lab, [pipeline])
    topic = aws("sns").create_topic(Name=unique("obs-alarms"))["TopicArn"]
    queue = aws("sqs").create_queue(QueueName=unique("obs-alarms"))["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    alarm = alarms.failed_pipeline_alarm(lab, pipeline, topic)
    source = make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"index.html": "v1"}))
    cp.create_pipeline(pipeline={**declaration(
        pipeline, make_role(aws), make_bucket(aws),
        [("Source", [s3_source(source)]), ("Approval", [approval()]),
         ("Deploy", [s3_deploy(make_bucket(aws, versioned=False))])]),
        "pipelineType": "V2"})
    first = latest_execution_id(cp, pipeline)
    token = wait_for_approval_token(cp, pipeline, "Approval", "Approve", first)
    cp.put_approval_result(pipelineName=pipeline, stageName="Approval", actionName="Approve",
                           result={"status": "Approved", "summary": "ok"}, token=token)
    assert wait_for_execution(cp, pipeline, first) == "Succeeded"
    second = cp.start_pipeline_execution(name=pipeline)["pipelineExecutionId"]
    token = wait_for_approval_token(cp, pipeline, "Approval", "Approve", second)
    cp.put_approval_result(pipelineName=pipeline, stageName="Approval", actionName="Approve",
                           result={"status": "Rejected", "summary": "no"}, token=token)
    assert wait_for_execution(cp, pipeline, second) == "Failed"
    # A V1 pipeline that runs by itself (source, deploy): one active pipeline-month.
    v1 = unique("obs-v1")
    cp.create_pipeline(pipeline=declaration(v1, make_role(aws), make_bucket(aws), [
        ("Source", [s3_source(source)]), ("Deploy", [s3_deploy(make_bucket(aws, versioned=False))])]))
    assert wait_for_execution(cp, v1, latest_execution_id(cp, v1)) == "Succeeded"

    # CodeDeploy: one instance, one small revision.
    fleet = Fleet(aws, emulator, 1)
    deploy_role = make_role(aws, unique("obs-deploy"), service="codedeploy.amazonaws.com")
    fleet.create_group(deploy_role)
    bucket = make_bucket(aws, versioned=False)
    revision = s3_revision(aws("s3"), bucket, "rev/observe.tgz", tgz_files({
        "appspec.yml": (APPSPEC, 0o644), "payload/index.html": ("hi\n", 0o644),
        "scripts/hook.sh": (HOOK, 0o755)}), "tgz")
    deployment = fleet.deploy_and_wait(revision)
    assert deployment["status"] == "Succeeded", deployment
    yield {"lab": lab, "project": project, "builds": plain + cached, "pipeline": pipeline,
           "executions": (first, second), "v1": v1, "role": role, "queue": queue, "alarm": alarm, "routed": routed,
           "application": fleet.app, "deployment": deployment, "fleet": fleet, "began": began}
    fleet.terminate()


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- metrics ---------------------------------------------------------------------------------


def test_build_metrics_equal_what_the_builds_measured(activity):
    frame = metrics.build_metrics(activity["lab"], activity["project"])
    assert list(frame.columns) == metrics.COLUMNS
    totals = frame[frame["stat"] == "Sum"].groupby("metric")["value"].sum()
    assert totals["Builds"] == 3 and totals["SucceededBuilds"] == 2 and totals["FailedBuilds"] == 1
    durations = frame[frame["metric"] == "Duration"]
    measured = [(b["endTime"] - b["startTime"]).total_seconds() for b in activity["builds"]]
    # One datapoint per minute holds the average of that minute's builds.
    assert min(measured) - 0.002 <= durations["value"].min()
    assert durations["value"].max() <= max(measured) + 0.002
    # Over one period that spans the whole run, the sum is exactly what the builds measured.
    whole = metrics.metrics(activity["lab"], "AWS/CodeBuild", "Duration",
                            {"ProjectName": activity["project"]}, stat="Sum", period=86400,
                            start=activity["began"] - timedelta(minutes=1))
    assert whole["value"].sum() == pytest.approx(sum(measured), abs=0.005)
    assert {"InstallDuration", "BuildDuration", "PreBuildDuration"} <= set(frame["metric"])
    assert (frame["dimensions"] == f"ProjectName={activity['project']}").all()


def test_metrics_one_series_and_empty_window(activity):
    lab = activity["lab"]
    frame = metrics.metrics(lab, "AWS/CodeBuild", "Builds", {"ProjectName": activity["project"]},
                            stat="SampleCount", period=300)
    assert frame["value"].sum() == 3 and set(frame["metric"]) == {"Builds"}
    old = datetime.now(timezone.utc) - timedelta(days=3)
    empty = metrics.metrics(lab, "AWS/CodeBuild", "Builds", {"ProjectName": activity["project"]},
                            start=old, end=old + timedelta(hours=1))
    assert empty.empty and list(empty.columns) == metrics.COLUMNS


def test_pipeline_metrics_use_the_real_names(activity):
    frame = metrics.pipeline_metrics(activity["lab"], activity["pipeline"])
    assert set(frame["metric"]) == {"PipelineDuration", "FailedPipelineExecutions"}
    assert frame[frame["metric"] == "FailedPipelineExecutions"]["value"].sum() == 1
    runs = history.pipeline_history(activity["lab"], activity["pipeline"])
    runs = runs[runs["kind"] == "execution"]
    whole = metrics.metrics(activity["lab"], "AWS/CodePipeline", "PipelineDuration",
                            {"PipelineName": activity["pipeline"]}, stat="Sum", period=86400,
                            start=activity["began"] - timedelta(minutes=1))
    assert whole["value"].sum() == pytest.approx(runs["duration_s"].sum(), abs=0.01)


# --- history ------------------------------------------------------------------------------------


def test_build_history_phases_add_up_to_the_build(activity):
    frame = history.build_history(activity["lab"], activity["project"])
    assert set(history.COLUMNS) <= set(frame.columns)
    builds = frame[frame["kind"] == "build"]
    assert list(builds["number"]) == [1, 2, 3]
    assert sorted(builds["status"]) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert list(builds["cache"]) == ["NO_CACHE", "NO_CACHE", "LOCAL"]
    for build_id, phases in frame[frame["kind"] == "phase"].groupby("id"):
        total = builds[builds["id"] == build_id]["duration_s"].iloc[0]
        span = (phases["end"].max() - phases["start"].min()).total_seconds()
        # Phases follow one another inside the build's start and end. (The emulator leaves a few
        # milliseconds between one phase's end and the next one's start, and SUBMITTED may start
        # a little after the build's startTime, so allow for that on a busy machine.)
        assert span - 0.1 <= phases["duration_s"].sum() <= span + 0.001
        assert span <= total + 0.001
        starts, ends = list(phases["start"]), list(phases["end"])
        assert all(later >= earlier for later, earlier in zip(starts[1:], ends[:-1], strict=True))
        assert phases["name"].iloc[0] == "SUBMITTED" and "COMPLETED" not in set(phases["name"])
    failed = builds[builds["status"] == "FAILED"]["id"].iloc[0]
    phase_status = frame[(frame["id"] == failed) & (frame["kind"] == "phase")].set_index("name")["status"]
    assert phase_status["BUILD"] == "FAILED" and phase_status["INSTALL"] == "SUCCEEDED"
    api = {b["id"]: b for b in activity["builds"]}
    for row in builds.itertuples():
        assert row.duration_s == pytest.approx(
            (api[row.id]["endTime"] - api[row.id]["startTime"]).total_seconds(), abs=0.01)


def test_pipeline_history_executions_stages_actions(activity):
    frame = history.pipeline_history(activity["lab"], activity["pipeline"])
    first, second = activity["executions"]
    runs = frame[frame["kind"] == "execution"].set_index("id")
    assert runs.loc[first, "status"] == "Succeeded" and runs.loc[second, "status"] == "Failed"
    stages = frame[(frame["kind"] == "stage") & (frame["id"] == first)]
    assert list(stages["name"]) == ["Source", "Approval", "Deploy"]
    assert (stages["status"] == "Succeeded").all()
    rejected = frame[(frame["kind"] == "action") & (frame["id"] == second)].set_index("name")
    assert rejected.loc["Approve", "status"] == "Failed"
    assert "Deploy" not in rejected.index
    actions = frame[frame["kind"] == "action"]
    assert set(actions["category"]) == {"Source", "Approval", "Deploy"}
    assert (actions["duration_s"] >= 0).all()
    for execution, part in frame[frame["kind"] != "execution"].groupby("id"):
        run = runs.loc[execution]
        assert part["start"].min() >= run["start"] - timedelta(seconds=1)


def test_deployment_history_lifecycle_events_per_host(activity):
    frame = history.deployment_history(activity["lab"], activity["application"])
    deployment = activity["deployment"]
    rows = frame[frame["kind"] == "deployment"]
    assert list(rows["id"]) == [deployment["deploymentId"]]
    assert rows["status"].iloc[0] == "Succeeded" and rows["group"].iloc[0] == "dev"
    events = frame[frame["kind"] == "event"]
    assert set(events["host"]) == set(activity["fleet"].ids)
    statuses = events.set_index("name")["status"]
    assert statuses["AfterInstall"] == "Succeeded" and statuses["ApplicationStop"] == "Skipped"
    assert "Install" in set(events["name"]) and len(events) == 13


# --- charts -------------------------------------------------------------------------------------


def test_charts_render_without_warnings_with_the_expected_bars(activity, tmp_path, no_warnings):
    lab = activity["lab"]
    builds = history.build_history(lab, activity["project"])
    figure = charts.build_phases_chart(builds, save=tmp_path / "phases.png")
    ax = figure.axes[0]
    phases = builds[builds["kind"] == "phase"]["name"].nunique()
    assert len(ax.containers) == phases and all(len(c) == 3 for c in ax.containers)
    assert "seconds" in ax.get_ylabel() and (tmp_path / "phases.png").stat().st_size > 1000

    outcomes = charts.outcomes_chart(builds).axes[0]
    assert sum(bar.get_height() for c in outcomes.containers for bar in c) == 3
    assert {t.get_text() for t in outcomes.get_legend().get_texts()} == {"failed", "succeeded"}

    runs = history.pipeline_history(lab, activity["pipeline"])
    gantt = charts.pipeline_timeline(runs, save=tmp_path / "pipeline.png").axes[0]
    drawn = runs[runs["kind"].isin(["stage", "action"])]
    assert len(gantt.get_yticklabels()) == len(drawn)
    assert sum(len(c) for c in gantt.containers if len(c)) == len(drawn)

    deploys = history.deployment_history(lab, activity["application"])
    timeline = charts.deployment_timeline(deploys).axes[0]
    ran = deploys[(deploys["kind"] == "event") & deploys["start"].notna()]
    assert len(timeline.get_yticklabels()) == len(ran) and 0 < len(ran) < 13  # Skipped: no times

    cache = charts.cache_effect_chart(builds).axes[0]
    assert [len(c) for c in cache.containers] == [2, 1]
    assert "INSTALL" in cache.get_title()

    frame = metrics.build_metrics(lab, activity["project"], names=("Builds", "Duration"))
    lines = charts.metric_chart(frame).axes[0]
    assert len(lines.get_lines()) == 2


def test_charts_of_nothing_say_so(activity, aws, no_warnings):
    project = unique("obs-idle")
    aws("codebuild").create_project(
        name=project, source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole=activity["role"],
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    empty = history.build_history(activity["lab"], project)
    assert empty.empty and set(history.COLUMNS) <= set(empty.columns)
    for chart in (charts.build_phases_chart, charts.outcomes_chart, charts.cache_effect_chart):
        texts = chart(empty).axes[0].texts
        assert texts and texts[0].get_text().startswith("No")


# --- logs ---------------------------------------------------------------------------------------


def test_search_logs_and_tail_a_build(activity):
    lab = activity["lab"]
    group = f"/aws/codebuild/{activity['project']}"
    # The command line is logged too ("Running command echo ..."): exclude it.
    found = logs.search_logs(lab, group, "ERROR-MARKER -Running", since=activity["began"])
    assert list(found.columns) == ["timestamp", "stream", "message"]
    assert len(found) == 3 and found["message"].str.contains("build says hello").all()
    build = activity["builds"][0]
    lines: list[str] = []
    printed = logs.tail_build(lab, build["id"], timeout=30, out=lines.append)
    assert printed == lines and any("build says hello one" in line for line in lines)
    assert build["logs"]["streamName"] in set(found["stream"])


def test_tail_follows_a_running_build(activity, aws):
    cb, project = aws("codebuild"), unique("obs-tail")
    cb.create_project(name=project, serviceRole=activity["role"], artifacts={"type": "NO_ARTIFACTS"},
                      environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                   "computeType": "BUILD_GENERAL1_SMALL"},
                      source={"type": "NO_SOURCE", "buildspec": textwrap.dedent("""\
                          version: 0.2
                          phases:
                            build:
                              commands:
                                - echo first-line
                                - sleep 2
                                - echo last-line
                          """)})
    build_id = cb.start_build(projectName=project)["build"]["id"]
    seen: list[tuple[str, bool]] = []

    def record(line: str) -> None:
        seen.append((line, cb.batch_get_builds(ids=[build_id])["builds"][0]["buildComplete"]))

    logs.tail_build(activity["lab"], build_id, timeout=60, poll=0.2, out=record)
    lines = [line for line, _ in seen]
    first = next(i for i, line in enumerate(lines) if line.strip() == "first-line")
    assert seen[first][1] is False, "the first line was printed while the build was running"
    assert any(line.strip() == "last-line" for line in lines[first:])
    assert cb.batch_get_builds(ids=[build_id])["builds"][0]["buildComplete"]


def test_metric_filters_apply_to_build_logs(activity):
    # Three builds each print one "says hello" line (their command lines are excluded).
    frame = metrics.metrics(activity["lab"], f"{activity['lab'].prefix}/Builds", "HelloLines",
                            start=activity["began"] - timedelta(minutes=1))
    assert frame["value"].sum() == 3


def test_insights_query_local_evaluation_says_so(activity, capsys):
    lab = activity["lab"]
    group = f"/aws/codebuild/{activity['project']}"
    frame = insights.insights(lab, group, "fields @timestamp, @message | filter @message like /hello (one|two|three)/ "
                          "| stats count(*) as lines by @logStream", start=activity["began"])
    assert list(frame.columns) == ["@logStream", "lines"] and frame["lines"].sum() == 3
    assert "Evaluated locally" in frame.attrs["note"] and "Evaluated locally" in capsys.readouterr().out
    remote = insights.insights(lab, group, "fields @timestamp, @message | sort @timestamp desc | limit 5",
                           start=activity["began"])
    assert remote.attrs["note"].startswith("Logs Insights") and len(remote) == 5
    assert {"@timestamp", "@message"} <= set(remote.columns)
    # moto's StartQuery knows only @ fields, so JSON fields are read here too.
    events = insights.insights(lab, activity["routed"]["group"], "fields detail.state | limit 3",
                               start=activity["began"])
    assert "JSON" in events.attrs["note"] and events["detail.state"].notna().all()


def test_insights_evaluator_matches_aws_semantics():
    import pandas as pd

    events = pd.DataFrame({
        "timestamp": pd.to_datetime([1, 2, 3], unit="s", utc=True),
        "stream": ["a", "a", "b"],
        "message": [json.dumps({"detail": {"state": "FAILED", "stage": "Build"}, "n": 2}),
                    json.dumps({"detail": {"state": "SUCCEEDED", "stage": "Build"}, "n": 4}),
                    "plain text line"]})
    stats = insights.evaluate("filter detail.stage = 'Build' | stats avg(n) as mean, count(*) by "
                          "detail.state | sort mean asc", events)
    assert stats.to_dict("records") == [{"detail.state": "FAILED", "mean": 2.0, "count(*)": 1},
                                        {"detail.state": "SUCCEEDED", "mean": 4.0, "count(*)": 1}]
    newest = insights.evaluate("fields @message | limit 1", events)
    assert newest["@message"].tolist() == ["plain text line"]
    with pytest.raises(ValueError, match="does not know 'parse'"):
        insights.evaluate("parse @message 'x*' as y", events)


# --- alarms, events to metrics, dashboards -----------------------------------------------------


def test_failed_run_sets_the_alarm_off(activity, aws):
    # The history, not the current state: a period after the failure the alarm is OK again.
    def went_off():
        changes = alarms.alarm_history(activity["lab"], activity["alarm"])
        return changes[changes["new_state"] == "ALARM"]

    fired = wait_for(lambda: not went_off().empty, 30, what="the alarm to go to ALARM")
    assert fired and "to ALARM" in went_off()["summary"].iloc[0]
    state = alarms.alarm_state(activity["lab"], activity["alarm"])
    assert state["StateValue"] in ("ALARM", "OK")
    assert alarms.wait_for_alarm(activity["lab"], activity["alarm"], state["StateValue"],
                                 timeout=5)["StateValue"] == state["StateValue"]
    with pytest.raises(TimeoutError, match="INSUFFICIENT_DATA"):
        alarms.wait_for_alarm(activity["lab"], activity["alarm"], "INSUFFICIENT_DATA",
                              timeout=0.3, poll=0.1)

    def alarm_message():
        for message in aws("sqs").receive_message(QueueUrl=activity["queue"],
                                                  MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(json.loads(message["Body"])["Message"])
            if body.get("NewStateValue") == "ALARM":
                return body
        return None

    notified = wait_for(alarm_message, 30, what="the ALARM notification on the topic")
    assert notified["AlarmName"] == activity["alarm"]
    assert notified["Trigger"]["MetricName"] == "FailedPipelineExecutions"
    with pytest.raises(LookupError):
        alarms.alarm_state(activity["lab"], "no-such-alarm")


def test_pipeline_events_become_success_metrics_and_stage_durations(activity):
    lab, routed, pipeline = activity["lab"], activity["routed"], activity["pipeline"]

    def successes():
        return metrics.metrics(lab, routed["namespace"], "SucceededPipelineExecutions",
                               {"PipelineName": pipeline})

    wait_for(lambda: successes()["value"].sum() >= 1, 10, what="the success metric")
    frame = successes()
    assert frame["value"].sum() == 1  # one succeeded, one failed
    per_stage = {stage: metrics.metrics(lab, routed["namespace"], "SucceededStageExecutions",
                                        {"PipelineName": pipeline, "StageName": stage})["value"].sum()
                 for stage in ("Source", "Approval", "Deploy")}
    assert per_stage == {"Source": 2, "Approval": 1, "Deploy": 1}  # the second run was rejected
    events = pipeline_events.logged_events(lab, routed["group"])
    durations = pipeline_events.stage_durations(events)
    first, second = activity["executions"]
    mine = durations[durations["execution_id"] == first].set_index("stage")
    assert set(mine.index) == {"Source", "Approval", "Deploy"} and (mine["state"] == "SUCCEEDED").all()
    assert durations[durations["execution_id"] == second].set_index("stage").loc[
        "Approval", "state"] == "FAILED"
    assert (durations["duration_s"] >= 0).all()


def test_dashboard_put_and_rendered_locally(activity, no_warnings):
    lab = activity["lab"]
    widgets = dashboards.course_widgets(lab, activity["project"], activity["pipeline"],
                                        activity["routed"]["namespace"])
    name = lab.name("course")
    answer = dashboards.put_dashboard(lab, name, widgets)
    assert answer["DashboardValidationMessages"] == []
    stored = json.loads(lab.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    assert len(stored["widgets"]) == 5
    figure = dashboards.render_dashboard(lab, name)
    assert len(figure.axes) == 5
    drawn = {ax.get_title(): len(ax.get_lines()) for ax in figure.axes}
    assert drawn["Builds succeeded and failed"] == 2 and drawn["Failed pipeline executions"] == 1


# --- usage and Cost Explorer ---------------------------------------------------------------------


def test_measured_usage_agrees_with_the_apis(activity):
    lab = activity["lab"]
    usage = costs.measure_usage(lab, start=activity["began"])
    assert list(usage.columns) == ["day", "service", "usage_type", "quantity", "resource"]
    minutes = usage[(usage["resource"] == activity["project"])]
    assert set(minutes["usage_type"]) == {"Build-Min:general1.small"}
    expected = sum(prices.billed_minutes((b["endTime"] - b["startTime"]).total_seconds())
                   for b in activity["builds"])
    assert minutes["quantity"].sum() == expected == 3  # each build is under a minute
    pipeline = usage[usage["resource"] == activity["pipeline"]]
    assert set(pipeline["usage_type"]) == {"ActionExecutionMinute"}
    # V2: Source and Deploy of the first run, Source of the second; approvals are free.
    assert pipeline["quantity"].sum() == 3
    v1 = usage[usage["resource"] == activity["v1"]]
    # Active this month, but in its first 30 days: free.
    assert v1[["usage_type", "quantity"]].values.tolist() == [["activePipeline", 0]]
    deploys = usage[usage["resource"] == activity["application"]]
    assert deploys["usage_type"].tolist() == ["EC2InstanceUpdate"] and deploys["quantity"].sum() == 1
    assert usage[usage["service"] == prices.S3]["quantity"].sum() > 0
    assert usage[usage["usage_type"] == "DataProcessing-Bytes"]["quantity"].sum() > 0
    estimate = costs.estimate(usage)
    assert estimate.iloc[-1]["service"] == "Total"
    assert estimate.iloc[-1]["cost_with_free_tier"] <= estimate.iloc[-1]["cost_without_free_tier"]


@pytest.fixture(scope="module")
def ce(emulator):
    """A Cost Explorer client whose every answer is checked against botocore's output shape."""
    import boto3
    from shapes import ShapeMismatch, check_response

    client = boto3.client("ce", region_name="us-east-1", endpoint_url=emulator.url)

    def after_call(http_response, parsed, model, **_kwargs):
        found = check_response(model, http_response.status_code, http_response.content)
        if found:
            raise ShapeMismatch("\n".join(found))

    client.meta.events.register("after-call.cost-explorer", after_call)
    return client


def test_cost_explorer_prices_the_measured_usage(activity, ce, no_warnings):
    lab = activity["lab"]
    today = datetime.now(timezone.utc).date()
    frame = cost_explorer.cost_and_usage(lab, today - timedelta(days=2), today + timedelta(days=1))
    assert list(frame.columns) == ["start", "end", "group", "amount", "unit", "estimated"]
    assert "emulator prices" in frame.attrs["note"]
    todays = frame[frame["start"].dt.date == today].set_index("group")
    assert {prices.CODEBUILD, prices.CODEPIPELINE, prices.CODEDEPLOY, prices.S3} <= set(todays.index)
    assert (frame["unit"] == "USD").all() and todays.loc[prices.CODEDEPLOY, "amount"] == 0
    # Priced from the same measured usage as labkit's estimate, the month's free tier applied in
    # day order (compared again if other work changed the usage between the two readings).
    month = datetime(today.year, today.month, 1, tzinfo=timezone.utc)
    tomorrow = datetime(today.year, today.month, today.day, tzinfo=timezone.utc) + timedelta(days=1)

    def agree():
        rows = metering.priced(metering.measure(_call(lab), month, tomorrow))
        expected = sum(r["cost_after_free_tier"] for r in rows if r["day"] == today)
        again = cost_explorer.cost_and_usage(lab, today, today + timedelta(days=1))
        return abs(again["amount"].sum() - expected) < 1e-6

    assert wait_for(agree, 60, interval=0.5, what="Cost Explorer to agree with measure()")
    chart = cost_explorer.cost_chart(frame).axes[0]
    assert len(chart.containers) == frame["group"].nunique()

    total = cost_explorer.cost_and_usage(lab, today, today + timedelta(days=1), group_by=None,
                                         metric="UsageQuantity")
    assert total["group"].tolist() == ["Total"] and total["unit"].iloc[0] == "N/A"
    monthly = ce.get_cost_and_usage(
        TimePeriod={"Start": today.replace(day=1).isoformat(),
                    "End": (today + timedelta(days=1)).isoformat()},
        Granularity="MONTHLY", Metrics=["UnblendedCost", "BlendedCost"])
    assert len(monthly["ResultsByTime"]) == 1 and monthly["ResultsByTime"][0]["Estimated"] is True


def test_usage_this_month_counts_builds_beside_the_free_allowance(activity):
    usage = cost_explorer.usage_this_month(activity["lab"]).set_index("usage_type")
    assert list(usage.columns) == ["quantity", "unit", "free_per_month"]
    small = usage.loc["Build-Min:general1.small"]
    # The fixture's three builds each bill at least one (rounded-up) minute.
    assert small["quantity"] >= 3 and small["unit"] == "minute" and small["free_per_month"] == 100
    assert usage.loc["ActionExecutionMinute", "free_per_month"] == 100


def test_cost_explorer_groups_by_a_tag_of_the_resource_that_used_it(activity, aws, ce):
    team = f"team-{uuid.uuid4().hex[:6]}"
    project = aws("codebuild").batch_get_projects(names=[activity["project"]])["projects"][0]
    aws("codebuild").update_project(name=activity["project"],
                                    tags=[{"key": "team", "value": team}])
    today = datetime.now(timezone.utc).date()
    answer = ce.get_cost_and_usage(
        TimePeriod={"Start": today.isoformat(), "End": (today + timedelta(days=1)).isoformat()},
        Granularity="DAILY", Metrics=["UsageQuantity"],
        GroupBy=[{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "SERVICE"}])
    groups = {tuple(g["Keys"]): float(g["Metrics"]["UsageQuantity"]["Amount"])
              for g in answer["ResultsByTime"][0]["Groups"]}
    # The project's three builds are the team's; everything else used today is untagged.
    assert groups[(f"team${team}", prices.CODEBUILD)] >= 3
    assert {k[1] for k in groups if k[0] == f"team${team}"} == {prices.CODEBUILD}
    assert any(k[0] == "team$" for k in groups)
    assert answer["GroupDefinitions"][0] == {"Type": "TAG", "Key": "team"}
    aws("codebuild").update_project(name=activity["project"], tags=project.get("tags", []))


def test_cost_chart_says_when_the_free_tier_covered_everything():
    frame = pd.DataFrame({"start": pd.to_datetime(["2026-11-25", "2026-11-26"]),
                          "group": ["CodeBuild", "CodeBuild"], "amount": [0.0, 0.0],
                          "unit": ["USD", "USD"]})
    said = [t.get_text() for t in cost_explorer.cost_chart(frame).axes[0].texts]
    assert len(said) == 1 and "within the free tier" in said[0]
    frame.loc[1, "amount"] = 0.01
    assert not cost_explorer.cost_chart(frame).axes[0].texts


def _call(lab):
    from botocore import xform_name

    return lambda service, op, params: getattr(lab.client(service), xform_name(op))(**params)


@pytest.mark.parametrize("params, words", [
    ({"TimePeriod": {"Start": "2026-01-02", "End": "2026-01-01"}, "Granularity": "DAILY",
      "Metrics": ["UnblendedCost"]}, "Start date must be before End date"),
    ({"TimePeriod": {"Start": "2026-01-01", "End": "2026-01-02"}, "Granularity": "DAILY",
      "Metrics": ["Dollars"]}, "not valid"),
    ({"TimePeriod": {"Start": "2026-01-01", "End": "2026-01-02"}, "Granularity": "DAILY",
      "Metrics": ["UnblendedCost"], "GroupBy": [{"Type": "COST_CATEGORY", "Key": "team"}]},
     "not emulated"),
    ({"TimePeriod": {"Start": "yesterday", "End": "2026-01-02"}, "Granularity": "DAILY",
      "Metrics": ["UnblendedCost"]}, "YYYY-MM-DD"),
])
def test_cost_explorer_refuses_bad_requests(ce, params, words):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        ce.get_cost_and_usage(**params)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert words in caught.value.response["Error"]["Message"]


def test_cost_explorer_outside_any_usage_is_zero(ce):
    answer = ce.get_cost_and_usage(
        TimePeriod={"Start": "2020-01-01", "End": "2020-01-03"}, Granularity="DAILY",
        Metrics=["UnblendedCost"], GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}])
    assert [r["Groups"] for r in answer["ResultsByTime"]] == [[], []]
    assert answer["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]
    assert date.fromisoformat(answer["ResultsByTime"][1]["TimePeriod"]["End"]) == date(2020, 1, 3)


# --- the emulator's filter patterns through the API -----------------------------------------


def test_metric_filters_apply_to_put_log_events_and_filter_log_events_reads_patterns(aws):
    logs_client, group = aws("logs"), f"/labkit/test/{uuid.uuid4().hex[:8]}"
    namespace = f"Test/{uuid.uuid4().hex[:6]}"
    logs_client.create_log_group(logGroupName=group)
    logs_client.create_log_stream(logGroupName=group, logStreamName="s")
    logs_client.put_metric_filter(
        logGroupName=group, filterName="slow", filterPattern="{ $.latency > 100 }",
        metricTransformations=[{"metricName": "SlowRequests", "metricNamespace": namespace,
                                "metricValue": "$.latency", "unit": "Milliseconds",
                                "dimensions": {"Route": "$.route"}}])
    logs_client.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": namespace,
                                "metricValue": "1", "defaultValue": 0}])
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    messages = [{"route": "/a", "latency": 150}, {"route": "/b", "latency": 20},
                {"route": "/a", "latency": 250}]
    logs_client.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now + i, "message": json.dumps(m)} for i, m in enumerate(messages)])
    logs_client.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now + 10, "message": "ERROR disk full"}])

    cloudwatch = aws("cloudwatch")
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    end = datetime.now(timezone.utc) + timedelta(minutes=5)
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="SlowRequests", Dimensions=[{"Name": "Route", "Value": "/a"}],
        StartTime=start, EndTime=end, Period=600, Statistics=["Sum", "SampleCount"])
    assert stats["Datapoints"][0]["Sum"] == 400 and stats["Datapoints"][0]["SampleCount"] == 2
    errors = cloudwatch.get_metric_statistics(Namespace=namespace, MetricName="Errors",
                                              StartTime=start, EndTime=end, Period=600,
                                              Statistics=["Sum", "SampleCount"])["Datapoints"][0]
    # The JSON batch had no ERROR (default value 0 once), the second batch one ERROR.
    assert errors["Sum"] == 1 and errors["SampleCount"] == 2

    found = logs_client.filter_log_events(logGroupName=group, filterPattern='{ $.route = "/a" }')
    assert [json.loads(e["message"])["latency"] for e in found["events"]] == [150, 250]
    plain = logs_client.filter_log_events(logGroupName=group, filterPattern="ERROR -disk")
    assert plain["events"] == []
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="Invalid filter pattern"):
        logs_client.filter_log_events(logGroupName=group, filterPattern="{ $.route = ")
