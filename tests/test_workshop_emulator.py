"""Workshops on the emulator: progress in the workshop's S3 bucket, per-learner teardown, policies in IAM."""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from course_helpers import lab_on

import labkit.exercises as exercises
from labkit.cli import main as labkit_main
from labkit.emulator.authorization import decide
from labkit.workshop import policy as policies
from labkit.workshop import status as ws
from labkit.workshop.commands import create_workshop_resources, teardown_learners
from labkit.workshop.progress import S3Store, UnknownLearner, open_store
from labkit.workshop.roster import init_workshop, roster_csv


@contextmanager
def restored_environ():
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def connection(emulator):
    return SimpleNamespace(profile=None, state_dir=str(emulator.state_dir), port=str(emulator.port))


def base() -> str:
    return f"w{uuid.uuid4().hex[:6]}"


def test_progress_into_the_workshops_bucket_from_30_concurrent_learners(emulator, tmp_path):
    name = base()
    with restored_environ():
        workshop = init_workshop(tmp_path / "ws", 30, prefix_base=name,
                                 progress_store=f"s3://{name}-workshop-progress/progress")
        made = create_workshop_resources(workshop, connection(emulator), with_policies=False)
        assert made["bucket"] == f"{name}-workshop-progress"
        with lab_on(emulator, prefix=name) as lab:
            store = open_store(workshop.progress_store, lab=lab)
            assert isinstance(store, S3Store) and store.roster() == workshop.ids
            barrier = threading.Barrier(30)

            def learner(learner_id):
                mine = S3Store(store.bucket, store.key_prefix, lab=lab)  # a learner's own client
                mine._client = lab.client("s3", region_name="us-east-1")
                barrier.wait()
                for number in range(5):
                    mine.append({"learner": learner_id, "chapter": "00", "exercise": "account_id",
                                 "passed": number == 4, "attempts": number + 1, "time": "2026-11-26T09:00:00+00:00"})

            threads = [threading.Thread(target=learner, args=(learner_.learner_id,)) for learner_ in workshop.learners]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert store.learners() == sorted(workshop.ids), "one object per learner"
            records, refused = ws.load_records(workshop, store)
            assert len(records) == 150 and not refused
            with pytest.raises(UnknownLearner, match="unknown learner 'learner-99'"):
                store.append({"learner": "learner-99", "chapter": "00", "event": "chapter-finished",
                              "time": "2026-11-26T09:00:00+00:00"})


def test_a_checked_exercise_reaches_the_workshops_bucket(emulator, tmp_path, monkeypatch, capsys):
    name = base()
    with lab_on(emulator, prefix=name) as lab:
        bucket = f"{name}-workshop-progress"
        lab.client("s3").create_bucket(Bucket=bucket)
        S3Store(bucket, lab=lab).put_roster(roster_csv(list(init_workshop(tmp_path / "ws", 2).learners)))
        monkeypatch.setenv("LABKIT_PROGRESS_STORE", f"s3://{bucket}/progress")
        monkeypatch.setenv("LABKIT_LEARNER", "learner-02")
        account = exercises.for_chapter("00", lab).account_id
        assert account.check(account.solve()).passed
        exercises.finish_chapter(lab, "00")
        remote = S3Store(bucket, lab=lab).read("learner-02")
        assert [r.get("event", r.get("exercise")) for r in remote][-2:] == ["account_id", "chapter-finished"]
        assert exercises.read_progress(lab.state_dir, "learner-02")[-1] == remote[-1]
    assert "Saved on this machine only" not in capsys.readouterr().out


def make_learner_resources(emulator, prefix: str) -> None:
    with lab_on(emulator, prefix=prefix) as lab:
        lab.client("s3").create_bucket(Bucket=f"{prefix}-data")
        lab.client("s3").put_bucket_tagging(Bucket=f"{prefix}-data", Tagging={"TagSet": lab.tags.as_list()})
        lab.client("ssm").put_parameter(Name=f"/{prefix}/greeting", Value="hi", Type="String",
                                        Tags=lab.tags.as_list())
        lab.client("logs").create_log_group(logGroupName=f"/{prefix}/app", tags=lab.tags.as_dict())


def remaining(emulator, prefix: str) -> set[str]:
    with lab_on(emulator, prefix=prefix) as lab:
        found = set()
        if any(b["Name"] == f"{prefix}-data" for b in lab.client("s3").list_buckets()["Buckets"]):
            found.add("bucket")
        if lab.client("ssm").get_parameters(Names=[f"/{prefix}/greeting"])["Parameters"]:
            found.add("parameter")
        if lab.client("logs").describe_log_groups(logGroupNamePrefix=f"/{prefix}/app")["logGroups"]:
            found.add("log group")
        return found


