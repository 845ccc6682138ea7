"""Teardown's rules on their own: which names and tags are the lab's, retries with backoff,
the report table, the ledger file, and the command when no emulator runs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from labkit import cli, ledger
from labkit.config import LabConfig
from labkit.teardown.core import Ownership, Row, format_table, name_in_lab, run_with_retries


@pytest.mark.parametrize("name, ours", [
    ("lab1-artifacts", True), ("lab1", True), ("/lab1/db-url", True), ("lab1/db-password", True),
    ("/aws/codebuild/lab1-build", True), ("/aws/lambda/lab1-fn", True),
    ("lab1x-artifacts", False), ("lab12-build", False), ("keep-lab1-bucket", False),
    ("/aws/codebuild/other-build", False), ("/other/lab1-x", False), ("", False),
])
def test_names_in_the_lab(name, ours):
    assert name_in_lab(name, "lab1") is ours


def test_a_tag_decides_before_the_name_then_the_ledger():
    rule = Ownership("lab1", {("cloudwatch dashboard", "overview")})
    assert rule.owns("s3 bucket", "anything", {"labkit:lab": "lab1"})
    assert not rule.owns("s3 bucket", "lab1-b-bucket", {"labkit:lab": "lab1-b"})
    assert rule.owns("s3 bucket", "lab1-bucket", {"Owner": "me"})
    assert rule.owns("cloudwatch dashboard", "overview")
    assert not rule.owns("cloudwatch dashboard", "overview-2")


def client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Delete")


def test_retries_throttling_and_dependencies_with_growing_waits():
    failures = [client_error("Throttling"), client_error("DependencyViolation")]
    waits: list[float] = []

    def action():
        if failures:
            raise failures.pop(0)

    assert run_with_retries(action, 60, sleep=waits.append) == "deleted"
    assert waits == [0.25, 0.5]


def test_gone_is_fine_other_errors_fail_at_once_and_retries_stop_at_the_deadline():
    def gone():
        raise client_error("NoSuchBucket")

    def denied():
        raise client_error("AccessDenied", "not allowed")

    def busy():
        raise client_error("ResourceInUse", "still attached")

    assert run_with_retries(gone, 60, sleep=lambda _s: None) == "already gone"
    assert run_with_retries(denied, 60, sleep=lambda _s: None) == "failed: AccessDenied: not allowed"
    waits: list[float] = []
    assert run_with_retries(busy, 0, sleep=waits.append) == "failed: ResourceInUse: still attached"
    assert waits == []


def test_table_has_resource_action_result_columns():
    table = format_table([Row("s3 bucket lab1-artifacts", "delete", "deleted"),
                          Row("iam role lab1-build", "would delete", "not run (dry run)")])
    lines = table.splitlines()
    assert lines[0].split() == ["resource", "action", "result"]
    assert lines[2].startswith("s3 bucket lab1-artifacts  delete")
    assert lines[3].endswith("not run (dry run)")


class LocalLab:
    """The little a ledger needs of a lab, on the local backend (no AWS call is made)."""

    def __init__(self, state_dir):
        self.config = LabConfig(state_dir=state_dir, prefix="lab1")
        self.backend, self.region, self.prefix, self.state_dir = "local", "us-east-1", "lab1", state_dir


def test_ledger_records_forgets_and_clears(tmp_path):
    lab = LocalLab(tmp_path)
    ledger.record(lab, "codedeploy", "codedeploy deployment config", "lab1-fast")
    ledger.record(lab, "codedeploy", "codedeploy deployment config", "lab1-fast")  # once only
    ledger.record(lab, "cloudwatch", "cloudwatch dashboard", "overview")
    assert ledger.names(lab, "codedeploy deployment config") == {"lab1-fast"}
    assert len(ledger.entries(lab)) == 2
    ledger.forget(lab, "cloudwatch dashboard", "overview")
    assert [e["name"] for e in ledger.entries(lab)] == ["lab1-fast"]
    ledger.clear(lab)
    assert ledger.entries(lab) == [] and not ledger.ledger_path(lab).exists()


def test_local_teardown_without_a_running_emulator_has_nothing_to_do(tmp_path, capsys):
    assert cli.main(["teardown", "--backend", "local", "--state-dir", str(tmp_path)]) == 0
    assert "No emulator is running" in capsys.readouterr().out
