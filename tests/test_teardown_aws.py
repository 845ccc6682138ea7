"""Teardown's aws-backend paths against in-process moto (never real AWS): real EC2 hosts with
their instance profile and security group, force-deleted secrets, budgets, the ledger's S3
copy, and `labkit teardown` asking for the prefix before it deletes anything."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from moto import mock_aws

from labkit import cli, ledger
from labkit.config import LabConfig
from labkit.doctor import create_budget
from labkit.lab import Lab
from labkit.services import hosts as host_helpers
from labkit.teardown import find_lab_resources, teardown

PREFIX = "lkaws"
ACCOUNT = "123456789012"


@pytest.fixture
def moto_lab(monkeypatch, tmp_path):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LABKIT_CONFIG", "LABKIT_REGION"):
        monkeypatch.delenv(name, raising=False)
    # Real accounts have AWS's managed policies; moto loads them only when asked.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        config = LabConfig(backend="aws", region="us-east-1", prefix=PREFIX,
                           sandbox_accounts=(ACCOUNT,), state_dir=tmp_path)
        yield Lab(config, session)


def make_lab_resources(lab) -> None:
    tags = lab.tags.as_list()
    host_helpers.launch_instances(lab, 2, timeout=30)  # profile, security group, user data
    s3 = lab.client("s3")
    s3.create_bucket(Bucket=ledger.lab_bucket(lab))
    s3.put_bucket_versioning(Bucket=ledger.lab_bucket(lab),
                             VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=ledger.lab_bucket(lab), Key="artifact.zip", Body=body)
    s3.delete_object(Bucket=ledger.lab_bucket(lab), Key="artifact.zip")
    # Named outside the prefix on purpose: only the ledger knows it is the lab's.
    ledger.record(lab, "cloudwatch", "cloudwatch dashboard", "course-overview")
    lab.client("cloudwatch").put_dashboard(DashboardName="course-overview",
                                           DashboardBody=json.dumps({"widgets": []}))
    iam = lab.client("iam")
    iam.create_user(UserName=lab.name("approver"), Tags=tags)
    iam.create_access_key(UserName=lab.name("approver"))
    iam.attach_user_policy(UserName=lab.name("approver"),
                           PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitReadOnly")
    lab.client("secretsmanager").create_secret(Name=lab.name("db-password"),
                                               SecretString="hunter2-for-the-course", Tags=tags)
    lab.client("ssm").put_parameter(Name=f"/{PREFIX}/stage", Value="dev", Type="String",
                                    Tags=tags)
    topic = lab.client("sns").create_topic(Name=lab.name("alerts"), Tags=tags)["TopicArn"]
    lab.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="me@example.com")
    lab.client("logs").create_log_group(logGroupName=f"/{PREFIX}/app")
    events = lab.client("events")
    events.put_rule(Name=lab.name("nightly"), ScheduleExpression="rate(1 day)", Tags=tags)
    events.put_targets(Rule=lab.name("nightly"), Targets=[{"Id": "t", "Arn": topic}])
    lab.client("cloudformation").create_stack(StackName=lab.name("stack"), Tags=tags,
                                              TemplateBody=json.dumps({"Resources": {
                                                  "Queue": {"Type": "AWS::SQS::Queue"}}}))
    create_budget(lab, 5, "me@example.com")


def test_aws_teardown_asks_for_the_prefix_then_leaves_nothing(moto_lab, monkeypatch, capsys):
    lab = moto_lab
    make_lab_resources(lab)
    boto3.client("s3").create_bucket(Bucket="keep-this-bucket")
    boto3.client("secretsmanager").create_secret(Name="lkawsx-secret", SecretString="v")
    # Teardown from another machine: the local ledger is gone, its S3 copy remains.
    ledger.ledger_path(lab).unlink()
    assert {"course-overview"} <= ledger.names(lab, "cloudwatch dashboard")

    args = ["teardown", "--backend", "aws", "--prefix", PREFIX, "--state-dir", str(lab.state_dir)]
    monkeypatch.setattr("sys.stdin", io.StringIO("labkit\n"))
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert "Type the lab's prefix" in out and "Not confirmed: nothing was deleted." in out
    assert "ec2 instance i-" in out and "cloudwatch dashboard course-overview" in out
    assert len(find_lab_resources(lab)[0]) == 17, "a wrong answer deletes nothing"

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PREFIX}\n"))
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "nothing left" in out, out
    assert find_lab_resources(lab)[0] == []

    ec2 = boto3.client("ec2")
    states = {i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert states == {"terminated"}
    # Secrets are gone without a recovery window; nothing else of the lab is left.
    secrets = boto3.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert [s["Name"] for s in secrets] == ["lkawsx-secret"]
    assert boto3.client("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []
    assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == ["keep-this-bucket"]
    assert boto3.client("iam").list_users()["Users"] == []
    assert boto3.client("cloudwatch").list_dashboards()["DashboardEntries"] == []

    again = teardown(lab)
    assert again.ok and again.rows == []


def test_yes_skips_the_question_and_dry_run_never_asks(moto_lab, monkeypatch, capsys):
    lab = moto_lab
    lab.client("sns").create_topic(Name=lab.name("alerts"), Tags=lab.tags.as_list())
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    base = ["teardown", "--backend", "aws", "--state-dir", str(lab.state_dir), "--prefix", PREFIX]
    assert cli.main([*base, "--dry-run"]) == 0
    assert "would delete" in capsys.readouterr().out
    assert cli.main(base) == 1  # no terminal to answer the question: refuse, say why
    assert "run with --yes" in capsys.readouterr().err
    assert find_lab_resources(lab)[0]
    assert cli.main([*base, "--yes"]) == 0
    assert find_lab_resources(lab)[0] == []
