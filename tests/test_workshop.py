"""Workshops without an emulator: roster and learner files, bad input, the progress store under
30 concurrent learners, stuck detection, the report, per-learner policies, timings."""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.cli import main as labkit_main
from labkit.config import load_config
from labkit.emulator.authorization import decide
from labkit.exercises import Exercise, NotAttempted, Wrong, learner_name
from labkit.names import CourseNames
from labkit.workshop import policy as policies
from labkit.workshop import status as ws
from labkit.workshop.progress import (
    InvalidRecord,
    LocalStore,
    PathStore,
    UnknownLearner,
    configured_spec,
    open_store,
)
from labkit.workshop.roster import (
    RosterError,
    init_workshop,
    load_workshop,
    read_roster,
)

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def attempt(learner, chapter, exercise, passed, when, attempts=1):
    return {"learner": learner, "chapter": chapter, "exercise": exercise, "passed": passed,
            "attempts": attempts, "time": when.isoformat()}


def finished(learner, chapter, when):
    return {"learner": learner, "chapter": chapter, "event": "chapter-finished", "time": when.isoformat()}


# --- init -------------------------------------------------------------------------------------

def test_init_for_30_learners_locally(tmp_path, monkeypatch):
    workshop = init_workshop(tmp_path / "ws", learners=30, prefix_base="ws1")
    roster = read_roster(tmp_path / "ws" / "roster.csv")
    assert [learner_.learner_id for learner_ in roster] == [f"learner-{i:02d}" for i in range(1, 31)]
    assert len({learner_.prefix for learner_ in roster}) == 30 and roster[6].prefix == "ws1-07"
    assert workshop.progress_store == str((tmp_path / "ws" / "progress").resolve())
    for learner in roster:
        path = tmp_path / "ws" / learner.config
        monkeypatch.setenv("LABKIT_CONFIG", str(path))
        monkeypatch.delenv("LABKIT_LEARNER", raising=False)
        monkeypatch.delenv("LABKIT_PREFIX", raising=False)
        config = load_config()
        assert (config.prefix, config.learner_id, config.backend) == (learner.prefix, learner.learner_id, "local")
        assert learner_name(SimpleNamespace(config=config)) == learner.learner_id
        assert configured_spec() == workshop.progress_store
    assert load_workshop(tmp_path / "ws").ids == {learner_.learner_id for learner_ in roster}
    with pytest.raises(RosterError, match="exists already"):
        init_workshop(tmp_path / "ws", learners=5)
    assert len(init_workshop(tmp_path / "ws", learners=5, force=True).learners) == 5
    assert len(list((tmp_path / "ws" / "learners").glob("*.toml"))) == 5


def test_init_on_aws_with_one_account_writes_policies(tmp_path, capsys):
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("111122223333\n")
    code = labkit_main(["workshop", "init", "--learners", "4", "--backend", "aws", "--prefix-base", "room",
                        "--accounts-file", str(accounts), "--output", str(tmp_path / "ws")])
    out = capsys.readouterr().out
    assert code == 0
    assert "isolated by prefix and tag" in out and "Where the policy cannot limit" in out
    assert "ssm: the sample app reads /my-app/<environment>/log-level" in out
    policy = json.loads((tmp_path / "ws" / "policies" / "learner-03.json").read_text())
    assert "arn:aws:codecommit:us-east-1:111122223333:room-03-*" in json.dumps(policy)
    toml = (tmp_path / "ws" / "learners" / "learner-03.toml").read_text()
    assert 'sandbox_accounts = ["111122223333"]' in toml
    assert 'progress_store = "s3://room-workshop-111122223333-us-east-1/progress"' in toml


def test_accounts_file_forms(tmp_path):
    one_each = tmp_path / "each.txt"
    one_each.write_text("111111111111\n222222222222\n")
    workshop = init_workshop(tmp_path / "a", 2, "aws", "ws2", accounts_file=one_each)
    assert [learner_.account for learner_ in workshop.learners] == ["111111111111", "222222222222"]
    wrong_count = tmp_path / "three.txt"
    wrong_count.write_text("111111111111\n222222222222\n333333333333\n")
    with pytest.raises(RosterError, match="lists 3 accounts for 2 learners"):
        init_workshop(tmp_path / "b", 2, "aws", "ws2", accounts_file=wrong_count)
    bad = tmp_path / "bad.txt"
    bad.write_text("12345\n")
    with pytest.raises(RosterError, match="not an AWS account id"):
        init_workshop(tmp_path / "c", 2, "aws", "ws2", accounts_file=bad)


