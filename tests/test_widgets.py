"""Widgets: views render the live API state, buttons call the API, headless output is plain text."""

from __future__ import annotations

from course_helpers import lab_on
from pipeline_helpers import (
    approval,
    declaration,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_source,
    wait_for_approval_token,
    wait_for_execution,
    zip_bytes,
)

from labkit.services.codebuild import wait_for_build
from labkit.widgets import ApprovalPanel, BuildView, PipelineView


def approval_pipeline(aws, lab) -> str:
    bucket = make_bucket(aws)
    aws("s3").put_object(Bucket=bucket, Key="source.zip", Body=zip_bytes({"a.txt": "a"}))
    name = lab.name("approve")
    lab.client("codepipeline").create_pipeline(pipeline=declaration(
        name, make_role(aws), bucket, [("Source", [s3_source(bucket)]), ("Approve", [approval()])]))
    return name


def test_pipeline_view_and_approval_panel_buttons(aws, emulator, capsys):
    with lab_on(emulator) as lab:
        name = approval_pipeline(aws, lab)
        cp = aws("codepipeline")
        execution = latest_execution_id(cp, name)
        token = wait_for_approval_token(cp, name, "Approve", "Approve")

        view = PipelineView(lab, name, execution)
        assert not view.finished()
        view.refresh_button.click()
        assert "Approve" in view.html.value and "InProgress" in view.html.value
        assert "background:#1565c0" in view.html.value  # InProgress is blue

        panel = ApprovalPanel(lab, name, "Approve", "Approve", token)
        panel.comment.value = "Looks good to me"
        panel.approve_button.click()
        assert panel.result and "approvedAt" in panel.result
        assert panel.approve_button.disabled and panel.reject_button.disabled
        assert "Approved: Looks good to me" in panel.message.value
        assert wait_for_execution(cp, name, execution) == "Succeeded"

        again = ApprovalPanel(lab, name, "Approve", "Approve", token)
        again.reject_button.click()
        assert again.result is None and "Could not record the decision" in again.message.value

        view.show()  # headless: waits for the end, then prints plain text
        out = capsys.readouterr().out
        assert out.startswith(f"Pipeline {name}\nstage")
        assert "Approve  Approve  Succeeded" in out


def test_rejecting_fails_the_execution(aws, emulator):
    with lab_on(emulator) as lab:
        name = approval_pipeline(aws, lab)
        cp = aws("codepipeline")
        execution = latest_execution_id(cp, name)
        token = wait_for_approval_token(cp, name, "Approve", "Approve")
        panel = ApprovalPanel(lab, name, "Approve", "Approve", token)
        panel.reject_button.click()
        assert wait_for_execution(cp, name, execution) == "Failed"
        assert "Rejected in the labkit notebook" in panel.message.value


def test_build_view_shows_phases_durations_and_log_tail(aws, emulator, capsys):
    with lab_on(emulator) as lab:
        role = make_role(aws, service="codebuild.amazonaws.com")
        codebuild = lab.client("codebuild")
        codebuild.create_project(
            name=lab.name("view"), serviceRole=role, artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL"},
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n"
                                                      "      - echo hello from the build\n"})
        build_id = codebuild.start_build(projectName=lab.name("view"))["build"]["id"]
        view = BuildView(lab, build_id, log_lines=20)
        view.show()
        out = capsys.readouterr().out
        assert f"Build {build_id}: SUCCEEDED" in out
        assert "BUILD             SUCCEEDED" in out and " s " in out.replace("\n", " ")
        assert "hello from the build" in out
        view.refresh_button.click()
        assert "BUILD" in view.html.value and "#2e7d32" in view.html.value
        assert wait_for_build(lab, build_id)["buildStatus"] == "SUCCEEDED"


def test_deployment_view_shows_hosts_by_lifecycle_events(aws, emulator, capsys):
    from bundles import Fleet, s3_revision, zip_files

    from labkit.widgets import DeploymentView

    fleet = Fleet(aws, emulator, 2)
    try:
        role = make_role(aws, service="codedeploy.amazonaws.com")
        fleet.create_group(role)
        bucket = make_bucket(aws)
        appspec = ("version: 0.0\nos: linux\nfiles:\n  - source: /index.html\n    destination: /srv/app\n"
                   "hooks:\n  AfterInstall:\n    - location: ok.sh\n")
        revision = s3_revision(aws("s3"), bucket, "r.zip", zip_files({
            "appspec.yml": (appspec, 0o644), "index.html": ("hi\n", 0o644),
            "ok.sh": ("#!/bin/bash\necho ok\n", 0o755)}))
        deployment_id = fleet.deploy(revision)
        with lab_on(emulator) as lab:
            view = DeploymentView(lab, deployment_id)
            view.show()
            out = capsys.readouterr().out
            assert out.splitlines()[0] == f"Deployment {deployment_id}: Succeeded"
            for instance_id in fleet.ids:
                line = next(row for row in out.splitlines() if row.startswith(instance_id))
                assert line.split()[1:] == ["Skipped"] + ["Succeeded"] * 6, line
            view.refresh_button.click()
            assert view.html.value.count("background:#2e7d32") == 12  # 2 hosts × 6 events, coloured
    finally:
        fleet.terminate()
