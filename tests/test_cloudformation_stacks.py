"""Stacks on the emulator: the course's templates deployed with `aws cloudformation deploy`, a
pipeline run on `git push`, an update, a delete that leaves nothing; bad templates fail as AWS's do."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pipeline_helpers import Git, wait_for, wait_for_approval_token, wait_for_execution

TEMPLATES = Path(__file__).resolve().parents[1] / "cloudformation"
AWS_CLI = Path(sys.executable).with_name("aws")

# A tiny app: its build copies the source, its deployment runs one hook on every host.
APP_FILES = {
    # The template's approval message names #{BuildVariables.APP_VERSION}, as my-app exports it.
    "buildspec.yml": "version: 0.2\nenv:\n  exported-variables:\n    - APP_VERSION\n"
                     "phases:\n  build:\n    commands:\n      - export APP_VERSION=0.0.1\n"
                     "artifacts:\n  files:\n    - '**/*'\n",
    "appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/tiny\n"
                   "hooks:\n  ValidateService:\n    - location: validate.sh\n      timeout: 30\n",
    "validate.sh": "#!/bin/bash\necho \"validated $DEPLOYMENT_ID\"\n",
}


def cli(emulator, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([str(AWS_CLI), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def deploy(emulator, stack: str, template: str, **parameters: str) -> None:
    overrides = [f"{k}={v}" for k, v in parameters.items()]
    done = cli(emulator, "cloudformation", "deploy", "--stack-name", stack,
               "--template-file", str(TEMPLATES / template), "--capabilities",
               "CAPABILITY_NAMED_IAM", *(["--parameter-overrides", *overrides] if overrides else []))
    assert done.returncode == 0, done.stdout + done.stderr


def status(cfn, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def events(cfn, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) oldest first."""
    found = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in reversed(found)]


def empty_bucket(s3, bucket: str) -> None:
    """What the course does before deleting the stack: every version and delete marker."""
    listing = s3.list_object_versions(Bucket=bucket)
    doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
              for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]
    if doomed:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})


@pytest.fixture()
def names():
    tag = uuid.uuid4().hex[:6]
    return {"RepositoryName": f"cfn-app-{tag}", "BuildProjectName": f"cfn-build-{tag}",
            "ApplicationName": f"cfn-app-{tag}", "PipelineName": f"cfn-pipeline-{tag}",
            "HostTagValue": f"cfn-app-{tag}"}