def test_workshop_teardown_of_one_learner_leaves_the_others_intact(emulator, tmp_path, capsys):
    name = base()
    workshop = init_workshop(tmp_path / "ws", 3, prefix_base=name)
    for learner in workshop.learners:
        make_learner_resources(emulator, learner.prefix)
    folder = str(workshop.folder)
    args = ["--dir", folder, "--state-dir", str(emulator.state_dir), "--port", str(emulator.port)]
    with restored_environ():
        assert labkit_main(["workshop", "teardown", "--learner", "learner-02", "--dry-run", *args]) == 0
    out = capsys.readouterr().out
    assert f"s3 bucket {name}-02-data" in out and "would delete" in out and f"{name}-01" not in out
    assert remaining(emulator, f"{name}-02") == {"bucket", "parameter", "log group"}, "a dry run deletes nothing"
    with restored_environ():
        assert labkit_main(["workshop", "teardown", "--learner", "learner-02", *args]) == 0
    assert "nothing left" in capsys.readouterr().out
    assert remaining(emulator, f"{name}-02") == set()
    for other in ("01", "03"):
        assert remaining(emulator, f"{name}-{other}") == {"bucket", "parameter", "log group"}, other
    with restored_environ():
        assert labkit_main(["workshop", "teardown", "--learner", "learner-09", *args]) == 1
    assert "No learner 'learner-09'" in capsys.readouterr().err
    with restored_environ():
        with lab_on(emulator, prefix=name) as lab:
            table, _ = teardown_learners(workshop, ["learner-01", "learner-03"], lab)
    assert list(table["learner"]) == ["learner-01", "learner-03"]
    assert all("nothing left" in result for result in table["result"])


def test_policies_created_in_iam_deny_the_other_learners_prefixes(emulator, tmp_path):
    name = base()
    with restored_environ():
        workshop = init_workshop(tmp_path / "ws", 3, backend="local", prefix_base=name)
        made = create_workshop_resources(workshop, connection(emulator), with_policies=True)
        assert len(made["policies"]) == 3
        with lab_on(emulator, prefix=name) as lab:
            iam = lab.client("iam")
            arn = made["policies"][0]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            if isinstance(document, str):
                import json
                from urllib.parse import unquote

                document = json.loads(unquote(document))
            account = lab.account_id
            own = f"arn:aws:codepipeline:us-east-1:{account}:{name}-01-my-app-pipeline"
            theirs = f"arn:aws:codepipeline:us-east-1:{account}:{name}-02-my-app-pipeline"
            assert decide([document], "codepipeline:StartPipelineExecution", own) == "allow"
            assert decide([document], "codepipeline:StartPipelineExecution", theirs) == "implicit-deny"
            assert decide([document], "iam:PassRole", f"arn:aws:iam::{account}:role/{name}-03-codebuild-role") \
                == "implicit-deny"
            # Created again (a second init --create): a new default version, still one policy.
            create_workshop_resources(workshop, connection(emulator), with_policies=True)
            assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 2
            tags = {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]}
            assert tags["labkit:lab"] == name and policies.policy_name(name, "learner-01") in arn
        # The workshop's own teardown removes them; a learner's teardown does not.
        with lab_on(emulator, prefix=name) as lab:
            table, _ = teardown_learners(workshop, ["learner-01"], lab, dry_run=True, include_workshop=True)
        assert table.iloc[0]["resources"] == 0
        assert table.iloc[1]["resources"] == 3
        with lab_on(emulator, prefix=name) as lab:
            teardown_learners(workshop, [], lab, include_workshop=True)
            left = [p for p in lab.client("iam").list_policies(Scope="Local")["Policies"]
                    if p["PolicyName"].startswith(name)]
        assert left == []


def test_the_dashboards_teardown_button_needs_a_dry_run_of_the_same_choice(emulator, tmp_path, capsys):
    from labkit.workshop.dashboard import ALL, InstructorPanel

    name = base()
    workshop = init_workshop(tmp_path / "ws", 2, prefix_base=name)
    make_learner_resources(emulator, f"{name}-01")
    with restored_environ():
        panel = InstructorPanel(workshop, connect=lambda: __import__("labkit").connect(
            backend="local", port=emulator.port, state_dir=emulator.state_dir, prefix=name))
        with pytest.raises(RuntimeError, match="dry run of learner-01 first"):
            panel.teardown("learner-01")
        plan = panel.dry_run(ALL)
        assert list(plan["learner"]) == ["learner-01", "learner-02"]
        assert plan.iloc[0]["resources"] == 3 and plan.iloc[1]["resources"] == 0
        with pytest.raises(RuntimeError, match="dry run of learner-01 first"):
            panel.teardown("learner-01")  # the dry run covered everyone, not this choice
        panel.dry_run("learner-01")
        done = panel.teardown("learner-01")
        assert "nothing left" in done.iloc[0]["result"]
        assert panel.mark_helped("learner-02") == "learner-02 marked helped."
        panel.show()
    assert remaining(emulator, f"{name}-01") == set()
    assert "Dry run, then Delete" in capsys.readouterr().out
