"""CloudWatch alarms evaluate in the emulator: state from metric data, reasons, history, SNS actions."""

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

DEADLINE = 30.0  # seconds; alarms tick every 0.5 s in tests, periods here are 10 s


def wait_for(check, what: str, deadline: float = DEADLINE):
    """Poll `check()` until it returns something truthy; fail after the deadline."""
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling pace only; the deadline decides


@pytest.fixture
def namespace():
    """A namespace of its own per test, so datapoints of one test never reach another's alarms."""
    return f"Labkit/Test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def notified(aws):
    """An SNS topic with an SQS queue subscribed: (topic ARN, function returning the messages so far)."""
    sns, sqs = aws("sns"), aws("sqs")
    suffix = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"labkit-alarms-{suffix}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"labkit-alarms-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    received: list[dict] = []

    def messages() -> list[dict]:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return received

    yield topic, messages
    sqs.delete_queue(QueueUrl=url)
    sns.delete_topic(TopicArn=topic)


def put_alarm(cw, name, namespace, **settings):
    params = dict(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Errors",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    params.update(settings)
    if "ExtendedStatistic" in params:
        params.pop("Statistic")
    cw.put_metric_alarm(**params)
    return name


def alarm(cw, name) -> dict:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def in_state(cw, name, state, reason_part: str = ""):
    found = alarm(cw, name)
    return found if found["StateValue"] == state and reason_part in found["StateReason"] else None


def test_breaching_datapoint_raises_alarm_and_good_data_clears_it(aws, namespace):
    cw = aws("cloudwatch")
    name = put_alarm(cw, "labkit-up-down", namespace, TreatMissingData="ignore")
    created = alarm(cw, name)
    assert created["StateValue"] == "INSUFFICIENT_DATA"  # as on AWS, not moto's OK
    assert created["StateReason"] == "Unchecked: Initial alarm creation"

    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 50.0}])
    raised = wait_for(lambda: in_state(cw, name, "ALARM"), "OK -> ALARM")
    assert re.fullmatch(
        r"Threshold Crossed: 1 out of the last 1 datapoints \[50\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:\d\d\)\] "
        r"was greater than or equal to the threshold \(10\.0\) "
        r"\(minimum 1 datapoint for OK -> ALARM transition\)\.",
        raised["StateReason"],
    )
    data = json.loads(raised["StateReasonData"])
    assert data["version"] == "1.0" and data["statistic"] == "Maximum" and data["period"] == 10
    assert data["recentDatapoints"] == [50.0] and data["threshold"] == 10.0
    assert data["evaluatedDatapoints"][0]["value"] == 50.0
    assert set(data) >= {"queryDate", "startDate"}

    # Good data clears it once the bad datapoint's period is over (Maximum of that period stays 50).
    def cleared():
        cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 1.0}])
        return in_state(cw, name, "OK")

    ok = wait_for(cleared, "ALARM -> OK")
    assert "was not greater than or equal to the threshold (10.0)" in ok["StateReason"]
    assert ok["StateReason"].endswith("(minimum 1 datapoint for ALARM -> OK transition).")


def test_alarm_action_publishes_aws_shaped_message_to_sns(aws, namespace, notified):
    topic, messages = notified
    cw = aws("cloudwatch")
    name = put_alarm(
        cw,
        "labkit-notify",
        namespace,
        AlarmDescription="Too many errors",
        Statistic="Sum",
        Threshold=1.0,
        Dimensions=[{"Name": "Service", "Value": "web"}],
        AlarmActions=[topic],
        OKActions=[topic],
        TreatMissingData="notBreaching",
    )
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Errors",
                "Value": 3.0,
                "Dimensions": [{"Name": "Service", "Value": "web"}],
            }
        ],
    )
    wait_for(lambda: in_state(cw, name, "ALARM"), "ALARM")
    received = wait_for(
        lambda: [m for m in messages() if "ALARM" in m.get("Subject", "")], "SNS message"
    )
    notification = received[0]
    assert notification["Type"] == "Notification" and notification["TopicArn"] == topic
    assert notification["Subject"] == 'ALARM: "labkit-notify" in US East (N. Virginia)'
    message = json.loads(notification["Message"])
    assert message["AlarmName"] == name and message["AlarmDescription"] == "Too many errors"
    assert message["AWSAccountId"] == "123456789012"
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] in (
        "INSUFFICIENT_DATA",
        "OK",
    )
    assert message["NewStateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [3.0 ("
    )
    assert message["Region"] == "US East (N. Virginia)"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", message["StateChangeTime"])
    assert message["Trigger"] == {
        "MetricName": "Errors",
        "Namespace": namespace,
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "web", "name": "Service"}],
        "Period": 10,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")[
        "AlarmHistoryItems"
    ]
    assert history and history[0]["HistorySummary"] == f"Successfully executed action {topic}"