def test_stack_runs_the_pipeline_on_push_updates_and_deletes_to_nothing(aws, emulator, names,
                                                                        tmp_path):
    cfn, cp = aws("cloudformation"), aws("codepipeline")
    pipeline_stack, hosts_stack = f"{names['PipelineName']}-stack", f"{names['PipelineName']}-hosts"
    deploy(emulator, pipeline_stack, "pipeline.yaml", **names)
    assert status(cfn, pipeline_stack) == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName=pipeline_stack)["Stacks"][0]["Outputs"]}
    assert outputs["RepositoryName"] == names["RepositoryName"]
    assert outputs["PipelineName"] == names["PipelineName"]
    deploy(emulator, hosts_stack, "hosts.yaml", InstanceProfileName=outputs["InstanceProfileName"],
           HostTagValue=names["HostTagValue"])

    # The emulated resources are real labkit resources, with CloudFormation's events.
    project = aws("codebuild").batch_get_projects(names=[names["BuildProjectName"]])["projects"][0]
    assert project["environment"]["computeType"] == "BUILD_GENERAL1_SMALL"
    group = aws("codedeploy").get_deployment_group(
        applicationName=names["ApplicationName"], deploymentGroupName="dev")["deploymentGroupInfo"]
    assert group["ec2TagFilters"][0]["Value"] == names["HostTagValue"]
    assert group["autoRollbackConfiguration"]["enabled"] is True
    history = events(cfn, pipeline_stack)
    for logical in ("Repository", "BuildProject", "Application", "DeploymentGroup", "Pipeline"):
        assert [s for n, s, _ in history if n == logical] == ["CREATE_IN_PROGRESS",
                                                              "CREATE_COMPLETE"]
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=outputs["ArtifactBucketName"])["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    listed = cfn.describe_stack_resources(StackName=pipeline_stack)["StackResources"]
    assert {r["ResourceStatus"] for r in listed} == {"CREATE_COMPLETE"}
    assert "ApprovalSubscription" not in {r["LogicalResourceId"] for r in listed}  # condition
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed}
    repo = aws("codecommit").get_repository(repositoryName=names["RepositoryName"])
    assert resources["Repository"] == repo["repositoryMetadata"]["repositoryId"]  # Ref is the id

    # A push of the first branch (referenceCreated) starts the pipeline through the rule.
    git = Git(tmp_path)
    git("clone", "-q", outputs["CloneUrlHttp"], "work")
    work = tmp_path / "work"
    for name, text in APP_FILES.items():
        (work / name).write_text(text)
    (work / "validate.sh").chmod(0o755)
    commit = git.commit_and_push(work, {}, "tiny app")

    def pushed():
        for summary in cp.list_pipeline_executions(pipelineName=names["PipelineName"])[
                "pipelineExecutionSummaries"]:
            revisions = summary.get("sourceRevisions", [])
            if summary["trigger"]["triggerType"] == "CloudWatchEvent" and revisions and \
                    revisions[0]["revisionId"] == commit:
                return summary["pipelineExecutionId"]
        return None

    execution = wait_for(pushed, timeout=60, what="the execution the push started")
    try:
        token = wait_for_approval_token(cp, names["PipelineName"], "Approval", "Approve",
                                        execution)
    except AssertionError:
        raise AssertionError(json.dumps(cp.get_pipeline_state(name=names["PipelineName"]),
                                        default=str, indent=1)) from None
    cp.put_approval_result(pipelineName=names["PipelineName"], stageName="Approval",
                           actionName="Approve", token=token,
                           result={"status": "Approved", "summary": "ok"})
    assert wait_for_execution(cp, names["PipelineName"], execution, timeout=240) == "Succeeded"

    # An update changes the project in place; unchanged resources get no events.
    before = len(history)
    deploy(emulator, pipeline_stack, "pipeline.yaml", ComputeType="BUILD_GENERAL1_MEDIUM",
           **names)
    assert status(cfn, pipeline_stack) == "UPDATE_COMPLETE"
    project = aws("codebuild").batch_get_projects(names=[names["BuildProjectName"]])["projects"][0]
    assert project["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM"
    updated = [(n, s) for n, s, _ in events(cfn, pipeline_stack)[before:]]
    assert ("BuildProject", "UPDATE_COMPLETE") in updated
    assert not any(n == "Repository" for n, _ in updated)

    # Deleting with artifacts still in the bucket fails as on AWS, and keeps the stack.
    bucket = outputs["ArtifactBucketName"]
    cfn.delete_stack(StackName=pipeline_stack)
    assert status(cfn, pipeline_stack) == "DELETE_FAILED"
    reasons = [r for n, s, r in events(cfn, pipeline_stack) if n == "ArtifactBucket"
               and s == "DELETE_FAILED"]
    assert "The bucket you tried to delete is not empty" in reasons[-1]
    stack_reason = cfn.describe_stacks(StackName=pipeline_stack)["Stacks"][0]["StackStatusReason"]
    assert "[ArtifactBucket]" in stack_reason
    left = {r["LogicalResourceId"]: r["ResourceStatus"] for r in
            cfn.list_stack_resources(StackName=pipeline_stack)["StackResourceSummaries"]}
    assert left == {"ArtifactBucket": "DELETE_FAILED"}  # everything else is gone already

    cfn.delete_stack(StackName=hosts_stack)
    empty_bucket(aws("s3"), bucket)
    cfn.delete_stack(StackName=pipeline_stack)
    gone = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert {pipeline_stack, hosts_stack} <= {s["StackName"] for s in gone}
    assert names["PipelineName"] not in [p["name"] for p in cp.list_pipelines()["pipelines"]]
    assert names["RepositoryName"] not in [r["repositoryName"] for r in aws("codecommit")
                                           .list_repositories()["repositories"]]
    assert names["BuildProjectName"] not in aws("codebuild").list_projects()["projects"]
    assert names["ApplicationName"] not in aws("codedeploy").list_applications()["applications"]
    assert bucket not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert not aws("cloudwatch").describe_alarms(
        AlarmNamePrefix=names["PipelineName"])["MetricAlarms"]
    reservations = aws("ec2").describe_instances(Filters=[
        {"Name": "tag:App", "Values": [names["HostTagValue"]]}])["Reservations"]
    assert all(i["State"]["Name"] == "terminated" for r in reservations for i in r["Instances"])


def _template(resources: dict) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def test_unknown_resource_type_is_refused_at_create(aws):
    cfn = aws("cloudformation")
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName=f"bad-{uuid.uuid4().hex[:6]}", TemplateBody=_template(
            {"Thing": {"Type": "AWS::Nothing::Here", "Properties": {}}}))
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Unrecognized resource types: [AWS::Nothing::Here]" in str(caught.value)