def test_init_refuses_a_base_that_makes_invalid_prefixes(tmp_path):
    with pytest.raises(RosterError, match="does not make valid learner prefixes"):
        init_workshop(tmp_path / "ws", 5, prefix_base="Bad_Base")
    with pytest.raises(RosterError, match="1 to 500"):
        init_workshop(tmp_path / "ws", 0)


# --- bad input ------------------------------------------------------------------------------

def write_roster(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("learner_id,prefix,region,backend,account,config\n" + "".join(
        f"{learner},{prefix},us-east-1,local,,learners/{learner}.toml\n" for learner, prefix in rows))
    return path


def test_a_roster_with_duplicate_learner_ids_is_refused(tmp_path):
    path = write_roster(tmp_path / "roster.csv", [("learner-01", "ws1-01"), ("learner-02", "ws1-02"),
                                                  ("learner-01", "ws1-03")])
    with pytest.raises(RosterError, match=r"learner id 'learner-01' appears twice \(rows 2 and 4\)"):
        read_roster(path)


def test_a_prefix_that_collides_with_another_learners_is_refused(tmp_path):
    path = write_roster(tmp_path / "roster.csv", [("learner-01", "ws1-01"), ("learner-02", "ws1-01-b")])
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert "prefix 'ws1-01-b' of learner-02 would collide with prefix 'ws1-01' of learner-01" in str(caught.value)
    same = write_roster(tmp_path / "same.csv", [("learner-01", "ws1-01"), ("learner-02", "ws1-01")])
    with pytest.raises(RosterError, match="would collide"):
        read_roster(same)
    fine = write_roster(tmp_path / "fine.csv", [("learner-01", "ws1-01"), ("learner-02", "ws1-010")])
    assert len(read_roster(fine)) == 2  # 'ws1-010-...' is not 'ws1-01-...'


def test_a_record_from_an_unknown_learner_is_refused(tmp_path, capsys):
    workshop = init_workshop(tmp_path / "ws", 3)
    store = open_store(workshop.progress_store)
    assert isinstance(store, PathStore) and store.roster() == workshop.ids
    with pytest.raises(UnknownLearner, match="unknown learner 'intruder'"):
        store.append(attempt("intruder", "00", "account_id", True, T0))
    store.append(attempt("learner-01", "00", "account_id", True, T0))
    # A file smuggled into the store is left out of the dashboard, with the reason.
    (Path(workshop.progress_store) / "intruder.jsonl").write_text(json.dumps(attempt("intruder", "00", "x", True, T0)) + "\n")
    records, refused = ws.load_records(workshop, store)
    assert list(records["learner"]) == ["learner-01"]
    assert len(refused) == 1 and "unknown learner 'intruder'" in refused[0]
    with pytest.raises(InvalidRecord, match="lacks attempts, passed"):
        store.append({"learner": "learner-01", "chapter": "00", "exercise": "x", "time": T0.isoformat()})


def test_a_learner_off_the_roster_still_keeps_their_record_locally(tmp_path, monkeypatch, capsys):
    workshop = init_workshop(tmp_path / "ws", 2)
    monkeypatch.setenv("LABKIT_PROGRESS_STORE", workshop.progress_store)
    monkeypatch.setenv("LABKIT_LEARNER", "learner-09")
    lab = SimpleNamespace(state_dir=tmp_path / "state", config=SimpleNamespace(learner_id=None))
    ok = Exercise("q", "00", "task", lambda lab, a: "fine", ("h",), "x = 1", lambda lab: 1)
    assert ok.bind(lab).check(1).passed
    out = capsys.readouterr().out
    assert "Saved on this machine only" in out and "unknown learner 'learner-09'" in out
    assert len(LocalStore(lab.state_dir).read("learner-09")) == 1
    assert PathStore(workshop.progress_store).learners() == []


# --- 30 learners at once ----------------------------------------------------------------------

def _checker(lab, answer):
    if answer is None:
        raise NotAttempted("no answer")
    if answer != 42:
        raise Wrong("not 42")
    return "42"


EXERCISE = Exercise("answer", "00", "Find 42.", _checker, ("think",), "answer = 42", lambda lab: 42)


def simulate_learner(learner_id: str, state_root: Path, checks: int = 10) -> None:
    """One learner: `checks` attempts through the real check() path, then the chapter's end."""
    import labkit.exercises as exercises

    lab = SimpleNamespace(state_dir=state_root / learner_id, config=SimpleNamespace(learner_id=learner_id))
    bound = EXERCISE.bind(lab)
    for number in range(checks):
        bound.check(42 if number == checks - 1 else number)
    exercises.finish_chapter(lab, "00")


def test_30_learners_record_progress_concurrently_without_losing_a_record(tmp_path, monkeypatch, capsys):
    workshop = init_workshop(tmp_path / "ws", 30)
    monkeypatch.setenv("LABKIT_PROGRESS_STORE", workshop.progress_store)
    monkeypatch.delenv("LABKIT_LEARNER", raising=False)
    barrier = threading.Barrier(30)

    def learner(learner_id):
        barrier.wait()
        simulate_learner(learner_id, tmp_path / "machines")

    threads = [threading.Thread(target=learner, args=(learner_.learner_id,)) for learner_ in workshop.learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    capsys.readouterr()
    records, refused = ws.load_records(workshop)
    assert not refused
    assert len(records) == 30 * 11
    for learner_id, mine in records.groupby("learner"):
        attempts = mine[mine["exercise"].notna()]
        assert list(attempts["attempts"]) == list(range(1, 11)), learner_id
        assert list(attempts["passed"]) == [False] * 9 + [True]
    table = ws.status_frame(workshop, records, now=datetime.now(timezone.utc))
    assert len(table) == 30 and (table["exercises passed"] == 1).all()


def _append_many(folder: str, learner: str, count: int) -> None:
    store = PathStore(folder)
    for number in range(count):
        store.append(attempt(learner, "00", "answer", False, T0, attempts=number))


def test_processes_appending_for_one_learner_never_mix_lines(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), "learner-01", 100))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = (tmp_path / "learner-01.jsonl").read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["learner"] == "learner-01" for line in lines)