def test_missing_data_treatments(aws, namespace):
    cw = aws("cloudwatch")
    missing = put_alarm(cw, "labkit-missing", namespace, TreatMissingData="missing")
    breaching = put_alarm(cw, "labkit-breaching", namespace, TreatMissingData="breaching")
    not_breaching = put_alarm(
        cw, "labkit-not-breaching", namespace, TreatMissingData="notBreaching"
    )
    # A manual state holds only until the next evaluation disagrees, as on AWS.
    cw.set_alarm_state(AlarmName=missing, StateValue="OK", StateReason="testing")
    unknown = wait_for(
        lambda: in_state(cw, missing, "INSUFFICIENT_DATA", "Insufficient Data"),
        "missing -> INSUFFICIENT_DATA",
    )
    assert unknown["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    changes = cw.describe_alarm_history(
        AlarmName=missing, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    assert [c["HistorySummary"] for c in changes] == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to INSUFFICIENT_DATA",
    ]
    assert wait_for(lambda: in_state(cw, breaching, "ALARM"), "breaching -> ALARM")[
        "StateReason"
    ] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [Breaching]."
    )
    assert wait_for(lambda: in_state(cw, not_breaching, "OK"), "notBreaching -> OK")[
        "StateReason"
    ] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching]."
    )


def test_manual_state_holds_until_the_next_evaluation_with_new_data(aws, namespace):
    cw = aws("cloudwatch")
    name = put_alarm(cw, "labkit-manual", namespace, Period=60)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="deployment drill")
    # On AWS the next evaluation is up to a period (at most a minute) away; the emulator waits as long
    # unless data arrives. The sentinel, created later, shows that evaluation ticks did run meanwhile.
    sentinel = put_alarm(cw, "labkit-manual-sentinel", namespace, TreatMissingData="notBreaching")
    wait_for(lambda: in_state(cw, sentinel, "OK"), "the sentinel's evaluation")
    held = alarm(cw, name)
    assert (held["StateValue"], held["StateReason"]) == ("ALARM", "deployment drill")
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 1.0}])
    wait_for(lambda: in_state(cw, name, "OK", "ALARM -> OK"), "the evaluation of the new datapoint")


def test_ignore_keeps_a_manual_state_and_set_alarm_state_runs_actions(aws, namespace, notified):
    topic, messages = notified
    cw = aws("cloudwatch")
    ignored = put_alarm(
        cw, "labkit-ignore", namespace, TreatMissingData="ignore", AlarmActions=[topic]
    )
    cw.set_alarm_state(AlarmName=ignored, StateValue="ALARM", StateReason="drill")
    received = wait_for(
        lambda: [m for m in messages() if m["Subject"].startswith("ALARM:")], "SNS message"
    )
    assert json.loads(received[0]["Message"])["NewStateReason"] == "drill"
    # Created after the manual change, so once it has been evaluated, the ignored alarm has been too.
    sentinel = put_alarm(cw, "labkit-ignore-sentinel", namespace, TreatMissingData="notBreaching")
    wait_for(lambda: in_state(cw, sentinel, "OK"), "the sentinel's evaluation")
    kept = alarm(cw, ignored)
    assert (kept["StateValue"], kept["StateReason"]) == ("ALARM", "drill")