def test_circular_dependency_is_refused_at_create(aws):
    cfn = aws("cloudformation")
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName=f"loop-{uuid.uuid4().hex[:6]}", TemplateBody=_template({
            "A": {"Type": "AWS::CodeDeploy::Application",
                  "Properties": {"ApplicationName": {"Fn::Sub": "${B}-a"}}},
            "B": {"Type": "AWS::CodeDeploy::Application",
                  "Properties": {"ApplicationName": {"Ref": "A"}}}}))
    assert "Circular dependency between resources: [A, B]" in str(caught.value)


def test_an_attribute_the_type_lacks_is_refused_at_create(aws):
    with pytest.raises(ClientError) as caught:
        aws("cloudformation").create_stack(StackName=f"att-{uuid.uuid4().hex[:6]}",
                                           TemplateBody=_template({
            "App": {"Type": "AWS::CodeDeploy::Application"},
            "Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {
                "RepositoryName": "att", "RepositoryDescription": {"Fn::GetAtt": ["App", "Arn"]}}}}))
    assert "Template error: resource App does not support attribute type Arn in Fn::GetAtt" in \
        str(caught.value)


def test_missing_required_property_fails_and_rolls_back_what_was_made(aws):
    cfn, tag = aws("cloudformation"), uuid.uuid4().hex[:6]
    stack = f"half-{tag}"
    cfn.create_stack(StackName=stack, TemplateBody=_template({
        "Repo": {"Type": "AWS::CodeCommit::Repository",
                 "Properties": {"RepositoryName": f"half-{tag}"}},
        "App": {"Type": "AWS::CodeDeploy::Application",
                "Properties": {"ApplicationName": f"half-{tag}"}},
        "Project": {"Type": "AWS::CodeBuild::Project", "DependsOn": ["Repo", "App"],
                    "Properties": {"Name": f"half-{tag}", "Source": {"Type": "NO_SOURCE"},
                                   "Artifacts": {"Type": "NO_ARTIFACTS"},
                                   "Environment": {"Type": "LINUX_CONTAINER",
                                                   "Image": "aws/codebuild/standard:7.0",
                                                   "ComputeType": "BUILD_GENERAL1_SMALL"}}},
    }))
    assert status(cfn, stack) == "ROLLBACK_COMPLETE"
    history = events(cfn, stack)
    failed = [r for n, s, r in history if n == "Project" and s == "CREATE_FAILED"]
    assert failed == ["Properties validation failed for resource Project with message:\n"
                      "#: required key [ServiceRole] not found"]
    assert (stack, "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Project]. Rollback requested by user."
            ) in history
    for logical in ("Repo", "App"):
        assert [s for n, s, _ in history if n == logical] == [
            "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    with pytest.raises(ClientError):
        aws("codecommit").get_repository(repositoryName=f"half-{tag}")
    assert f"half-{tag}" not in aws("codedeploy").list_applications()["applications"]
    assert not cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs")
    cfn.delete_stack(StackName=stack)
    assert stack not in [s["StackName"] for s in cfn.list_stacks(
        StackStatusFilter=["ROLLBACK_COMPLETE"])["StackSummaries"]]


def test_a_refused_service_call_is_the_resource_status_reason(aws):
    """A CodeBuild project whose role does not exist: CodeBuild's own error, as the handler's."""
    cfn, tag = aws("cloudformation"), uuid.uuid4().hex[:6]
    stack = f"norole-{tag}"
    cfn.create_stack(StackName=stack, TemplateBody=_template({
        "Project": {"Type": "AWS::CodeBuild::Project",
                    "Properties": {"Name": f"norole-{tag}", "Source": {"Type": "NO_SOURCE",
                                                                       "BuildSpec": "version: 0.2"},
                                   "Artifacts": {"Type": "NO_ARTIFACTS"},
                                   "ServiceRole": "arn:aws:iam::123456789012:role/missing",
                                   "Environment": {"Type": "LINUX_CONTAINER",
                                                   "Image": "aws/codebuild/standard:7.0",
                                                   "ComputeType": "BUILD_GENERAL1_SMALL"}}}}))
    assert status(cfn, stack) == "ROLLBACK_COMPLETE"
    reason = [r for n, s, r in events(cfn, stack) if s == "CREATE_FAILED"][0]
    assert reason.startswith('Resource handler returned message: "')
    assert "(Service: CodeBuild, Status Code: 400" in reason
    assert f"norole-{tag}" not in aws("codebuild").list_projects()["projects"]


def test_multi_env_stack_makes_a_group_per_environment_and_goes_away(aws, emulator, names):
    cfn, cd = aws("cloudformation"), aws("codedeploy")
    names["PipelineName"] = names["PipelineName"].replace("pipeline", "multi")
    stack = f"{names['PipelineName']}-stack"
    deploy(emulator, stack, "multi-env.yaml", **names)
    assert status(cfn, stack) == "CREATE_COMPLETE"
    for env in ("dev", "staging", "prod"):
        group = cd.get_deployment_group(applicationName=names["ApplicationName"],
                                        deploymentGroupName=env)["deploymentGroupInfo"]
        tag_groups = group["ec2TagSet"]["ec2TagSetList"]
        assert [[t["Key"], t["Value"]] for g in tag_groups for t in g] == [
            ["App", names["HostTagValue"]], ["Environment", env]]
    stages = aws("codepipeline").get_pipeline(name=names["PipelineName"])["pipeline"]["stages"]
    assert [s["name"] for s in stages] == ["Source", "Build", "Deploy-Dev", "Approve-Staging",
                                           "Deploy-Staging", "Approve-Prod", "Deploy-Prod"]
    bucket = [o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0][
        "Outputs"] if o["OutputKey"] == "ArtifactBucketName"][0]
    empty_bucket(aws("s3"), bucket)
    cfn.delete_stack(StackName=stack)
    assert stack in [s["StackName"] for s in cfn.list_stacks(
        StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]]
    assert names["ApplicationName"] not in cd.list_applications()["applications"]


