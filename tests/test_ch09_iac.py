"""Chapter 09: the emulator's change sets (Replacement, Details, parameter changes), IAM role and
bucket updates the chapter relies on, the CloudFormation helpers, and the exercise's check."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from course_helpers import lab_on

from labkit.exercises import for_chapter
from labkit.names import course_names
from labkit.services import cloudformation as cfn_helpers

TEMPLATES = Path(__file__).resolve().parents[1] / "cloudformation"
PIPELINE = (TEMPLATES / "pipeline.yaml").read_text()


def stack_values(names) -> dict[str, str]:
    return {"RepositoryName": names.iac_repository, "BuildProjectName": names.iac_build_project,
            "ApplicationName": names.iac_codedeploy_app, "PipelineName": names.iac_pipeline,
            "HostTagValue": names.iac_hosts_tag, "AppParameterPrefix": "my-app"}


@pytest.fixture
def iac(emulator):
    """A lab of its own with chapter 09's pipeline stack (no push: nothing runs but the
    pipeline's first execution, which fails at once on the empty repository)."""
    with lab_on(emulator) as lab:
        names = course_names(lab)
        lab.client("cloudformation").create_stack(
            StackName=names.iac_stack, TemplateBody=PIPELINE,
            Parameters=cfn_helpers.parameters(**stack_values(names)),
            Capabilities=["CAPABILITY_NAMED_IAM"], Tags=lab.tags.as_list())
        assert cfn_helpers.wait_for_stack(lab, names.iac_stack)["StackStatus"] == "CREATE_COMPLETE"
        yield lab, names
        cfn_helpers.remove_stacks(lab, [names.iac_stack])


def change_set(lab, names, name: str, **changes: str) -> dict:
    cfn = lab.client("cloudformation")
    cfn.create_change_set(StackName=names.iac_stack, ChangeSetName=name, ChangeSetType="UPDATE",
                          TemplateBody=PIPELINE, Capabilities=["CAPABILITY_NAMED_IAM"],
                          Parameters=cfn_helpers.parameters(**{**stack_values(names), **changes}))
    return cfn_helpers.wait_for_change_set(lab, names.iac_stack, name)


def rows(lab, names, name: str) -> dict[str, tuple[str, str]]:
    table = cfn_helpers.change_set_table(lab, names.iac_stack, name)
    return {r["LogicalResourceId"]: (r["Action"], r["Replacement"]) for r in table.to_dict("records")}


def test_a_parameter_change_modifies_in_place_what_mentions_it(iac):
    lab, names = iac
    found = change_set(lab, names, "all-at-once", DeploymentConfigName="CodeDeployDefault.AllAtOnce")
    assert found["Status"] == "CREATE_COMPLETE" and found["ExecutionStatus"] == "AVAILABLE"
    assert rows(lab, names, "all-at-once") == {"DeploymentGroup": ("Modify", "False"),
                                               "PipelineRole": ("Modify", "False")}
    group = [c["ResourceChange"] for c in found["Changes"]
             if c["ResourceChange"]["LogicalResourceId"] == "DeploymentGroup"][0]
    assert group["PhysicalResourceId"] == "dev" and group["Scope"] == ["Properties"]
    assert group["Details"] == [{"Target": {"Attribute": "Properties", "Name": "DeploymentConfigName",
                                           "RequiresRecreation": "Never"},
                                 "Evaluation": "Static", "ChangeSource": "ParameterReference",
                                 "CausingEntity": "DeploymentConfigName"}]


def test_a_new_name_replaces_and_its_dependents_change_dynamically(iac):
    lab, names = iac
    change_set(lab, names, "rename", BuildProjectName=f"{names.iac_build_project}-v2")
    assert rows(lab, names, "rename") == {
        "BuildLogGroup": ("Modify", "True"), "BuildRole": ("Modify", "False"),
        "BuildProject": ("Modify", "True"), "PipelineRole": ("Modify", "False"),
        "Pipeline": ("Modify", "False")}
    table = cfn_helpers.change_set_table(lab, names.iac_stack, "rename")
    assert table.set_index("LogicalResourceId").loc["Pipeline", "caused by"] == \
        "Stages (new name of BuildProject)"
    assert cfn_helpers.replaced_resources(lab, names.iac_stack, "rename") == {"BuildProject",
                                                                             "BuildLogGroup"}


def test_a_condition_adds_only_when_true_and_a_dropped_resource_is_removed(iac):
    lab, names = iac
    change_set(lab, names, "email", ApprovalEmail="learner@example.com")
    assert rows(lab, names, "email") == {"ApprovalSubscription": ("Add", "")}
    # The same template without its alarm: the stack's alarm would be removed.
    without_alarm = PIPELINE.split("  # --- alarms")[0] + "\nOutputs:" + PIPELINE.split("\nOutputs:")[1]
    cfn = lab.client("cloudformation")
    cfn.create_change_set(StackName=names.iac_stack, ChangeSetName="no-alarm", ChangeSetType="UPDATE",
                          TemplateBody=without_alarm, Capabilities=["CAPABILITY_NAMED_IAM"],
                          Parameters=cfn_helpers.parameters(**stack_values(names)))
    removed = cfn.describe_change_set(StackName=names.iac_stack, ChangeSetName="no-alarm")["Changes"]
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
             c["ResourceChange"]["PolicyAction"]) for c in removed] == [
        ("Remove", "FailedPipelineAlarm", "Delete")]