# --- stuck, helped, status, report ------------------------------------------------------------

def room(tmp_path):
    workshop = init_workshop(tmp_path / "ws", 4)
    store = open_store(workshop.progress_store)
    for record in [
        attempt("learner-01", "00", "account_id", True, T0), finished("learner-01", "00", T0 + timedelta(minutes=1)),
        attempt("learner-02", "02", "failed_phase", False, T0, 1),
        attempt("learner-02", "02", "failed_phase", False, T0 + timedelta(minutes=1), 2),
        attempt("learner-02", "02", "failed_phase", False, T0 + timedelta(minutes=2), 3),
        attempt("learner-03", "00", "account_id", False, T0),
    ]:
        store.append(record)
    return workshop, store


def test_stuck_after_three_failures_or_fifteen_quiet_minutes_until_helped(tmp_path):
    workshop, store = room(tmp_path)
    records, _ = ws.load_records(workshop, store)
    at = T0 + timedelta(minutes=5)
    assert ws.stuck_reasons(workshop, records, {}, at) == {
        "learner-02": "failed 02/failed_phase 3 times in a row"}
    later = T0 + timedelta(minutes=20)
    reasons = ws.stuck_reasons(workshop, records, {}, later)
    assert reasons["learner-03"] == "no progress for 20 min"
    assert reasons["learner-04"] == "no record yet"
    assert reasons["learner-02"].startswith("failed 02/failed_phase 3 times in a row; no progress")
    ws.mark_helped(workshop, "learner-02", now=T0 + timedelta(minutes=10))
    helped = ws.read_helped(workshop.folder)
    assert "learner-02" not in ws.stuck_reasons(workshop, records, helped, T0 + timedelta(minutes=11))
    with pytest.raises(RosterError, match="No learner 'learner-77'"):
        ws.mark_helped(workshop, "learner-77")


def test_status_heatmap_completion_and_report(tmp_path):
    workshop, store = room(tmp_path)
    records, _ = ws.load_records(workshop, store)
    heat = ws.heatmap_frame(workshop, records)
    assert heat.loc["learner-01", "00/account_id"] == ws.PASSED
    assert heat.loc["learner-02", "02/failed_phase"] == ws.TRIED
    assert heat.loc["learner-04"].sum() == 0 and "04/failed_execution" in heat.columns
    table = ws.status_frame(workshop, records, now=T0 + timedelta(minutes=5))
    assert table.loc["learner-01", "chapters finished"] == 1
    assert table.loc["learner-02", "failed checks"] == 3
    assert table.loc["learner-04", "status"] == "not started"
    completion = ws.completion_over_time(records)
    assert list(completion["learners"]) == [1]
    paths = ws.write_report(workshop, now=T0 + timedelta(minutes=5), store=store)
    csv_text = paths["csv"].read_text()
    assert csv_text.count("learner-0") == 4 and "stuck: failed 02/failed_phase" in csv_text
    assert "<h2>Exercises</h2>" in paths["html"].read_text()