def test_repository_code_seeds_the_first_commit(aws):
    cfn, s3, tag = aws("cloudformation"), aws("s3"), uuid.uuid4().hex[:6]
    bucket = f"seed-{tag}"
    s3.create_bucket(Bucket=bucket)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.md", "seeded\n")
    s3.put_object(Bucket=bucket, Key="seed.zip", Body=buffer.getvalue())
    stack = f"seed-{tag}"
    cfn.create_stack(StackName=stack, TemplateBody=_template({"Repo": {
        "Type": "AWS::CodeCommit::Repository",
        "Properties": {"RepositoryName": f"seed-{tag}", "Code": {
            "BranchName": "main", "S3": {"Bucket": bucket, "Key": "seed.zip"}}}}}))
    assert status(cfn, stack) == "CREATE_COMPLETE"
    found = aws("codecommit").get_file(repositoryName=f"seed-{tag}", commitSpecifier="main",
                                       filePath="README.md")
    assert found["fileContent"] == b"seeded\n"
    cfn.delete_stack(StackName=stack)
    assert f"seed-{tag}" not in [r["repositoryName"] for r in aws("codecommit")
                                 .list_repositories()["repositories"]]


def test_update_replaces_what_cannot_change_in_place_and_a_failed_update_says_so(aws):
    cfn, cd, tag = aws("cloudformation"), aws("codedeploy"), uuid.uuid4().hex[:6]
    stack = f"replace-{tag}"

    def template(value: str, app_properties: dict | None = None) -> str:
        return _template({
            "Config": {"Type": "AWS::CodeDeploy::DeploymentConfig", "Properties": {
                "MinimumHealthyHosts": {"Type": "HOST_COUNT", "Value": value}}},
            "App": {"Type": "AWS::CodeDeploy::Application", "DeletionPolicy": "Retain",
                    "Properties": app_properties or {"ApplicationName": f"kept-{tag}"}}})

    stack_id = cfn.create_stack(StackName=stack, TemplateBody=template("1"))["StackId"]
    first = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Config")[
        "StackResourceDetail"]["PhysicalResourceId"]
    cfn.update_stack(StackName=stack, TemplateBody=template("2"))
    assert status(cfn, stack) == "UPDATE_COMPLETE"
    second = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Config")[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert second != first
    assert cd.get_deployment_config(deploymentConfigName=second)["deploymentConfigInfo"][
        "minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 2}
    with pytest.raises(ClientError):
        cd.get_deployment_config(deploymentConfigName=first)
    assert ("Config", "DELETE_COMPLETE") in [(n, s) for n, s, _ in events(cfn, stack)]

    # A failing update rolls back: the replaced config, the added application and the failed
    # one return to what the last good template said.
    broken = json.loads(template("3", {"ApplicationName": f"kept-{tag}", "Color": "blue"}))
    broken["Resources"]["Extra"] = {"Type": "AWS::CodeDeploy::Application",
                                    "Properties": {"ApplicationName": f"extra-{tag}"}}
    broken["Resources"]["App"]["DependsOn"] = ["Config", "Extra"]  # fails last
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(broken))
    assert status(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"
    happened = events(cfn, stack)
    failed = [r for n, s, r in happened if s == "UPDATE_FAILED"]
    assert "extraneous key [Color] is not permitted" in failed[-1]
    rollback = [r for n, s, r in happened if s == "UPDATE_ROLLBACK_IN_PROGRESS"]
    assert rollback[-1].startswith("The following resource(s) failed to update: [App]")
    assert ("Extra", "DELETE_COMPLETE") in [(n, s) for n, s, _ in happened]
    assert cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Config")[
        "StackResourceDetail"]["PhysicalResourceId"] == second
    assert cd.get_deployment_config(deploymentConfigName=second)["deploymentConfigInfo"][
        "minimumHealthyHosts"]["value"] == 2
    configs = cd.list_deployment_configs()["deploymentConfigsList"]
    assert [c for c in configs if c.startswith(f"replace-{tag}")] == [second]  # the 3 is gone
    assert f"extra-{tag}" not in cd.list_applications()["applications"]
    assert "Color" not in cfn.get_template(StackName=stack)["TemplateBody"]
    cfn.update_stack(StackName=stack, TemplateBody=template("1"))  # updatable again at once
    assert status(cfn, stack) == "UPDATE_COMPLETE"

    cfn.delete_stack(StackName=stack)
    # A deleted stack is found by its id only, as on AWS.
    assert ("App", "DELETE_SKIPPED") in [(n, s) for n, s, _ in events(cfn, stack_id)]
    assert f"kept-{tag}" in cd.list_applications()["applications"]  # DeletionPolicy: Retain
    with pytest.raises(ClientError):
        cd.get_deployment_config(deploymentConfigName=second)
    cd.delete_application(applicationName=f"kept-{tag}")