def test_executing_applies_the_new_policy_and_drops_the_other_change_sets(iac):
    lab, names = iac
    cfn = lab.client("cloudformation")
    change_set(lab, names, "all-at-once", DeploymentConfigName="CodeDeployDefault.AllAtOnce")
    change_set(lab, names, "medium", ComputeType="BUILD_GENERAL1_MEDIUM")
    cfn.execute_change_set(StackName=names.iac_stack, ChangeSetName="all-at-once")
    assert cfn_helpers.wait_for_stack(lab, names.iac_stack)["StackStatus"] == "UPDATE_COMPLETE"
    group = lab.client("codedeploy").get_deployment_group(
        applicationName=names.iac_codedeploy_app, deploymentGroupName="dev")["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    role = cfn.describe_stack_resource(StackName=names.iac_stack, LogicalResourceId="PipelineRole")[
        "StackResourceDetail"]["PhysicalResourceId"]
    policy = lab.client("iam").get_role_policy(RoleName=role, PolicyName="pipeline")["PolicyDocument"]
    assert "deploymentconfig:CodeDeployDefault.AllAtOnce" in json.dumps(policy)  # moto kept the old one
    with pytest.raises(cfn.exceptions.ClientError):
        cfn.describe_change_set(StackName=names.iac_stack, ChangeSetName="medium")  # as on AWS
    events = cfn_helpers.events_table(lab, names.iac_stack)
    assert events["status"].iloc[0] == "UPDATE_IN_PROGRESS"
    assert set(events["resource"]) == {names.iac_stack, "DeploymentGroup", "PipelineRole"}


def test_a_new_stack_of_the_same_name_finds_its_own_change_set(emulator):
    with lab_on(emulator) as lab:
        cfn, stack = lab.client("cloudformation"), f"{lab.prefix}-again"
        body = json.dumps({"Parameters": {"Name": {"Type": "String"}}, "Resources": {"App": {
            "Type": "AWS::CodeDeploy::Application", "Properties": {"ApplicationName": {"Ref": "Name"}}}}})
        for run in (1, 2):
            cfn.create_stack(StackName=stack, TemplateBody=body,
                             Parameters=cfn_helpers.parameters(Name=f"{stack}-{run}"))
            cfn.create_change_set(StackName=stack, ChangeSetName="rename", ChangeSetType="UPDATE",
                                  TemplateBody=body,
                                  Parameters=cfn_helpers.parameters(Name=f"{stack}-{run}b"))
            assert rows(lab, type("N", (), {"iac_stack": stack}), "rename") == {
                "App": ("Modify", "True")}
            cfn.execute_change_set(StackName=stack, ChangeSetName="rename")
            assert cfn_helpers.wait_for_stack(lab, stack)["StackStatus"] == "UPDATE_COMPLETE"
            stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
            cfn.delete_stack(StackName=stack)
            assert cfn_helpers.wait_for_stack(lab, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_the_template_bucket_is_versioned_and_can_be_emptied_despite_its_tls_policy(iac):
    lab, names = iac
    s3 = lab.client("s3")
    bucket = cfn_helpers.outputs(lab, names.iac_stack)["ArtifactBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="artifact.zip", Body=body)
    s3.delete_object(Bucket=bucket, Key="artifact.zip")  # a delete marker on top
    assert cfn_helpers.empty_bucket(lab, bucket) == 3
    listing = s3.list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    assert cfn_helpers.delete_stack(lab, names.iac_stack) == "DELETE_COMPLETE"
    assert not cfn_helpers.stack_exists(lab, names.iac_stack)


def test_the_exercise_checks_the_real_change_set(iac, capsys):
    lab, names = iac
    ex = for_chapter("09", lab)
    assert ex.replaced.check(None).passed is None
    result = ex.replaced.check(["BuildProject"])
    assert result.passed is False and "There is no change set" in result.message
    change_set(lab, names, names.iac_rename_change_set, BuildProjectName=f"{names.iac_build_project}-v3")
    result = ex.replaced.check(["BuildProject"])
    assert result.passed is False and "should set BuildProjectName" in result.message
    lab.client("cloudformation").delete_change_set(StackName=names.iac_stack,
                                                   ChangeSetName=names.iac_rename_change_set)
    answer = ex.replaced.solve()
    assert sorted(answer) == ["BuildLogGroup", "BuildProject"]
    result = ex.replaced.check(["BuildProject"])
    assert result.passed is False and "1 replaced resource(s) missing" in result.message
    result = ex.replaced.check(["BuildProject", "BuildLogGroup", "Pipeline"])
    assert result.passed is False and "Pipeline would be changed in place" in result.message
    assert ex.replaced.check(answer).passed is True
    assert ex.replaced.check("BuildProject").passed is False  # a string is one id
    # Executing the reviewed change set is not the exercise.
    cfn = lab.client("cloudformation")
    cfn.execute_change_set(StackName=names.iac_stack, ChangeSetName=names.iac_rename_change_set)
    result = ex.replaced.check(answer)
    assert result.passed is False and "must not be executed" in result.message


def test_teardown_deletes_a_stack_left_behind(emulator):
    """If the chapter stops half-way, `labkit teardown` finds the stack by its tag and prefix."""
    from labkit.teardown import teardown

    with lab_on(emulator, prefix=f"t{uuid.uuid4().hex[:8]}") as lab:
        names = course_names(lab)
        lab.client("cloudformation").create_stack(
            StackName=names.iac_stack, TemplateBody=PIPELINE,
            Parameters=cfn_helpers.parameters(**stack_values(names)),
            Capabilities=["CAPABILITY_NAMED_IAM"], Tags=lab.tags.as_list())
        bucket = cfn_helpers.outputs(lab, names.iac_stack)["ArtifactBucketName"]
        lab.client("s3").put_object(Bucket=bucket, Key="artifact.zip", Body=b"left behind")
        report = teardown(lab)
        assert not report.leftovers, report.leftovers
        assert not cfn_helpers.stack_exists(lab, names.iac_stack)