def test_datapoints_to_alarm_m_out_of_n(aws, namespace):
    cw = aws("cloudwatch")
    name = put_alarm(
        cw,
        "labkit-2-of-3",
        namespace,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        TreatMissingData="notBreaching",
    )
    now = datetime.now(timezone.utc)
    cw.put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 20.0, "Timestamp": now}]
    )
    one = wait_for(
        lambda: in_state(cw, name, "OK", "1 out of the last 3 datapoints"), "1 of 3 stays OK"
    )
    assert "(minimum 2 datapoints for OK -> ALARM transition)" in one["StateReason"]

    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Errors", "Value": 30.0, "Timestamp": now - timedelta(seconds=10)}
        ],
    )
    two = wait_for(lambda: in_state(cw, name, "ALARM"), "2 of 3 breaching -> ALARM")
    assert re.match(
        r"Threshold Crossed: 2 out of the last 3 datapoints \[20\.0 \(.*\), 30\.0 \(.*\)\] "
        r"were greater than or equal to the threshold \(10\.0\) "
        r"\(minimum 2 datapoints for OK -> ALARM transition\)\.",
        two["StateReason"],
    )


def test_dimensions_must_match_exactly(aws, namespace):
    cw = aws("cloudwatch")
    wanted = [{"Name": "Service", "Value": "web"}, {"Name": "Stage", "Value": "prod"}]
    name = put_alarm(
        cw, "labkit-dims", namespace, Dimensions=wanted, TreatMissingData="notBreaching"
    )
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Errors", "Value": 99.0},
            {"MetricName": "Errors", "Value": 99.0, "Dimensions": wanted[:1]},
            {
                "MetricName": "Errors",
                "Value": 99.0,
                "Dimensions": wanted + [{"Name": "Host", "Value": "a"}],
            },
            {
                "MetricName": "Errors",
                "Value": 99.0,
                "Dimensions": [
                    {"Name": "Service", "Value": "api"},
                    {"Name": "Stage", "Value": "prod"},
                ],
            },
        ],
    )
    ok = wait_for(lambda: in_state(cw, name, "OK"), "no matching data -> OK")
    assert "no datapoints were received" in ok["StateReason"]
    # Same dimensions in another order do match.
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Errors", "Value": 99.0, "Dimensions": list(reversed(wanted))}],
    )
    wait_for(lambda: in_state(cw, name, "ALARM"), "matching data -> ALARM")


def test_actions_disabled_sends_nothing(aws, namespace, notified):
    topic, messages = notified
    cw = aws("cloudwatch")
    quiet = put_alarm(cw, "labkit-quiet", namespace, ActionsEnabled=False, AlarmActions=[topic])
    loud = put_alarm(
        cw, "labkit-loud", namespace, AlarmActions=[topic]
    )  # evaluated after the quiet one
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 11.0}])
    wait_for(
        lambda: [m for m in messages() if '"labkit-loud"' in m["Subject"]],
        "the loud alarm's message",
    )
    assert in_state(cw, quiet, "ALARM")
    assert [m["Subject"] for m in messages()] == ['ALARM: "labkit-loud" in US East (N. Virginia)']
    assert (
        cw.describe_alarm_history(AlarmName=quiet, HistoryItemType="Action")["AlarmHistoryItems"]
        == []
    )
    assert loud


def test_percentile_statistic(aws, namespace):
    cw = aws("cloudwatch")
    over = put_alarm(
        cw,
        "labkit-p90-over",
        namespace,
        MetricName="Latency",
        ExtendedStatistic="p90",
        Threshold=8.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    under = put_alarm(
        cw,
        "labkit-p90-under",
        namespace,
        MetricName="Latency",
        ExtendedStatistic="p90",
        Threshold=9.5,
        ComparisonOperator="GreaterThanThreshold",
    )
    # p90 of 1..10 is 9; the average (5.5) would breach neither alarm.
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Latency", "Values": [float(v) for v in range(1, 11)]}],
    )
    raised = wait_for(lambda: in_state(cw, over, "ALARM"), "p90 > 8 -> ALARM")
    assert "[9.0 (" in raised["StateReason"]
    assert json.loads(raised["StateReasonData"])["extendedStatistic"] == "p90"
    calm = wait_for(lambda: in_state(cw, under, "OK"), "p90 > 9.5 -> OK")
    assert "was not greater than the threshold (9.5)" in calm["StateReason"]


