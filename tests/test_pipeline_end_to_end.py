"""The course's whole pipeline, end to end on the emulator: a `git push` of the sample app runs
Source (CodeCommit) → Build (CodeBuild) → Approval → Deploy (CodeDeploy to two local hosts)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from bundles import emulator_hosts, http_get, wait_until
from pipeline_helpers import (
    Git,
    action,
    action_state,
    approval,
    declaration,
    latest_execution_id,
    make_bucket,
    make_instance_profile,
    make_role,
    wait_for,
    wait_for_approval_token,
    wait_for_execution,
)

SAMPLE_APP = Path(__file__).resolve().parent.parent / "sample-app"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="building the sample app needs npm"),
]


@pytest.fixture(scope="module")
def course(aws, emulator, tmp_path_factory):
    """What chapters 01-04 build: repository, project, hosts, deployment group, pipeline, rule."""
    tag = uuid.uuid4().hex[:6]
    names = {"repo": f"my-app-{tag}", "project": f"my-app-build-{tag}",
             "app": f"my-app-{tag}", "group": "dev", "pipeline": f"my-app-pipeline-{tag}"}
    cc = aws("codecommit")
    url = cc.create_repository(repositoryName=names["repo"])["repositoryMetadata"]["cloneUrlHttp"]
    root = tmp_path_factory.mktemp("e2e")
    git = Git(root)
    git("clone", "-q", url, "work")
    work = root / "work"
    tracked = subprocess.run(["git", "-C", str(SAMPLE_APP), "ls-files"], capture_output=True,
                             text=True, check=True).stdout.split()
    for rel in tracked:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE_APP / rel, work / rel)
    git.commit_and_push(work, {}, "my-app 1.0.0")

    aws("ssm").put_parameter(Name="/my-app/dev/log-level", Value="info", Type="String",
                             Overwrite=True)
    aws("codebuild").create_project(
        name=names["project"], source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        cache={"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
        serviceRole=make_role(aws, service="codebuild.amazonaws.com"))

    tags = [{"Key": "App", "Value": names["app"]}]
    reservation = aws("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=2, MaxCount=2,
        # The CodeDeploy agent reads the revision with the instance profile's role.
        IamInstanceProfile={"Name": make_instance_profile(aws)},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    instances = sorted(i["InstanceId"] for i in reservation["Instances"])
    cd = aws("codedeploy")
    cd.create_application(applicationName=names["app"])
    cd.create_deployment_group(
        applicationName=names["app"], deploymentGroupName=names["group"],
        serviceRoleArn=make_role(aws, service="codedeploy.amazonaws.com"),
        ec2TagFilters=[{"Key": "App", "Value": names["app"], "Type": "KEY_AND_VALUE"}],
        deploymentConfigName="CodeDeployDefault.OneAtATime",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})

    cp = aws("codepipeline")
    cp.create_pipeline(pipeline=declaration(names["pipeline"], make_role(aws), make_bucket(aws), [
        ("Source", [action("Source", "Source", "CodeCommit",
                           {"RepositoryName": names["repo"], "BranchName": "main",
                            "PollForSourceChanges": "false"}, outputs=["SourceOutput"],
                           namespace="SourceVariables")]),
        ("Build", [action("Build", "Build", "CodeBuild", {"ProjectName": names["project"]},
                          inputs=["SourceOutput"], outputs=["BuildOutput"],
                          namespace="BuildVariables")]),
        ("Approval", [approval()]),
        ("Deploy", [action("Deploy", "Deploy", "CodeDeploy",
                           {"ApplicationName": names["app"],
                            "DeploymentGroupName": names["group"]}, inputs=["BuildOutput"])]),
    ]))
    arn = cp.get_pipeline(name=names["pipeline"])["metadata"]["pipelineArn"]
    events = aws("events")
    rule = f"{names['pipeline']}-on-push"
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
        "resources": [f"arn:aws:codecommit:us-east-1:123456789012:{names['repo']}"],
        "detail": {"event": ["referenceCreated", "referenceUpdated"],
                   "referenceType": ["branch"], "referenceName": ["main"]}}))
    events.put_targets(Rule=rule, Targets=[{
        "Id": "pipeline", "Arn": arn,
        "RoleArn": make_role(aws, service="events.amazonaws.com")}])
    yield {**names, "git": git, "work": work, "instances": instances}
    aws("ec2").terminate_instances(InstanceIds=instances)
    wait_until(lambda: not set(instances) & set(emulator_hosts(emulator)), 60,
               "terminated instances' hosts to go")


def approve_and_finish(cp, name: str, execution_id: str) -> str:
    token = wait_for_approval_token(cp, name, "Approval", "Approve", execution_id=execution_id)
    cp.put_approval_result(pipelineName=name, stageName="Approval", actionName="Approve",
                           token=token, result={"status": "Approved", "summary": "ship it"})
    return wait_for_execution(cp, name, execution_id, timeout=300)


def pages(emulator, instances) -> list[str]:
    hosts = emulator_hosts(emulator)
    return [http_get(hosts[i]["url"] + "/")[1] for i in instances]


def pushed_execution(cp, name: str, known: set[str]) -> str:
    fresh = wait_for(lambda: [s["pipelineExecutionId"] for s in cp.list_pipeline_executions(
        pipelineName=name)["pipelineExecutionSummaries"] if s["pipelineExecutionId"] not in known],
        timeout=60, what="the execution the push started")
    assert len(fresh) == 1, "one push must start exactly one execution"
    return fresh[0]


def test_push_build_approve_deploy_then_a_failing_test_stops_at_build(aws, emulator, course):
    cp, name = aws("codepipeline"), course["pipeline"]
    first = latest_execution_id(cp, name)
    assert approve_and_finish(cp, name, first) == "Succeeded"
    assert pages(emulator, course["instances"]) == ["Hello from CI/CD Pipeline v1.0.0!"] * 2

    # A version bump pushed with git starts the pipeline through the EventBridge rule.
    manifest = json.loads((course["work"] / "package.json").read_text())
    manifest["version"] = "1.1.0"
    commit = course["git"].commit_and_push(
        course["work"], {"package.json": json.dumps(manifest, indent=2) + "\n"}, "Release 1.1.0")
    second = pushed_execution(cp, name, {first})
    summary = [s for s in cp.list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"] if s["pipelineExecutionId"] == second][0]
    assert summary["trigger"]["triggerType"] == "CloudWatchEvent"
    assert approve_and_finish(cp, name, second) == "Succeeded"
    revisions = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=second)[
        "pipelineExecution"]["artifactRevisions"]
    assert revisions[0]["revisionId"] == commit
    assert pages(emulator, course["instances"]) == ["Hello from CI/CD Pipeline v1.1.0!"] * 2
    build_action = [d for d in cp.list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": second})["actionExecutionDetails"]
        if d["actionName"] == "Build"][0]
    assert build_action["output"]["outputVariables"]["APP_VERSION"] == "1.1.0"
    build_id = build_action["output"]["executionResult"]["externalExecutionId"]
    build = aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["initiator"] == f"codepipeline/{name}"
    assert build["resolvedSourceVersion"] == commit

    # A failing test stops the pipeline at Build; the hosts keep serving 1.1.0.
    course["git"]("apply", str(SAMPLE_APP / "failures" / "failing-test.patch"),
                  cwd=course["work"])
    course["git"].commit_and_push(course["work"], {}, "A test that fails")
    third = pushed_execution(cp, name, {first, second})
    assert wait_for_execution(cp, name, third, timeout=300) == "Failed"
    build = action_state(cp, name, "Build", "Build")["latestExecution"]
    assert build["status"] == "Failed"
    assert "COMMAND_EXECUTION_ERROR" in build["errorDetails"]["message"]
    assert "npm test" in build["errorDetails"]["message"]
    deploy = cp.get_pipeline_state(name=name)["stageStates"][3]
    assert deploy["latestExecution"]["pipelineExecutionId"] == second
    assert pages(emulator, course["instances"]) == ["Hello from CI/CD Pipeline v1.1.0!"] * 2