def test_a_resource_deleted_by_hand_does_not_block_the_stack_deletion(aws):
    cfn, cd, tag = aws("cloudformation"), aws("codedeploy"), uuid.uuid4().hex[:6]
    role = aws("iam").create_role(RoleName=f"by-hand-{tag}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "codedeploy.amazonaws.com"}}]})
                                  )["Role"]["Arn"]
    stack = f"by-hand-{tag}"
    cfn.create_stack(StackName=stack, TemplateBody=_template({
        "App": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ApplicationName": stack}},
        "Group": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {
            "ApplicationName": {"Ref": "App"}, "ServiceRoleArn": role,
            "Ec2TagFilters": [{"Key": "App", "Value": stack, "Type": "KEY_AND_VALUE"}]}}}))
    assert status(cfn, stack) == "CREATE_COMPLETE"
    group = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Group")[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert group.startswith(f"{stack}-Group-")  # a generated name, as CloudFormation makes one
    cd.delete_deployment_group(applicationName=stack, deploymentGroupName=group)
    cd.delete_application(applicationName=stack)
    cfn.delete_stack(StackName=stack)
    assert stack in [s["StackName"] for s in cfn.list_stacks(
        StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]]


def test_a_type_the_emulator_lacks_fails_its_resource_instead_of_being_skipped(aws):
    cfn, tag = aws("cloudformation"), uuid.uuid4().hex[:6]
    stack = f"lacks-{tag}"
    cfn.create_stack(StackName=stack, TemplateBody=_template({
        "Topic": {"Type": "AWS::SNS::Topic"},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": []}}}}))
    assert status(cfn, stack) == "ROLLBACK_COMPLETE"
    reason = [r for n, s, r in events(cfn, stack) if n == "TopicPolicy" and s == "CREATE_FAILED"]
    assert "cannot create AWS::SNS::TopicPolicy resources" in reason[0]
    assert ("Topic", "DELETE_COMPLETE") in [(n, s) for n, s, _ in events(cfn, stack)]


def test_update_changes_the_branch_and_a_condition_adds_the_email_subscription(aws, emulator,
                                                                              names):
    cfn, cp = aws("cloudformation"), aws("codepipeline")
    names["PipelineName"] = names["PipelineName"].replace("pipeline", "branch")
    stack = f"{names['PipelineName']}-stack"
    deploy(emulator, stack, "pipeline.yaml", **names)
    deploy(emulator, stack, "pipeline.yaml", BranchName="develop",
           ApprovalEmail="learner@example.com", **names)
    assert status(cfn, stack) == "UPDATE_COMPLETE"
    source = cp.get_pipeline(name=names["PipelineName"])["pipeline"]["stages"][0]["actions"][0]
    assert source["configuration"]["BranchName"] == "develop"
    rule = [r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
            if r["LogicalResourceId"] == "PushRule"][0]["PhysicalResourceId"]
    pattern = json.loads(aws("events").describe_rule(Name=rule)["EventPattern"])
    assert pattern["detail"]["referenceName"] == ["develop"]
    topic = [o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0][
        "Outputs"] if o["OutputKey"] == "ApprovalTopicArn"][0]
    subscriptions = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == ["learner@example.com"]
    assert ("ApprovalSubscription", "CREATE_COMPLETE") in [(n, s) for n, s, _ in
                                                           events(cfn, stack)]
    bucket = [o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0][
        "Outputs"] if o["OutputKey"] == "ArtifactBucketName"][0]
    empty_bucket(aws("s3"), bucket)
    cfn.delete_stack(StackName=stack)
    assert names["PipelineName"] not in [p["name"] for p in cp.list_pipelines()["pipelines"]]


def test_a_log_group_renamed_is_replaced_and_a_name_in_use_rolls_the_update_back(aws):
    cfn, logs, tag = aws("cloudformation"), aws("logs"), uuid.uuid4().hex[:6]
    stack, taken = f"logs-{tag}", f"/labkit/test/taken-{tag}"
    logs.create_log_group(logGroupName=taken)  # not the stack's: a rename onto it must fail
    template = json.dumps({
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": "/labkit/test/${Name}"}, "RetentionInDays": 7}}}})

    def groups() -> set[str]:
        found = logs.describe_log_groups(logGroupNamePrefix="/labkit/test/")["logGroups"]
        return {g["logGroupName"] for g in found if tag in g["logGroupName"]}

    def update(name: str) -> str:
        cfn.update_stack(StackName=stack, TemplateBody=template,
                         Parameters=[{"ParameterKey": "Name", "ParameterValue": name}])
        return status(cfn, stack)

    cfn.create_stack(StackName=stack, TemplateBody=template,
                     Parameters=[{"ParameterKey": "Name", "ParameterValue": f"first-{tag}"}])
    assert groups() == {taken, f"/labkit/test/first-{tag}"}
    # LogGroupName is create-only: a new group is made, the old one deleted in the cleanup.
    assert update(f"second-{tag}") == "UPDATE_COMPLETE"
    assert groups() == {taken, f"/labkit/test/second-{tag}"}
    assert update(f"taken-{tag}") == "UPDATE_ROLLBACK_COMPLETE"
    failed = [r for n, s, r in events(cfn, stack) if s == "UPDATE_FAILED"]
    assert failed and "already exists" in failed[-1] and "HandlerErrorCode: AlreadyExists" in failed[-1]
    assert groups() == {taken, f"/labkit/test/second-{tag}"}  # both untouched
    assert cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Group")[
        "StackResourceDetail"]["PhysicalResourceId"] == f"/labkit/test/second-{tag}"
    cfn.delete_stack(StackName=stack)
    assert groups() == {taken}
    logs.delete_log_group(logGroupName=taken)
