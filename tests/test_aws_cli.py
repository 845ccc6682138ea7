"""The article's commands run with the real `aws` CLI against the emulator; boto3 sees their effects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

AWS = str(Path(sys.executable).parent / "aws")
BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built by the CLI project\n"


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


@pytest.fixture
def cli(emulator, tmp_path):
    """`cli("s3", "mb", ...)` runs the aws command on the emulator and returns its JSON output."""
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "labkit-cli",
           "AWS_SECRET_ACCESS_KEY": "labkit-cli-secret", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PAGER": ""}

    def run(*args: str) -> dict:
        done = subprocess.run([AWS, *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"aws {' '.join(args)} failed: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"text": done.stdout}

    return run


def wait_for(check, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)


def make_role(cli, name: str, service: str, *actions: str) -> str:
    arn = cli("iam", "create-role", "--role-name", name,
              "--assume-role-policy-document", trust(service))["Role"]["Arn"]
    cli("iam", "put-role-policy", "--role-name", name, "--policy-name", "access",
        "--policy-document", allow(*actions))
    return arn


def test_the_articles_cli_commands(cli, aws, emulator, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:8]}"

    # Artifacts bucket: `aws s3 mb` and versioning.
    cli("s3", "mb", f"s3://{name}-artifacts")
    cli("s3api", "put-bucket-versioning", "--bucket", f"{name}-artifacts",
        "--versioning-configuration", "Status=Enabled")
    assert aws("s3").get_bucket_versioning(Bucket=f"{name}-artifacts")["Status"] == "Enabled"

    # Source: a repository holding a buildspec.
    clone_url = cli("codecommit", "create-repository", "--repository-name", name,
                    "--repository-description", "my-app from the CLI")["repositoryMetadata"]["cloneUrlHttp"]
    (tmp_path / "buildspec.yml").write_text(BUILDSPEC)
    cli("codecommit", "put-file", "--repository-name", name, "--branch-name", "main",
        "--file-path", "buildspec.yml", "--file-content", f"fileb://{tmp_path / 'buildspec.yml'}",
        "--commit-message", "buildspec", "--name", "CLI", "--email", "cli@example.com")
    assert aws("codecommit").get_branch(repositoryName=name, branchName="main")["branch"]["commitId"]

    # Build: a project and a build that runs.
    build_role = make_role(cli, f"{name}-build", "codebuild.amazonaws.com",
                           "logs:*", "s3:*", "codecommit:GitPull")
    cli("codebuild", "create-project", "--name", name, "--service-role", build_role,
        "--source", f"type=CODECOMMIT,location={clone_url}", "--source-version", "refs/heads/main",
        "--artifacts", "type=NO_ARTIFACTS",
        "--environment", "type=LINUX_CONTAINER,image=aws/codebuild/standard:7.0,"
                         "computeType=BUILD_GENERAL1_SMALL")
    build_id = cli("codebuild", "start-build", "--project-name", name)["build"]["id"]
    codebuild = aws("codebuild")
    build = wait_for(lambda: next((b for b in codebuild.batch_get_builds(ids=[build_id])["builds"]
                                   if b["buildStatus"] != "IN_PROGRESS"), None), "the build")
    problems = [(p["phaseType"], p.get("contexts")) for p in build["phases"]
                if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    assert build["buildStatus"] == "SUCCEEDED", problems

    # Deploy: an application and a deployment group.
    deploy_role = make_role(cli, f"{name}-deploy", "codedeploy.amazonaws.com", "ec2:Describe*",
                            "tag:GetResources")
    cli("deploy", "create-application", "--application-name", name, "--compute-platform", "Server")
    group_id = cli("deploy", "create-deployment-group", "--application-name", name,
                   "--deployment-group-name", f"{name}-dev", "--service-role-arn", deploy_role,
                   "--ec2-tag-filters", f"Key=app,Value={name},Type=KEY_AND_VALUE")["deploymentGroupId"]
    group = aws("codedeploy").get_deployment_group(applicationName=name,
                                                   deploymentGroupName=f"{name}-dev")["deploymentGroupInfo"]
    assert group["deploymentGroupId"] == group_id and group["serviceRoleArn"] == deploy_role

    # Pipeline: source and build, started and read with get-pipeline-state.
    pipeline_role = make_role(cli, f"{name}-pipeline", "codepipeline.amazonaws.com",
                              "s3:*", "codecommit:*", "codebuild:*", "iam:PassRole")
    declaration = {"pipeline": {
        "name": name, "roleArn": pipeline_role,
        "artifactStore": {"type": "S3", "location": f"{name}-artifacts"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS",
                                                   "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": name, "BranchName": "main",
                                  "PollForSourceChanges": "false"},
                "outputArtifacts": [{"name": "SourceOutput"}]}]},
            {"name": "Build", "actions": [{
                "name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS",
                                                  "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": name},
                "inputArtifacts": [{"name": "SourceOutput"}]}]}]}}
    (tmp_path / "pipeline.json").write_text(json.dumps(declaration))
    cli("codepipeline", "create-pipeline", "--cli-input-json", f"file://{tmp_path / 'pipeline.json'}")
    execution_id = cli("codepipeline", "start-pipeline-execution",
                       "--name", name)["pipelineExecutionId"]
    codepipeline = aws("codepipeline")
    wait_for(lambda: codepipeline.get_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution_id)["pipelineExecution"]["status"]
        in ("Succeeded", "Failed", "Stopped"), "the pipeline execution")
    state = cli("codepipeline", "get-pipeline-state", "--name", name)
    assert [(s["stageName"], s["latestExecution"]["status"]) for s in state["stageStates"]] == [
        ("Source", "Succeeded"), ("Build", "Succeeded")], state

    # Configuration and secrets.
    cli("ssm", "put-parameter", "--name", f"/{name}/greeting", "--value", "hello", "--type", "String")
    assert aws("ssm").get_parameter(Name=f"/{name}/greeting")["Parameter"]["Value"] == "hello"
    cli("secretsmanager", "create-secret", "--name", f"{name}/db", "--secret-string",
        '{"password": "s3cret"}')
    secret = aws("secretsmanager").get_secret_value(SecretId=f"{name}/db")["SecretString"]
    assert json.loads(secret) == {"password": "s3cret"}

    # Monitoring: a topic and an alarm on failed builds that notifies it.
    topic = cli("sns", "create-topic", "--name", f"{name}-alerts")["TopicArn"]
    assert aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    cli("cloudwatch", "put-metric-alarm", "--alarm-name", f"{name}-failed-builds",
        "--namespace", "AWS/CodeBuild", "--metric-name", "FailedBuilds",
        "--dimensions", f"Name=ProjectName,Value={name}", "--statistic", "Sum", "--period", "300",
        "--evaluation-periods", "1", "--threshold", "1",
        "--comparison-operator", "GreaterThanOrEqualToThreshold", "--alarm-actions", topic)
    [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[f"{name}-failed-builds"])["MetricAlarms"]
    assert alarm["MetricName"] == "FailedBuilds" and alarm["AlarmActions"] == [topic]

    # Code review: an approval rule template on the repository and a pull request.
    content = json.dumps({"Version": "2018-11-08", "DestinationReferences": ["refs/heads/main"],
                          "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]})
    cli("codecommit", "create-approval-rule-template", "--approval-rule-template-name", f"{name}-review",
        "--approval-rule-template-content", content)
    cli("codecommit", "associate-approval-rule-template-with-repository",
        "--approval-rule-template-name", f"{name}-review", "--repository-name", name)
    commit = aws("codecommit").get_branch(repositoryName=name, branchName="main")["branch"]["commitId"]
    cli("codecommit", "create-branch", "--repository-name", name, "--branch-name", "feature",
        "--commit-id", commit)
    cli("codecommit", "put-file", "--repository-name", name, "--branch-name", "feature",
        "--file-path", "README.md", "--file-content", "fileb://" + str(tmp_path / "buildspec.yml"),
        "--parent-commit-id", commit, "--commit-message", "readme")
    pr_id = cli("codecommit", "create-pull-request", "--title", "Add a README", "--targets",
                f"repositoryName={name},sourceReference=feature,destinationReference=main"
                )["pullRequest"]["pullRequestId"]
    codecommit = aws("codecommit")
    assert codecommit.list_associated_approval_rule_templates_for_repository(
        repositoryName=name)["approvalRuleTemplateNames"] == [f"{name}-review"]
    pull_request = codecommit.get_pull_request(pullRequestId=pr_id)["pullRequest"]
    assert pull_request["title"] == "Add a README" and pull_request["pullRequestStatus"] == "OPEN"
    assert [r["originApprovalRuleTemplate"]["approvalRuleTemplateName"]
            for r in pull_request.get("approvalRules", [])] == [f"{name}-review"]
