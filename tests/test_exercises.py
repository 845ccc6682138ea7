"""Every exercise's check() passes on its solution, fails kindly on a wrong answer, and records attempts."""

from __future__ import annotations

import json

import pytest
from course_helpers import lab_on
from pipeline_helpers import (
    action,
    declaration,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_source,
)
from pipeline_helpers import wait_for_execution as wait_for_pipeline

import labkit.exercises as exercises
from labkit.ensure import repository_with_app
from labkit.names import course_names
from labkit.services.iam import codebuild_policy, ensure_service_role


@pytest.fixture
def lab(emulator, monkeypatch):
    monkeypatch.setenv("LABKIT_LEARNER", "tester")
    with lab_on(emulator) as made:
        yield made


def records(lab, exercise: str) -> list[dict]:
    return [r for r in exercises.read_progress(lab.state_dir, "tester") if r["exercise"] == exercise]


def test_every_chapter_has_an_exercise_with_hints_and_a_solution():
    for chapter in [f"{n:02d}" for n in range(11)]:
        found = exercises.exercises_of(chapter)
        assert found, chapter
        for exercise in found.values():
            assert exercise.hints and exercise.solution_code.strip() and exercise.task


def test_account_id_check_and_progress_records(lab, capsys):
    ex = exercises.for_chapter("00", lab).account_id
    assert ex.check(None).passed is None
    assert records(lab, "account_id") == [], "an unattempted exercise is not an attempt"
    wrong = ex.check("12345")
    assert wrong.passed is False and "exactly 12 digits" in wrong.message
    other = ex.check("999999999999")
    assert other.passed is False and "not the one your credentials belong to" in other.message
    right = ex.check(ex.solve())
    assert right.passed is True
    assert "Correct" in capsys.readouterr().out
    lines = records(lab, "account_id")
    assert [(r["passed"], r["attempts"]) for r in lines] == [(False, 1), (False, 2), (True, 3)]
    assert set(lines[0]) == {"learner", "chapter", "exercise", "passed", "attempts", "time"}
    assert lines[0]["learner"] == "tester" and lines[0]["chapter"] == "00"
    path = exercises.progress_file(lab.state_dir, "tester")
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_hint_and_solution_print(lab, capsys):
    ex = exercises.for_chapter("00", lab).account_id
    ex.hint()
    ex.hint(2)
    ex.solution()
    out = capsys.readouterr().out
    assert "Hint 1 of 2 (hint(2) for another)" in out and "Hint 2 of 2:" in out
    assert "get_caller_identity" in out


def test_feature_branch_check(lab):
    names = course_names(lab)
    repository_with_app(lab, names)
    ex = exercises.for_chapter("01", lab).feature_branch
    assert ex.check().passed is None
    codecommit = lab.client("codecommit")
    main = codecommit.get_branch(repositoryName=names.repository, branchName="main")["branch"]["commitId"]
    codecommit.create_branch(repositoryName=names.repository, branchName="feature/health-docs", commitId=main)
    half = ex.check()
    assert half.passed is False and "has no file docs/HEALTH.md" in half.message
    ex.solve()
    assert ex.check().passed is True


def test_failed_phase_check(lab):
    names = course_names(lab)
    # The course's least-privilege build policy: the build may log, so it fails where the lesson says.
    role = ensure_service_role(lab, f"{lab.prefix}-cb", "codebuild.amazonaws.com",
                               codebuild_policy(names, [names.build_project]), "build")
    codebuild = lab.client("codebuild")
    codebuild.create_project(
        name=names.build_project, serviceRole=role, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  pre_build:\n    commands:\n"
                                                  "      - echo checking\n      - exit 3\n"})
    ex = exercises.for_chapter("02", lab).failed_phase
    no_build = ex.check(("PRE_BUILD", "exit 3"))
    assert no_build.passed is False and "no failed build" in no_build.message
    from labkit.services.codebuild import wait_for_build

    wait_for_build(lab, codebuild.start_build(projectName=names.build_project)["build"]["id"], timeout=120)
    assert ex.check().passed is None
    wrong_phase = ex.check(("BUILD", "exit 3"))
    assert wrong_phase.passed is False and "not the phase that failed" in wrong_phase.message
    wrong_command = ex.check(("pre_build", "echo checking"))
    assert wrong_command.passed is False and "PRE_BUILD is right" in wrong_command.message
    assert ex.check("PRE_BUILD").passed is False
    assert ex.solve() == ("PRE_BUILD", "exit 3")
    assert ex.check(ex.solve()).passed is True


def test_keep_one_healthy_check(emulator, lab):
    ex = exercises.for_chapter("03", lab).keep_one_healthy
    assert ex.check().passed is None
    codedeploy = lab.client("codedeploy")
    codedeploy.create_deployment_config(deploymentConfigName=f"{lab.prefix}-keep-one-healthy",
                                        minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 50})
    wrong = ex.check()
    assert wrong.passed is False and "HOST_COUNT" in wrong.message
    with lab_on(emulator) as other:
        other_ex = exercises.for_chapter("03", other).keep_one_healthy
        other.client("codedeploy").create_deployment_config(
            deploymentConfigName=f"{other.prefix}-keep-one-healthy",
            minimumHealthyHosts={"type": "HOST_COUNT", "value": 2})
        assert "exactly 1" in other_ex.check().message
    with lab_on(emulator) as fresh:
        fresh_ex = exercises.for_chapter("03", fresh).keep_one_healthy
        fresh_ex.solve()
        assert fresh_ex.check().passed is True


def test_failed_execution_check(aws, lab):
    names = course_names(lab)
    ex = exercises.for_chapter("04", lab).failed_execution
    assert ex.check().passed is None
    codebuild = lab.client("codebuild")
    # This pipeline's artifact bucket is not the course's, so the role gets the test's policy.
    role = make_role(aws, service="codebuild.amazonaws.com")
    codebuild.create_project(
        name=names.build_project, serviceRole=role, artifacts={"type": "CODEPIPELINE"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        source={"type": "CODEPIPELINE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n"
                                                     "      - exit 1\n"})
    bucket = make_bucket(aws)
    from pipeline_helpers import zip_bytes

    aws("s3").put_object(Bucket=bucket, Key="source.zip", Body=zip_bytes({"a.txt": "a"}))
    lab.client("codepipeline").create_pipeline(pipeline=declaration(
        names.pipeline, make_role(aws), bucket,
        [("Source", [s3_source(bucket)]),
         ("Build", [action("Build", "Build", "CodeBuild", {"ProjectName": names.build_project},
                           inputs=["SourceOutput"])])]))
    no_failure_yet = ex.check("whatever")
    assert no_failure_yet.passed in (False,)  # the first execution may still be running
    cp = aws("codepipeline")
    execution = latest_execution_id(cp, names.pipeline)
    assert wait_for_pipeline(cp, names.pipeline, execution) == "Failed"
    wrong = ex.check("not-an-execution")
    assert wrong.passed is False and "not an execution that failed at Build" in wrong.message
    assert ex.solve() == execution
    assert ex.check(execution).passed is True