def test_cli_status_report_and_helped(tmp_path, capsys):
    workshop, _ = room(tmp_path)
    folder = str(workshop.folder)
    assert labkit_main(["workshop", "status", "--dir", folder, "--now", "2026-11-26T09:05:00Z"]) == 0
    out = capsys.readouterr().out
    assert "4 learners, 1 stuck" in out and "learner-04" in out
    assert labkit_main(["workshop", "helped", "learner-02", "--dir", folder]) == 0
    assert labkit_main(["workshop", "report", "--dir", folder]) == 0
    assert (workshop.folder / "report" / "report.html").is_file()
    assert labkit_main(["workshop", "helped", "nobody", "--dir", folder]) == 1
    assert "No learner 'nobody'" in capsys.readouterr().err


# --- policies ---------------------------------------------------------------------------------

ACCOUNT = "111122223333"


def sample_arns(prefix: str) -> dict[str, str]:
    """One ARN per service of resources the course names for a lab (labkit.names)."""
    n = CourseNames(prefix, ACCOUNT, "us-east-1")
    return {
        "codecommit:GitPush": n.arn("codecommit", n.repository),
        "codebuild:StartBuild": n.arn("codebuild", f"project/{n.build_project}"),
        "codedeploy:CreateDeployment": n.arn("codedeploy", f"deploymentgroup:{n.codedeploy_app}/{n.deployment_group}"),
        "codepipeline:StartPipelineExecution": n.arn("codepipeline", n.pipeline),
        "s3:PutObject": f"arn:aws:s3:::{n.artifact_bucket}/SourceArti/abc.zip",
        "s3:DeleteBucket": f"arn:aws:s3:::{n.artifact_bucket}",
        "iam:PassRole": f"arn:aws:iam::{ACCOUNT}:role/{n.codebuild_role}",
        "iam:PutRolePolicy": f"arn:aws:iam::{ACCOUNT}:role/{n.codepipeline_role}",
        "events:PutRule": n.arn("events", f"rule/{n.source_rule}"),
        "secretsmanager:GetSecretValue": n.arn("secretsmanager", f"secret:{n.api_token_secret}-AbCdEf"),
        "logs:DeleteLogGroup": n.arn("logs", f"log-group:/aws/codebuild/{n.build_project}"),
        "cloudformation:DeleteStack": n.arn("cloudformation", f"stack/{prefix}-pipeline/1234"),
        "sns:Publish": n.arn("sns", f"{prefix}-approvals"),
        "autoscaling:DeleteAutoScalingGroup": n.arn(
            "autoscaling", f"autoScalingGroup:1a2b:autoScalingGroupName/{prefix}-green"),
        "budgets:ModifyBudget": f"arn:aws:budgets::{ACCOUNT}:budget/{prefix}-monthly-budget",
    }


