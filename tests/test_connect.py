"""labkit.connect(): the two backends, the lab's names and tags, settings and bad input."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import labkit
from labkit.config import load_config
from labkit.errors import ConfigError, SandboxRefused


def test_local_lab_reaches_the_emulator_and_exports_its_endpoint(lab, emulator):
    assert lab.backend == "local" and lab.endpoint_url == emulator.url
    assert lab.account_id == "123456789012"
    lab.client("s3").create_bucket(Bucket=lab.name("connect-test"))
    # A subprocess (like `!aws s3 ls` in a notebook cell) reaches the emulator too.
    assert os.environ["AWS_ENDPOINT_URL"] == emulator.url
    assert str(Path(sys.executable).parent) == os.environ["PATH"].split(os.pathsep)[0]
    listing = subprocess.run(["aws", "s3", "ls"], capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "labkit-connect-test" in listing.stdout


def test_moto_is_another_name_for_local(emulator):
    saved = dict(os.environ)
    try:
        lab = labkit.connect(backend="moto", port=emulator.port, state_dir=emulator.state_dir)
        assert lab.backend == "local"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_names_and_tags_in_each_service_shape(lab):
    assert lab.name("pipeline") == "labkit-pipeline"
    assert lab.tags.as_dict() == {"labkit:lab": "labkit", "labkit:created-by": "labkit"}
    assert {"Key": "labkit:lab", "Value": "labkit"} in lab.tags.as_list()
    assert {"key": "labkit:lab", "value": "labkit"} in lab.tags.as_list("key", "value")
    # Tags in the shape moto's S3 takes are accepted as they are.
    s3 = lab.client("s3")
    s3.create_bucket(Bucket=lab.name("tag-test"))
    s3.put_bucket_tagging(Bucket=lab.name("tag-test"), Tagging={"TagSet": lab.tags.as_list()})
    tags = s3.get_bucket_tagging(Bucket=lab.name("tag-test"))["TagSet"]
    assert {t["Key"] for t in tags} == {"labkit:lab", "labkit:created-by"}


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "azure"}, "Unknown backend 'azure'"),
    ({"region": "mars-east-1"}, "Unknown AWS region 'mars-east-1'"),
    ({"prefix": "Bad_Prefix"}, "Invalid prefix 'Bad_Prefix'"),
])
def test_bad_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError) as err:
        labkit.connect(**kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_settings_come_from_arguments_then_env_then_labkit_toml(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "labkit"\n')
    (tmp_path / "labkit.toml").write_text(
        '[labkit]\nregion = "eu-west-1"\nprefix = "from-file"\nsandbox_accounts = ["111122223333"]\n'
        'learner_id = "learner-07"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    for name in ("LABKIT_STATE_DIR", "LABKIT_PREFIX", "LABKIT_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config.region == "eu-west-1" and config.prefix == "from-file"
    assert config.sandbox_accounts == ("111122223333",) and config.learner_id == "learner-07"
    assert config.state_dir == tmp_path / ".labkit"  # found by walking up from notebooks/
    monkeypatch.setenv("LABKIT_PREFIX", "from-env")
    assert load_config().prefix == "from-env"
    assert load_config(prefix="from-arg").prefix == "from-arg"


def test_unknown_setting_in_labkit_toml_is_refused(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "labkit"\n')
    (tmp_path / "labkit.toml").write_text('[labkit]\nregoin = "eu-west-1"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="unknown setting.*regoin"):
        load_config()


@mock_aws
def test_aws_backend_refuses_an_account_not_on_the_allow_list(monkeypatch):
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", "111111111111")
    with pytest.raises(SandboxRefused) as err:
        labkit.connect(backend="aws", region="us-east-1")
    message = str(err.value)
    assert "123456789012" in message and "LABKIT_SANDBOX_ACCOUNTS=123456789012" in message
    # Nothing was created before the refusal.
    assert boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"] == []


@mock_aws
def test_aws_backend_accepts_a_listed_sandbox_account(monkeypatch):
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", "123456789012")
    lab = labkit.connect(backend="aws", region="eu-west-1")
    assert lab.account_id == "123456789012" and lab.endpoint_url is None
    assert lab.client("s3").meta.region_name == "eu-west-1"
