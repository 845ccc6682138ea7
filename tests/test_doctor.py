"""`labkit doctor`: tools, the emulator, and on aws (in-process moto, never real AWS) the
credentials, the allow-list, the region and a budget it offers to create; never a credential."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from labkit import cli, ledger
from labkit.config import LabConfig
from labkit.doctor import create_budget, run_checks
from labkit.emulator_control import free_port
from labkit.errors import LabkitError
from labkit.lab import Lab
from labkit.secrets_scan import scan_text

ACCOUNT = "123456789012"
FAKE_KEY_ID = "AKIA" + "DOCTORTESTKEY001"
FAKE_SECRET = "doctor/test/secret/key/that/is/forty/ch"


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_local_doctor_sees_the_running_emulator(emulator):
    env = {**os.environ, "LABKIT_STATE_DIR": str(emulator.state_dir)}
    done = subprocess.run([sys.executable, "-m", "labkit", "doctor", "--backend", "local"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("[ok]   Python: 3.", "[ok]   git: git version", "[ok]   Node.js: v",
                 f"[ok]   emulator: running at {emulator.url}"):
        assert line in done.stdout, done.stdout
    assert done.stdout.rstrip().endswith("All set.")


def test_local_doctor_explains_a_stopped_emulator(tmp_path):
    # A free port: the default one may be in use by the learner's own emulator (`make run`).
    config = LabConfig(backend="local", state_dir=tmp_path, port=free_port())
    emulator = by_name(run_checks(config))["emulator"]
    assert emulator.status == "warn" and "not running" in emulator.detail
    assert "labkit emulator start" in emulator.fix


@pytest.fixture
def moto_env(monkeypatch, tmp_path):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LABKIT_CONFIG", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path))
    # An earlier aws-backend connect() in the same process may have changed the default region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("LABKIT_REGION", raising=False)
    with mock_aws():
        yield tmp_path


def aws_config(tmp_path, accounts=(ACCOUNT,)) -> LabConfig:
    return LabConfig(backend="aws", region="us-east-1", prefix="docaws", state_dir=tmp_path,
                     sandbox_accounts=tuple(accounts))


def test_aws_doctor_on_an_unlisted_account_says_how_to_allow_it(moto_env, monkeypatch, capsys):
    checks = by_name(run_checks(aws_config(moto_env, accounts=("111122223333",))))
    assert checks["credentials"].status == "ok" and ACCOUNT in checks["credentials"].detail
    assert checks["sandbox allow-list"].status == "fail"
    assert f"LABKIT_SANDBOX_ACCOUNTS={ACCOUNT}" in checks["sandbox allow-list"].fix
    assert checks["budget"].status == "fail" and "--budget" in checks["budget"].fix
    # The command exits non-zero and never prints a credential.
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", "111122223333")
    assert cli.main(["doctor", "--backend", "aws", "--no-input"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] sandbox allow-list" in out and "fix: if it is a sandbox" in out
    assert FAKE_KEY_ID not in out and scan_text(out, [FAKE_SECRET]) == []
    assert boto3.client("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


def test_aws_doctor_creates_a_budget_with_email_alerts(moto_env, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_SANDBOX_ACCOUNTS", ACCOUNT)
    args = ["doctor", "--backend", "aws", "--prefix", "docaws", "--no-input"]
    assert cli.main([*args, "--budget", "12", "--budget-email", "learner@example.com"]) == 0
    out = capsys.readouterr().out
    assert "[ok]   budget: created docaws-monthly-budget: 12 USD per month" in out
    budgets = boto3.client("budgets")
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="docaws-monthly-budget")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "12", "Unit": "USD"}
    assert budget["TimeUnit"] == "MONTHLY" and budget["BudgetType"] == "COST"
    notes = budgets.describe_notifications_for_budget(
        AccountId=ACCOUNT, BudgetName="docaws-monthly-budget")["Notifications"]
    assert {(n["NotificationType"], n["Threshold"]) for n in notes} == {("ACTUAL", 80.0),
                                                                         ("FORECASTED", 100.0)}
    # moto has no DescribeSubscribersForNotification; its backend shows what CreateBudget sent.
    from moto.budgets.models import budgets_backends

    stored = budgets_backends[ACCOUNT]["global"].budgets[ACCOUNT]["docaws-monthly-budget"]
    assert [n.subscribers for n in stored.notifications] == [
        [{"SubscriptionType": "EMAIL", "Address": "learner@example.com"}]] * 2
    # Teardown knows it from the ledger; a second doctor run sees it.
    lab = Lab(aws_config(moto_env), boto3.Session(region_name="us-east-1"))
    assert "docaws-monthly-budget" in ledger.names(lab, "budgets budget")
    assert cli.main(args) == 0
    assert "[ok]   budget: docaws-monthly-budget: 12 USD per month" in capsys.readouterr().out


def test_aws_doctor_offers_a_budget_when_asked_interactively(moto_env):
    answers = iter(["7.5", "me@example.com"])
    checks = by_name(run_checks(aws_config(moto_env), ask=lambda _q: next(answers)))
    assert checks["budget"].status == "ok" and "7.5 USD" in checks["budget"].detail
    skipped = by_name(run_checks(aws_config(moto_env, accounts=()), ask=lambda _q: "5"))
    assert skipped["budget"].status == "ok", "a budget now exists for the account"
    with pytest.raises(LabkitError, match="not an amount"):
        boto3.client("budgets").delete_budget(AccountId=ACCOUNT, BudgetName="docaws-monthly-budget")
        run_checks(aws_config(moto_env), ask=lambda _q: "ten dollars")


def test_bad_budget_input_creates_nothing(moto_env):
    lab = Lab(aws_config(moto_env), boto3.Session(region_name="us-east-1"))
    for amount, email in ((0, "a@example.com"), (5, "not-an-email")):
        with pytest.raises(ValueError):
            create_budget(lab, amount, email)
    assert boto3.client("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


def test_missing_credentials_are_explained(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    checks = by_name(run_checks(aws_config(tmp_path)))
    assert checks["credentials"].status == "fail" and "aws configure" in checks["credentials"].fix
