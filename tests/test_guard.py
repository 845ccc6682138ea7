"""The sandbox guard on the aws backend, against in-process moto (never real AWS): no create,
change or delete runs outside the allow-listed account and regions; read-only calls do."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import labkit
from labkit.config import LabConfig, load_config
from labkit.errors import ConfigError, SandboxRefused
from labkit.guard import is_read_only
from labkit.lab import Lab

MOTO_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999988887777"


@pytest.fixture
def moto(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LABKIT_SANDBOX_ACCOUNTS",
                 "LABKIT_SANDBOX_REGIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def other_account_session(region: str = "us-east-1") -> boto3.Session:
    """Credentials of another account, from moto's STS (as a learner's work profile would be)."""
    sts = boto3.client("sts", region_name=region)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/work",
                            RoleSessionName="learner")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def aws_lab(session: boto3.Session, accounts=(MOTO_ACCOUNT,), region="us-east-1",
            regions=()) -> Lab:
    config = LabConfig(backend="aws", region=region, prefix="guarded",
                       sandbox_accounts=tuple(accounts), sandbox_regions=tuple(regions))
    return Lab(config, session)


@pytest.mark.parametrize("operation, read_only", [
    ("DescribeInstances", True), ("GetObject", True), ("ListBuckets", True), ("HeadBucket", True),
    ("BatchGetProjects", True), ("GetCallerIdentity", True), ("FilterLogEvents", True),
    ("CreateBucket", False), ("PutObject", False), ("DeleteStack", False), ("RunInstances", False),
    ("StartBuild", False), ("TestRepositoryTriggers", False), ("BatchDeleteBuilds", False),
    ("TagResource", False), ("UpdateFunctionCode", False), ("AttachRolePolicy", False),
])
def test_read_only_operations_are_told_apart_by_name(operation, read_only):
    assert is_read_only(operation) is read_only


def test_connect_refuses_another_accounts_credentials_before_any_create(moto, monkeypatch):
    session = other_account_session()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", session.get_credentials().access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", session.get_credentials().secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", session.get_credentials().token)
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", MOTO_ACCOUNT)
    with pytest.raises(SandboxRefused) as refused:
        labkit.connect(backend="aws", region="us-east-1")
    message = str(refused.value)
    assert OTHER_ACCOUNT in message and f"LABKIT_SANDBOX_ACCOUNTS={OTHER_ACCOUNT}" in message
    assert session.client("s3").list_buckets()["Buckets"] == []


def test_every_changing_call_of_an_unlisted_account_is_refused_reads_pass(moto):
    session = other_account_session()
    lab = aws_lab(session)  # built directly: the guard holds even without connect()
    s3, ec2, iam = lab.client("s3"), lab.client("ec2"), lab.client("iam")
    assert s3.list_buckets()["Buckets"] == []
    assert ec2.describe_instances()["Reservations"] == []
    for call in (lambda: s3.create_bucket(Bucket="guarded-bucket"),
                 lambda: iam.create_role(RoleName="guarded-role", AssumeRolePolicyDocument="{}"),
                 lambda: ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1),
                 lambda: lab.resource("s3").create_bucket(Bucket="guarded-other")):
        with pytest.raises(SandboxRefused) as refused:
            call()
        assert OTHER_ACCOUNT in str(refused.value) and "not run" in str(refused.value)
    # Nothing reached moto: the refusal happens before the request is even built.
    assert session.client("s3").list_buckets()["Buckets"] == []
    assert session.client("iam").list_roles()["Roles"] == []
    assert session.client("ec2").describe_instances()["Reservations"] == []


def test_teardown_refuses_an_unlisted_account_before_deleting(moto):
    from labkit.teardown import teardown

    session = other_account_session()
    session.client("s3").create_bucket(Bucket="guarded-data")  # not through labkit
    lab = aws_lab(session)
    with pytest.raises(SandboxRefused):
        teardown(lab)
    assert [b["Name"] for b in session.client("s3").list_buckets()["Buckets"]] == ["guarded-data"]
    # A dry run only reads, so it may show what a teardown would do.
    assert [r.resource for r in teardown(lab, dry_run=True).rows] == ["s3 bucket guarded-data"]


def test_changes_outside_the_allowed_regions_are_refused(moto):
    session = boto3.Session(region_name="us-east-1")
    lab = aws_lab(session)
    lab.client("s3").create_bucket(Bucket="guarded-home")
    west = lab.client("sqs", region_name="us-west-2")
    assert west.list_queues().get("QueueUrls", []) == []
    with pytest.raises(SandboxRefused) as refused:
        west.create_queue(QueueName="guarded-west")
    assert "us-west-2" in str(refused.value) and "LABKIT_SANDBOX_REGIONS=us-east-1,us-west-2" in str(
        refused.value)
    # IAM has no region: any client of an allowed account may change it.
    lab.client("iam", region_name="us-west-2").create_role(RoleName="guarded-role",
                                                          AssumeRolePolicyDocument="{}")
    wider = aws_lab(session, regions=("us-east-1", "us-west-2"))
    wider.client("sqs", region_name="us-west-2").create_queue(QueueName="guarded-west")
    assert boto3.client("sqs", region_name="us-west-2").list_queues()["QueueUrls"]


def test_sandbox_regions_come_from_the_environment_or_labkit_toml(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_SANDBOX_REGIONS", "eu-west-1, eu-central-1")
    assert load_config().sandbox_regions == ("eu-west-1", "eu-central-1")
    monkeypatch.delenv("LABKIT_SANDBOX_REGIONS")
    toml = tmp_path / "labkit.toml"
    toml.write_text('[labkit]\nsandbox_regions = ["us-east-2"]\n')
    monkeypatch.setenv("LABKIT_CONFIG", str(toml))
    assert load_config().sandbox_regions == ("us-east-2",)
    toml.write_text('[labkit]\nsandbox_regions = ["mars-1"]\n')
    with pytest.raises(ConfigError, match="Unknown AWS region 'mars-1'"):
        load_config()


def test_the_local_backend_has_no_guard(lab):
    # The emulator is not an account: nothing there needs an allow-list.
    lab.client("sqs").create_queue(QueueName=lab.name("guard-free"))
    lab.client("sqs").delete_queue(QueueUrl=lab.client("sqs").get_queue_url(
        QueueName=lab.name("guard-free"))["QueueUrl"])


def test_clients_made_straight_from_the_session_obey_the_guard(moto, monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", MOTO_ACCOUNT)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "mine.cfg"))
    (tmp_path / "mine.cfg").write_text("[profile work]\nregion = eu-west-1\n")
    lab = labkit.connect(backend="aws", region="us-east-1")
    direct = lab.session.client("sqs", region_name="eu-west-1")  # not through lab.client()
    with pytest.raises(SandboxRefused, match="eu-west-1"):
        direct.create_queue(QueueName="guarded-queue")
    assert direct.list_queues().get("QueueUrls", []) == []
    lab.session.client("sqs").create_queue(QueueName="guarded-queue")  # the lab's region: allowed
    # `!aws` cells: the CLI now reads a copy of the learner's config that loads the guard plugin.
    from labkit import cli_guard

    config_file = os.environ["AWS_CONFIG_FILE"]
    assert cli_guard.is_labkit_cli_config(config_file) and os.environ[cli_guard.ACTIVE_ENV] == "1"
    text = Path(config_file).read_text()
    assert "[profile work]" in text and cli_guard.PLUGIN_LINE in text
    cli_guard.switch_off()
    assert os.environ["AWS_CONFIG_FILE"] == str(tmp_path / "mine.cfg")
    assert cli_guard.ACTIVE_ENV not in os.environ


def test_an_existing_plugins_section_is_joined_not_repeated(tmp_path):
    from labkit import cli_guard

    mine = tmp_path / "config"
    mine.write_text("[default]\nregion = us-east-1\n[plugins]\nother = some.plugin\n")
    text = cli_guard.write_cli_config(tmp_path / "state", mine).read_text()
    assert text.count("[plugins]") == 1 and "other = some.plugin" in text
    assert cli_guard.PLUGIN_LINE in text


def aws_cli(emulator, config_file: Path, tmp_path: Path, allowed: str, *args: str):
    env = {**os.environ, "AWS_CONFIG_FILE": str(config_file), "LABKIT_CLI_GUARD": "1",
           "LABKIT_SANDBOX_ACCOUNTS": allowed, "AWS_ENDPOINT_URL": emulator.url,
           "AWS_ACCESS_KEY_ID": "labkit-local", "AWS_SECRET_ACCESS_KEY": "labkit-local-secret",
           "AWS_DEFAULT_REGION": "us-east-1", "LABKIT_REGION": "us-east-1",
           "LABKIT_STATE_DIR": str(tmp_path / "state")}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "LABKIT_CONFIG", "LABKIT_SANDBOX_REGIONS"):
        env.pop(name, None)
    aws = str(Path(sys.executable).parent / "aws")
    return subprocess.run([aws, *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_aws_cli_commands_are_guarded_by_the_plugin(emulator, aws, tmp_path):
    """The real AWS CLI, loading labkit's plugin from the config connect() writes."""
    from labkit import cli_guard

    config_file = cli_guard.write_cli_config(tmp_path / "state", tmp_path / "none")
    account = aws("sts").get_caller_identity()["Account"]
    bucket = f"cli-guard-{uuid.uuid4().hex[:8]}"
    refused = aws_cli(emulator, config_file, tmp_path, OTHER_ACCOUNT, "s3api", "create-bucket",
                      "--bucket", bucket)
    assert refused.returncode != 0
    assert "s3:CreateBucket not run" in refused.stderr and account in refused.stderr
    names = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert bucket not in names, "the refused command never reached the emulator"
    listed = aws_cli(emulator, config_file, tmp_path, OTHER_ACCOUNT, "s3api", "list-buckets")
    assert listed.returncode == 0, listed.stderr  # reads pass
    made = aws_cli(emulator, config_file, tmp_path, account, "s3api", "create-bucket",
                   "--bucket", bucket)
    assert made.returncode == 0, made.stderr
    aws("s3").delete_bucket(Bucket=bucket)