def test_course_alarm_on_failed_pipeline_executions(aws):
    cw = aws("cloudwatch")
    pipeline = f"labkit-pipeline-{uuid.uuid4().hex[:6]}"
    dimensions = [{"Name": "PipelineName", "Value": pipeline}]
    name = f"{pipeline}-failed"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/CodePipeline",
        MetricName="FailedPipelineExecutions",
        Dimensions=dimensions,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    wait_for(lambda: in_state(cw, name, "OK"), "OK without failures")
    cw.put_metric_data(
        Namespace="AWS/CodePipeline",
        MetricData=[
            {
                "MetricName": "FailedPipelineExecutions",
                "Dimensions": dimensions,
                "Value": 1.0,
                "Unit": "Count",
            }
        ],
    )
    raised = wait_for(lambda: in_state(cw, name, "ALARM"), "ALARM after a failed execution")
    assert "was greater than or equal to the threshold (1.0)" in raised["StateReason"]


def test_state_change_event_reaches_eventbridge_rule(aws, namespace):
    sqs, events, cw = aws("sqs"), aws("events"), aws("cloudwatch")
    url = sqs.create_queue(QueueName=f"labkit-alarm-events-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = f"labkit-evented-{uuid.uuid4().hex[:6]}"
    rule = f"{name}-rule"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [name]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    try:
        put_alarm(cw, name, namespace)
        cw.put_metric_data(
            Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 12.0}]
        )
        bodies = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), "the event")
        event = json.loads(bodies[0]["Body"])
        assert (
            event["source"] == "aws.cloudwatch"
            and event["detail-type"] == "CloudWatch Alarm State Change"
        )
        assert event["resources"] == [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
        detail = event["detail"]
        assert detail["alarmName"] == name
        assert (
            detail["state"]["value"] == "ALARM"
            and detail["previousState"]["value"] == "INSUFFICIENT_DATA"
        )
        assert detail["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] == "Errors"
    finally:
        events.remove_targets(Rule=rule, Ids=["q"])
        events.delete_rule(Name=rule)
        sqs.delete_queue(QueueUrl=url)


def test_history_and_update_keep_state(aws, namespace):
    cw = aws("cloudwatch")
    name = put_alarm(cw, "labkit-history", namespace)
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": 12.0}])
    wait_for(lambda: in_state(cw, name, "ALARM"), "ALARM")
    # Updating an alarm keeps its state (AWS); moto alone would reset it to OK.
    put_alarm(cw, name, namespace, Threshold=11.0)
    assert alarm(cw, name)["StateValue"] == "ALARM"
    assert alarm(cw, name)["Threshold"] == 11.0

    items = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    summaries = [i["HistorySummary"] for i in items]  # newest first
    assert summaries == [
        f'Alarm "{name}" updated',
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        f'Alarm "{name}" created',
    ]
    change = json.loads(items[1]["HistoryData"])
    assert change["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert change["newState"]["stateValue"] == "ALARM"
    assert change["newState"]["stateReasonData"]["recentDatapoints"] == [12.0]

    first = cw.describe_alarm_history(AlarmName=name, MaxRecords=2, ScanBy="TimestampAscending")
    assert [i["HistorySummary"] for i in first["AlarmHistoryItems"]] == summaries[::-1][:2]
    rest = cw.describe_alarm_history(
        AlarmName=name, MaxRecords=2, ScanBy="TimestampAscending", NextToken=first["NextToken"]
    )
    assert [i["HistorySummary"] for i in rest["AlarmHistoryItems"]] == [summaries[0]]
    assert "NextToken" not in rest
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.describe_alarm_history(AlarmName=name, NextToken="not-a-token")

    cw.delete_alarms(AlarmNames=[name])
    after = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert (
        after[0]["HistorySummary"] == f'Alarm "{name}" deleted'
    )  # AWS keeps history after a delete


@pytest.mark.parametrize(
    ("settings", "code", "words"),
    [
        (
            {"ExtendedStatistic": "p99", "Statistic": "Sum"},
            "InvalidParameterCombination",
            "Statistic",
        ),
        ({"Period": 45}, "InvalidParameterValue", "Period"),
        ({"Period": 60, "EvaluationPeriods": 1441}, "ValidationError", "one day"),
        ({"EvaluationPeriods": 2, "DatapointsToAlarm": 3}, "ValidationError", "DatapointsToAlarm"),
    ],
)
def test_bad_alarm_settings_are_refused_and_nothing_is_created(
    aws, namespace, settings, code, words
):
    from botocore.exceptions import ClientError

    cw = aws("cloudwatch")
    name = f"labkit-bad-{uuid.uuid4().hex[:6]}"
    params = dict(
        AlarmName=name,
        Namespace=namespace,
        MetricName="Errors",
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    params.update(settings)
    with pytest.raises(ClientError) as caught:
        cw.put_metric_alarm(**params)
    assert caught.value.response["Error"]["Code"] == code
    assert words in caught.value.response["Error"]["Message"]
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


# --- the rules themselves, on made-up periods (fast; no emulator) --------------------------------

TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@pytest.mark.parametrize(
    ("points", "to_alarm", "expected"),
    [
        # points oldest first: X breaches, 0 does not, - is missing; expected per treatment above
        ("---", 3, ("INSUFFICIENT_DATA", None, "ALARM", "OK")),
        ("-X-", 3, ("ALARM", None, "ALARM", "OK")),
        ("0--", 3, ("OK", "OK", "OK", "OK")),
        ("XX0", 3, ("OK", "OK", "OK", "OK")),
        ("XXX", 3, ("ALARM", "ALARM", "ALARM", "ALARM")),
        ("X-X", 2, ("ALARM", "ALARM", "ALARM", "ALARM")),
        ("X-0", 2, ("OK", "OK", "OK", "OK")),
        ("--X", 2, ("ALARM", None, "ALARM", "OK")),
    ],
)
def test_m_out_of_n_with_each_missing_data_treatment(points, to_alarm, expected):
    from types import SimpleNamespace

    from labkit.emulator.alarms import Period, judge

    periods = [
        Period(600.0 + 60 * i, {"X": 5.0, "0": 0.0, "-": None}[p], 0 if p == "-" else 1)
        for i, p in enumerate(points)
    ]
    for treatment, state in zip(TREATMENTS, expected, strict=True):
        alarm = SimpleNamespace(
            comparison_operator="GreaterThanThreshold",
            threshold=1.0,
            datapoints_to_alarm=to_alarm,
            treat_missing_data=treatment,
            unit=None,
            extended_statistic=None,
            statistic="Sum",
            period=60,
        )
        verdict = judge(alarm, periods, datetime.now(timezone.utc))
        assert verdict.state == state, f"{points} {to_alarm}/3 {treatment}: {verdict.reason}"


def test_statistics_of_single_values_and_statistic_sets():
    from types import SimpleNamespace

    from labkit.emulator.alarms import statistic_of

    datums = [SimpleNamespace(value=v) for v in (1.0, 2.0, 3.0, 10.0)] + [
        SimpleNamespace(sample_count=2.0, sum=8.0, min=3.0, max=5.0)
    ]
    assert statistic_of(datums, "SampleCount", None) == (6.0, 6.0)
    assert statistic_of(datums, "Sum", None) == (24.0, 6.0)
    assert statistic_of(datums, "Average", None) == (4.0, 6.0)
    assert statistic_of(datums, "Minimum", None) == (1.0, 6.0)
    assert statistic_of(datums, "Maximum", None) == (10.0, 6.0)
    assert statistic_of(datums, None, 50.0) == (2.0, 6.0)  # from the single values only
    assert statistic_of([], "Sum", None) == (None, 0.0)
