"""labkit.services helpers against the emulator: waits print one line headless, tables have rows."""

import json

from pipeline_helpers import (
    approval,
    declaration,
    make_bucket,
    make_role,
    s3_source,
    unique,
    zip_bytes,
)

from labkit.services import codebuild, codepipeline

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo "hello from the build"
"""


def test_wait_for_build_table_and_log(lab, aws, capsys):
    role = make_role(aws, service="codebuild.amazonaws.com")
    name = unique("svc-build")
    lab.client("codebuild").create_project(
        name=name, source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})
    build_id = lab.client("codebuild").start_build(projectName=name)["build"]["id"]
    build = codebuild.wait_for_build(lab, build_id, timeout=120)
    assert build["buildStatus"] == "SUCCEEDED"
    assert capsys.readouterr().out.strip() == f"Build {build_id}: SUCCEEDED"
    table = codebuild.phases_table(build)
    assert list(table["phase"]) == codebuild.PHASES[:len(table)]
    assert set(table["status"].dropna()) <= {"SUCCEEDED", ""}
    assert "hello from the build" in codebuild.build_log(lab, build)


def test_wait_for_approval_then_execution_and_state_table(lab, aws, capsys):
    store, source = make_bucket(aws), make_bucket(aws)
    aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"a.txt": "a"}))
    name = unique("svc-pipe")
    lab.client("codepipeline").create_pipeline(pipeline=declaration(
        name, make_role(aws), store, [("Source", [s3_source(source)]),
                                      ("Approval", [approval()])]))
    token = codepipeline.wait_for_approval(lab, name, "Approval", "Approve", timeout=60)
    table = codepipeline.state_table(lab, name)
    assert table.to_dict("records") == [
        {"stage": "Source", "action": "Source", "status": "Succeeded",
         "summary": table.iloc[0]["summary"]},
        {"stage": "Approval", "action": "Approve", "status": "InProgress", "summary": ""}]
    lab.client("codepipeline").put_approval_result(
        pipelineName=name, stageName="Approval", actionName="Approve", token=token,
        result={"status": "Approved", "summary": "ok"})
    execution = codepipeline.wait_for_execution(lab, name, timeout=60)
    assert execution["status"] == "Succeeded"
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["Approval Approval/Approve: waiting for a decision",
                   f"Pipeline {name}: Succeeded"]
    assert json.dumps(execution, default=str)


def test_a_timed_out_wait_names_the_resource_and_its_last_state():
    from labkit.progress import WaitTimedOut, poll

    try:
        poll(lambda: None, timeout=0.05, interval=0.01, what="build demo:1",
             last_state=lambda: "in phase BUILD (IN_PROGRESS)")
    except WaitTimedOut as exc:
        assert str(exc) == ("Gave up waiting for build demo:1 after 0 s. "
                            "It was last seen in phase BUILD (IN_PROGRESS).")
    else:
        raise AssertionError("poll did not time out")
