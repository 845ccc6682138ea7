"""The secret scan: planted keys and secret values are found in notebooks and reports, masked in
what labkit prints, and the course's own notebooks, reports, docs and logs hold none."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from labkit.lab import LOCAL_SECRET_KEY
from labkit.secrets_scan import lab_secret_values, redact, scan_notebook, scan_paths, scan_text
from labkit.teardown import teardown

REPO_ROOT = Path(__file__).resolve().parent.parent
PLANTED_KEY = "AKIA" + "Z7Q2LABKITPLANT1"  # split so this file itself is not a finding
PLANTED_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTED001"  # 40 characters
COURSE_SECRET = "course-db-password-42"
# Secrets the course must never show: the dummy credentials of local labs and of the tests.
NEVER_SHOWN = (LOCAL_SECRET_KEY, "labkit-test-secret", COURSE_SECRET)


def notebook(path: Path, outputs: list, source: str = "print(lab)") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter"),
                nbformat.v4.new_code_cell(source, outputs=outputs)]
    nbformat.write(nb, str(path))
    return path


def test_a_planted_key_in_a_notebook_output_is_found_and_masked(tmp_path):
    path = notebook(tmp_path / "01-leaky.ipynb", [
        nbformat.v4.new_output("stream", name="stdout", text=f"key id {PLANTED_KEY}\n"),
        nbformat.v4.new_output("display_data", data={
            "text/html": f"<td>aws_secret_access_key = {PLANTED_SECRET}</td>",
            "text/plain": "table"}),
        nbformat.v4.new_output("execute_result", execution_count=1,
                               data={"text/plain": f"'{COURSE_SECRET}'"}),
    ])
    findings = scan_notebook(path, [COURSE_SECRET])
    assert {(f.where, f.kind) for f in findings} == {
        ("cell 1 output", "access key id"), ("cell 1 output", "secret access key"),
        ("cell 1 output", "secret value")}
    text = "\n".join(map(str, findings))
    assert PLANTED_KEY not in text and PLANTED_SECRET not in text and COURSE_SECRET not in text
    assert "AKIA****ANT1" in text
    # The folder scan finds the same notebook among other files.
    (tmp_path / "report.html").write_text(f"<p>{COURSE_SECRET}</p>")
    found = scan_paths([tmp_path], [COURSE_SECRET])
    assert {Path(f.path).name for f in found} == {"01-leaky.ipynb", "report.html"}


def test_a_key_pasted_into_a_cell_source_is_found_too(tmp_path):
    path = notebook(tmp_path / "02.ipynb", [], source=f"KEY = '{PLANTED_KEY}'")
    assert [f.where for f in scan_notebook(path)] == ["cell 1 source"]


def test_clean_outputs_have_no_findings(tmp_path):
    path = notebook(tmp_path / "03-clean.ipynb", [nbformat.v4.new_output("stream", name="stdout", text=(
        "commit 3f786850e387550fdab836ed7e6dc881de23001b\n"
        "aws configure: AKIAIOSFODNN7EXAMPLE (AWS's documented example)\n"
        "AKIATOOSHORT, ***, build id labkit-build:0f6c1c3a\n"))])
    assert scan_notebook(path, [COURSE_SECRET, ""]) == []


def test_redact_masks_keys_and_values():
    text = f"id={PLANTED_KEY} secret_access_key: {PLANTED_SECRET} password {COURSE_SECRET}."
    clean = redact(text, [COURSE_SECRET])
    assert PLANTED_KEY not in clean and PLANTED_SECRET not in clean and COURSE_SECRET not in clean
    assert "password ***." in clean and scan_text(clean, [COURSE_SECRET]) == []


def test_lab_secret_values_and_teardown_reports_never_show_them(lab, emulator):
    sm, iam = lab.client("secretsmanager"), lab.client("iam")
    name = lab.name("scan-db")
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": COURSE_SECRET}))
    lab.client("ssm").put_parameter(Name=f"/{lab.prefix}/scan-token", Value="token-for-the-scan",
                                    Type="SecureString")
    values = lab_secret_values(lab)
    assert COURSE_SECRET in values and "token-for-the-scan" in values
    iam.create_user(UserName=lab.name("scan-user"))
    key = iam.create_access_key(UserName=lab.name("scan-user"))["AccessKey"]
    try:
        report = teardown(lab, dry_run=True)
        printed = report.table() + report.summary()
        assert f"iam access key {lab.name('scan-user')}/****{key['AccessKeyId'][-4:]}" in printed
        assert scan_text(printed, [*values, key["SecretAccessKey"]]) == []
    finally:
        iam.delete_access_key(UserName=lab.name("scan-user"), AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=lab.name("scan-user"))
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        lab.client("ssm").delete_parameter(Name=f"/{lab.prefix}/scan-token")


@pytest.mark.parametrize("folder", ["notebooks", "output", "docs", "benchmarks"])
def test_the_courses_notebooks_reports_and_docs_hold_no_secrets(folder):
    root = REPO_ROOT / folder
    if not root.exists():
        pytest.skip(f"no {folder}/ yet")
    findings = scan_paths([root], NEVER_SHOWN)
    assert not findings, "\n".join(map(str, findings))


def test_the_emulator_log_holds_no_secrets(emulator):
    findings = scan_paths([Path(emulator.state_dir) / "emulator.log"], NEVER_SHOWN)
    assert not findings, "\n".join(map(str, findings))
