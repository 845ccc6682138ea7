"""The shared event bridge: events reach the targets of matching rules (SQS, SNS, CloudWatch Logs)."""

import json

import pytest


@pytest.fixture
def queue(aws):
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="labkit-events-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield url, arn
    sqs.delete_queue(QueueUrl=url)


def _rule(aws, name, pattern, targets):
    events = aws("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=targets)
    return events


def test_matching_event_reaches_sqs_and_sns_targets(aws, queue):
    url, queue_arn = queue
    sns = aws("sns")
    topic = sns.create_topic(Name="labkit-events-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    events = _rule(aws, "labkit-test-rule", {"source": ["labkit.test"], "detail": {"kind": ["a"]}},
                   [{"Id": "q", "Arn": queue_arn}, {"Id": "t", "Arn": topic}])
    result = events.put_events(Entries=[
        {"Source": "labkit.test", "DetailType": "Test", "Detail": json.dumps({"kind": "a"})},
        {"Source": "labkit.test", "DetailType": "Test", "Detail": json.dumps({"kind": "b"})},
    ])
    assert result["FailedEntryCount"] == 0
    messages = aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    direct = [b for b in bodies if "detail-type" in b]
    via_sns = [json.loads(b["Message"]) for b in bodies if b.get("Type") == "Notification"]
    # Only the event with kind "a" matched: one copy straight from the rule, one through SNS.
    assert [e["detail"] for e in direct] == [{"kind": "a"}]
    assert [e["detail"] for e in via_sns] == [{"kind": "a"}]
    assert direct[0]["source"] == "labkit.test" and direct[0]["account"] == "123456789012"
    events.remove_targets(Rule="labkit-test-rule", Ids=["q", "t"])
    events.delete_rule(Name="labkit-test-rule")


def test_event_reaches_a_log_group_target(aws):
    logs = aws("logs")
    logs.create_log_group(logGroupName="/labkit/events-test")
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/labkit/events-test"
    events = _rule(aws, "labkit-log-rule", {"source": ["labkit.logs"]}, [{"Id": "l", "Arn": arn}])
    events.put_events(Entries=[{"Source": "labkit.logs", "DetailType": "T", "Detail": "{}"}])
    found = logs.filter_log_events(logGroupName="/labkit/events-test")["events"]
    assert len(found) == 1
    assert json.loads(found[0]["message"])["source"] == "labkit.logs"
    events.remove_targets(Rule="labkit-log-rule", Ids=["l"])
    events.delete_rule(Name="labkit-log-rule")


def test_malformed_entries_are_reported_per_entry(aws):
    result = aws("events").put_events(Entries=[
        {"Source": "labkit.test", "DetailType": "T", "Detail": "not json"},
        {"Source": "labkit.test", "DetailType": "T", "Detail": "{}"},
    ])
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][0]["ErrorCode"] == "MalformedDetail"
    assert "EventId" in result["Entries"][1]