def test_a_learners_policy_denies_another_learners_prefix_by_structure():
    mine = policies.learner_policy("ws1-01", "learner-01", ACCOUNT, "us-east-1", "ws1-workshop-b")
    largest = policies.learner_policy("ws1-100", "learner-100", ACCOUNT, "ap-southeast-2",
                                      "ws1-workshop-111122223333-ap-southeast-2")
    assert len(policies.policy_json(largest)) < 6144, "a managed policy holds at most 6,144 characters"
    others = list(sample_arns("ws1-02").values()) + list(sample_arns("ws1-010").values())
    for statement in mine["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resources == ["*"]:
            actions = statement["Action"]
            read_only = all(re.match(r"^[a-z0-9-]+:(List|Describe|Get|View|Validate|PutMetricData)", a)
                            for a in actions)
            tagged = statement.get("Condition", {}).get("StringEquals", {})
            assert read_only or set(tagged.values()) == {"ws1-01"}, statement["Sid"]
            continue
        if statement["Sid"] == "Ec2LaunchInputs":  # what a launch uses, not what it creates
            assert statement["Action"] == "ec2:RunInstances"
            assert all(re.search(r":(image|subnet|network-interface|security-group|key-pair)/\*$", r)
                       for r in resources)
            continue
        for pattern in resources:
            assert "ws1-01" in pattern or "/progress/" in pattern or pattern.endswith("ws1-workshop-b") \
                or "parameter/my-app/" in pattern, pattern
            regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
            assert not [arn for arn in others if re.match(regex, arn)], (statement["Sid"], pattern)


def test_a_learners_policy_denies_another_learners_prefix_when_evaluated():
    document = policies.learner_policy("ws1-01", "learner-01", ACCOUNT, "us-east-1", "ws1-workshop-b")
    for action, arn in sample_arns("ws1-01").items():
        assert decide([document], action, arn) == "allow", (action, arn)
    for other in ("ws1-02", "ws1-010"):
        for action, arn in sample_arns(other).items():
            assert decide([document], action, arn) == "implicit-deny", (action, arn)
    own = "arn:aws:s3:::ws1-workshop-b/progress/learner-01.jsonl"
    theirs = "arn:aws:s3:::ws1-workshop-b/progress/learner-02.jsonl"
    assert decide([document], "s3:PutObject", own) == "allow"
    assert decide([document], "s3:PutObject", theirs) == "implicit-deny"
    assert decide([document], "codepipeline:ListPipelines", "*") == "allow"


# --- timings, chapters ------------------------------------------------------------------------

def test_timings_table_from_a_run_summary(tmp_path, capsys):
    from labkit.workshop import timings

    summary = {"started": "2026-11-26T09:10:54Z", "seconds": 120.0, "backend": "local",
               "chapterRange": "00-01",
               "chapters": [{"chapter": "00-welcome", "status": "passed", "seconds": 12.6},
                            {"chapter": "01-source-codecommit", "status": "failed", "seconds": 3.0}]}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    assert timings.main([str(path), "--notebooks", str(REPO / "notebooks"), "--expect", "00-02"]) == 0
    out = capsys.readouterr().out
    assert "| 00 | Welcome and setup | 13 s | 15 min |" in out
    assert "| 01 | Source with CodeCommit | failed after 3 s |" in out
    assert "| 02 | Build with CodeBuild | to be measured |" in out
    assert timings.main([str(tmp_path / "missing.json")]) == 1


def test_the_runner_ignores_the_instructor_and_solutions_folders():
    from labkit.runner import find_chapters

    found = find_chapters(REPO / "notebooks")
    assert found and all(p.parent == REPO / "notebooks" for p in found)
    assert (REPO / "notebooks" / "instructor" / "dashboard.ipynb").is_file()


def test_a_learner_file_wins_over_a_chapters_default_parameters(tmp_path, monkeypatch):
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("111122223333\n")
    workshop = init_workshop(tmp_path / "ws", 8, "aws", "room", region="eu-west-1", accounts_file=accounts)
    monkeypatch.setenv("LABKIT_CONFIG", str(workshop.folder / "learners" / "learner-07.toml"))
    for name in ("LABKIT_PREFIX", "LABKIT_BACKEND", "LABKIT_REGION"):
        monkeypatch.delenv(name, raising=False)
    # What a chapter's parameters cell passes: BACKEND="local", REGION="us-east-1", PREFIX="labkit".
    config = load_config(backend="local", region="us-east-1", prefix="labkit")
    assert (config.backend, config.region, config.prefix) == ("aws", "eu-west-1", "room-07")
    assert config.sandbox_accounts == ("111122223333",) and config.learner_id == "learner-07"
    # A value the learner chose on purpose still wins.
    assert load_config(prefix="room-07-b").prefix == "room-07-b"
    # An ordinary labkit.toml (no [workshop] table) keeps the usual order: arguments first.
    plain = tmp_path / "labkit.toml"
    plain.write_text('[labkit]\nprefix = "mine"\n')
    monkeypatch.setenv("LABKIT_CONFIG", str(plain))
    assert load_config(prefix="labkit").prefix == "labkit"


def test_workshop_teardown_without_an_emulator_starts_none(tmp_path, capsys):
    workshop = init_workshop(tmp_path / "ws", 2)
    code = labkit_main(["workshop", "teardown", "--all", "--dir", str(workshop.folder),
                        "--state-dir", str(tmp_path / "no-emulator")])
    assert code == 0 and "nothing to tear down" in capsys.readouterr().out
    assert not (tmp_path / "no-emulator").exists()


def test_timings_merge_several_runs(tmp_path, capsys):
    from labkit.workshop import timings

    first = {"chapterRange": "00-01", "seconds": 20, "started": "a",
             "chapters": [{"chapter": "00-welcome", "status": "passed", "seconds": 10.0},
                          {"chapter": "01-source-codecommit", "status": "passed", "seconds": 5.0}]}
    second = {"chapterRange": "01", "seconds": 9, "started": "b",
              "chapters": [{"chapter": "01-source-codecommit", "status": "passed", "seconds": 7.0}]}
    paths = []
    for number, summary in enumerate((first, second)):
        paths.append(tmp_path / f"{number}.json")
        paths[-1].write_text(json.dumps(summary))
    assert timings.main([str(p) for p in paths] + ["--notebooks", str(REPO / "notebooks")]) == 0
    out = capsys.readouterr().out
    assert "| 00 | Welcome and setup | 10 s |" in out and "| 01 | Source with CodeCommit | 7 s |" in out
    assert out.count("Measured by") == 2
