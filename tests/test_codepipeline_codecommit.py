"""A pipeline whose source is the emulator's CodeCommit, started by `git push` through EventBridge."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import (
    Git,
    action,
    action_state,
    declaration,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_deploy,
    unique,
    wait_for,
    wait_for_execution,
)


@pytest.fixture
def repo(aws, tmp_path):
    name = unique("pipe-src")
    url = aws("codecommit").create_repository(repositoryName=name)["repositoryMetadata"][
        "cloneUrlHttp"]
    git = Git(tmp_path)
    git("clone", "-q", url, "work")
    work = tmp_path / "work"
    first = git.commit_and_push(work, {"index.html": "<h1>v1</h1>"}, "First page")
    return name, git, work, first


def codecommit_source(repository: str, branch: str = "main") -> dict:
    return action("Source", "Source", "CodeCommit",
                  {"RepositoryName": repository, "BranchName": branch,
                   "PollForSourceChanges": "false"},
                  outputs=["SourceOutput"], namespace="SourceVariables")


def push_rule(aws, repository: str, pipeline_arn: str, branch: str = "main") -> str:
    """The rule the course (and AWS's console) makes: a push to the branch starts the pipeline."""
    events = aws("events")
    rule = unique("on-push")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [f"arn:aws:codecommit:us-east-1:123456789012:{repository}"],
        "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"],
                   "referenceName": [branch]}}))
    events.put_targets(Rule=rule, Targets=[{
        "Id": "pipeline", "Arn": pipeline_arn,
        "RoleArn": make_role(aws, service="events.amazonaws.com")}])
    return rule


def test_git_push_starts_the_pipeline_through_eventbridge(aws, repo):
    cp = aws("codepipeline")
    repository, git, work, first_commit = repo
    site = make_bucket(aws, versioned=False)
    name = unique("push-pipe")
    cp.create_pipeline(pipeline=declaration(name, make_role(aws), make_bucket(aws), [
        ("Source", [codecommit_source(repository)]), ("Deploy", [s3_deploy(site)])]))
    first = latest_execution_id(cp, name)
    assert wait_for_execution(cp, name, first) == "Succeeded"
    source = action_state(cp, name, "Source", "Source")
    assert source["currentRevision"]["revisionId"] == first_commit
    assert source["latestExecution"]["summary"] == "First page"

    arn = cp.get_pipeline(name=name)["metadata"]["pipelineArn"]
    push_rule(aws, repository, arn)
    second_commit = git.commit_and_push(work, {"index.html": "<h1>v2</h1>"}, "Second page")
    started = wait_for(lambda: [s for s in cp.list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"] if s["trigger"]["triggerType"] == "CloudWatchEvent"],
        what="an execution started by the push")
    assert len(started) == 1  # one push, one event, one execution
    execution_id = started[0]["pipelineExecutionId"]
    assert wait_for_execution(cp, name, execution_id) == "Succeeded"
    revisions = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["artifactRevisions"]
    assert revisions[0]["revisionId"] == second_commit
    page = aws("s3").get_object(Bucket=site, Key="index.html")["Body"].read()
    assert page == b"<h1>v2</h1>"
    variables = [d for d in cp.list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
        if d["actionName"] == "Source"][0]["output"]["outputVariables"]
    assert variables["CommitId"] == second_commit
    assert variables["BranchName"] == "main" and variables["RepositoryName"] == repository
    assert variables["CommitMessage"] == "Second page"

    # The real AWS CLI reads the same live state.
    env = {**os.environ, "AWS_ENDPOINT_URL": aws("codepipeline").meta.endpoint_url}
    out = subprocess.run([str(Path(sys.executable).parent / "aws"), "codepipeline",
                          "get-pipeline-state", "--name", name], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    stages = json.loads(out.stdout)["stageStates"]
    assert [s["latestExecution"]["status"] for s in stages] == ["Succeeded", "Succeeded"]


def test_a_missing_branch_fails_the_source_action_as_aws_says(aws, repo):
    cp = aws("codepipeline")
    repository = repo[0]
    name = unique("no-branch")
    cp.create_pipeline(pipeline=declaration(name, make_role(aws), make_bucket(aws), [
        ("Source", [codecommit_source(repository, branch="release")]),
        ("Deploy", [s3_deploy(make_bucket(aws, versioned=False))])]))
    assert wait_for_execution(cp, name, latest_execution_id(cp, name)) == "Failed"
    error = action_state(cp, name, "Source", "Source")["latestExecution"]["errorDetails"]
    assert "no branch named release" in error["message"]
