"""CodeDeploy definitions through boto3: applications, deployment groups, configs, revisions and
tags, with AWS's validation and error names (every response shape-checked)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from pipeline_helpers import make_role


def error_code(info) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def role_arn(aws):
    return make_role(aws, f"cd-role-{uuid.uuid4().hex[:6]}", service="codedeploy.amazonaws.com")


@pytest.fixture
def app(aws):
    name = f"app-{uuid.uuid4().hex[:8]}"
    aws("codedeploy").create_application(applicationName=name, computePlatform="Server")
    return name


def test_application_lifecycle(aws):
    cd = aws("codedeploy")
    name = f"app-{uuid.uuid4().hex[:8]}"
    app_id = cd.create_application(applicationName=name, tags=[{"Key": "team", "Value": "a"}])["applicationId"]
    info = cd.get_application(applicationName=name)["application"]
    assert info["applicationId"] == app_id and info["computePlatform"] == "Server"
    assert info["linkedToGitHub"] is False
    assert name in cd.list_applications()["applications"]
    assert cd.batch_get_applications(applicationNames=[name])["applicationsInfo"][0]["applicationName"] == name
    with pytest.raises(ClientError) as info:
        cd.create_application(applicationName=name)
    assert error_code(info) == "ApplicationAlreadyExistsException"
    arn = f"arn:aws:codedeploy:us-east-1:123456789012:application:{name}"
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    cd.tag_resource(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    cd.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    cd.delete_application(applicationName=name)
    with pytest.raises(ClientError) as info:
        cd.get_application(applicationName=name)
    assert error_code(info) == "ApplicationDoesNotExistException"
    cd.delete_application(applicationName=name)  # deleting twice is not an error on AWS


def test_bad_application_names_and_platforms(aws):
    cd = aws("codedeploy")
    with pytest.raises(ClientError) as info:
        cd.create_application(applicationName="x" * 101)
    assert error_code(info) == "InvalidApplicationNameException"
    with pytest.raises(ClientError) as info:
        cd.create_application(applicationName="has space")
    assert error_code(info) == "InvalidApplicationNameException"
    with pytest.raises(ClientError) as info:
        cd.create_application(applicationName=f"l-{uuid.uuid4().hex[:6]}", computePlatform="Lambda")
    assert error_code(info) == "InvalidComputePlatformException"


def test_deployment_group_lifecycle(aws, app, role_arn):
    cd = aws("codedeploy")
    group_id = cd.create_deployment_group(
        applicationName=app, deploymentGroupName="dev", serviceRoleArn=role_arn,
        ec2TagFilters=[{"Key": "Env", "Value": "dev", "Type": "KEY_AND_VALUE"}],
        deploymentConfigName="CodeDeployDefault.HalfAtATime",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
        loadBalancerInfo={"targetGroupInfoList": [{"name": "tg"}]},
    )["deploymentGroupId"]
    info = cd.get_deployment_group(applicationName=app, deploymentGroupName="dev")["deploymentGroupInfo"]
    assert info["deploymentGroupId"] == group_id and info["serviceRoleArn"] == role_arn
    assert info["deploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
    assert info["ec2TagFilters"] == [{"Key": "Env", "Value": "dev", "Type": "KEY_AND_VALUE"}]
    assert info["loadBalancerInfo"] == {"targetGroupInfoList": [{"name": "tg"}]}
    assert info["computePlatform"] == "Server"
    assert cd.list_deployment_groups(applicationName=app)["deploymentGroups"] == ["dev"]
    with pytest.raises(ClientError) as err:
        cd.create_deployment_group(applicationName=app, deploymentGroupName="dev", serviceRoleArn=role_arn)
    assert error_code(err) == "DeploymentGroupAlreadyExistsException"
    cd.update_deployment_group(applicationName=app, currentDeploymentGroupName="dev",
                               newDeploymentGroupName="test",
                               deploymentConfigName="CodeDeployDefault.AllAtOnce")
    info = cd.get_deployment_group(applicationName=app, deploymentGroupName="test")["deploymentGroupInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    assert info["ec2TagFilters"][0]["Value"] == "dev", "fields not given to Update are kept"
    batch = cd.batch_get_deployment_groups(applicationName=app, deploymentGroupNames=["test", "nope"])
    assert [g["deploymentGroupName"] for g in batch["deploymentGroupsInfo"]] == ["test"]
    assert "nope" in batch["errorMessage"]
    cd.delete_deployment_group(applicationName=app, deploymentGroupName="test")
    with pytest.raises(ClientError) as err:
        cd.get_deployment_group(applicationName=app, deploymentGroupName="test")
    assert error_code(err) == "DeploymentGroupDoesNotExistException"


@pytest.mark.parametrize("changes, code", [
    ({"serviceRoleArn": "arn:aws:iam::123456789012:role/does-not-exist"}, "InvalidRoleException"),
    ({"serviceRoleArn": "not-an-arn"}, "InvalidRoleException"),
    ({"deploymentConfigName": "NoSuchConfig"}, "DeploymentConfigDoesNotExistException"),
    ({"ec2TagFilters": [{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}],
      "ec2TagSet": {"ec2TagSetList": [[{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}]]}},
     "InvalidEC2TagCombinationException"),
    ({"ec2TagFilters": [{"Value": "b", "Type": "KEY_ONLY"}]}, "InvalidEC2TagException"),
    ({"autoScalingGroups": ["no-such-asg"]}, "InvalidAutoScalingGroupException"),
    ({"autoRollbackConfiguration": {"enabled": True, "events": []}}, "InvalidAutoRollbackConfigException"),
    ({"autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]}},
     "InvalidAutoRollbackConfigException"),
    ({"alarmConfiguration": {"enabled": True, "alarms": []}}, "InvalidAlarmConfigException"),
    ({"alarmConfiguration": {"enabled": True, "alarms": [{"name": f"a{i}"} for i in range(11)]}},
     "AlarmsLimitExceededException"),
    ({"deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"}},
     "InvalidLoadBalancerInfoException"),
    ({"triggerConfigurations": [{"triggerName": "t", "triggerEvents": ["DeploymentFailure"],
                                 "triggerTargetArn": "arn:aws:sns:us-east-1:123456789012:no-such-topic"}]},
     "InvalidTriggerConfigException"),
])
def test_deployment_group_validation_leaves_nothing_behind(aws, app, role_arn, changes, code):
    cd = aws("codedeploy")
    params = {"applicationName": app, "deploymentGroupName": "bad", "serviceRoleArn": role_arn, **changes}
    with pytest.raises(ClientError) as info:
        cd.create_deployment_group(**params)
    assert error_code(info) == code
    assert info.value.response["Error"]["Message"]
    assert cd.list_deployment_groups(applicationName=app)["deploymentGroups"] == []


def test_group_needs_an_existing_application(aws, role_arn):
    with pytest.raises(ClientError) as info:
        aws("codedeploy").create_deployment_group(applicationName="no-such-app", deploymentGroupName="g",
                                                  serviceRoleArn=role_arn)
    assert error_code(info) == "ApplicationDoesNotExistException"


def test_deployment_configs(aws, app, role_arn):
    cd = aws("codedeploy")
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    assert {"CodeDeployDefault.OneAtATime", "CodeDeployDefault.HalfAtATime",
            "CodeDeployDefault.AllAtOnce"} <= set(names)
    half = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.HalfAtATime")["deploymentConfigInfo"]
    assert half["minimumHealthyHosts"] == {"type": "FLEET_PERCENT", "value": 50}
    name = f"cfg-{uuid.uuid4().hex[:6]}"
    config_id = cd.create_deployment_config(deploymentConfigName=name,
                                            minimumHealthyHosts={"type": "HOST_COUNT", "value": 2})["deploymentConfigId"]
    info = cd.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"]
    assert info["deploymentConfigId"] == config_id and info["computePlatform"] == "Server"
    with pytest.raises(ClientError) as err:
        cd.create_deployment_config(deploymentConfigName=name, minimumHealthyHosts={"type": "HOST_COUNT", "value": 1})
    assert error_code(err) == "DeploymentConfigAlreadyExistsException"
    with pytest.raises(ClientError) as err:
        cd.create_deployment_config(deploymentConfigName="pct-bad", minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 100})
    assert error_code(err) == "InvalidMinimumHealthyHostValueException"
    with pytest.raises(ClientError) as err:
        cd.create_deployment_config(deploymentConfigName="none-given")
    assert error_code(err) == "InvalidMinimumHealthyHostValueException"
    assert "none-given" not in cd.list_deployment_configs()["deploymentConfigsList"]
    cd.create_deployment_group(applicationName=app, deploymentGroupName="uses", serviceRoleArn=role_arn,
                               deploymentConfigName=name)
    with pytest.raises(ClientError) as err:
        cd.delete_deployment_config(deploymentConfigName=name)
    assert error_code(err) == "DeploymentConfigInUseException"
    with pytest.raises(ClientError) as err:
        cd.delete_deployment_config(deploymentConfigName="CodeDeployDefault.AllAtOnce")
    assert error_code(err) == "InvalidOperationException"
    cd.delete_deployment_group(applicationName=app, deploymentGroupName="uses")
    cd.delete_deployment_config(deploymentConfigName=name)
    with pytest.raises(ClientError) as err:
        cd.get_deployment_config(deploymentConfigName=name)
    assert error_code(err) == "DeploymentConfigDoesNotExistException"


def test_application_revisions(aws, app):
    cd = aws("codedeploy")
    revision = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "my-app/v1.zip", "bundleType": "zip"}}
    cd.register_application_revision(applicationName=app, revision=revision, description="first")
    got = cd.get_application_revision(applicationName=app, revision=revision)
    assert got["revisionInfo"]["description"] == "first"
    assert got["revisionInfo"]["deploymentGroups"] == []
    listed = cd.list_application_revisions(applicationName=app, s3Bucket="b", s3KeyPrefix="my-app/")["revisions"]
    assert listed == [revision]
    with pytest.raises(ClientError) as err:
        cd.get_application_revision(applicationName=app, revision={
            "revisionType": "S3", "s3Location": {"bucket": "b", "key": "other.zip", "bundleType": "zip"}})
    assert error_code(err) == "RevisionDoesNotExistException"
    with pytest.raises(ClientError) as err:
        cd.register_application_revision(applicationName=app, revision={
            "revisionType": "S3", "s3Location": {"bucket": "b", "key": "x.json", "bundleType": "JSON"}})
    assert error_code(err) == "InvalidRevisionException"
    with pytest.raises(ClientError) as err:
        cd.list_application_revisions(applicationName=app, s3KeyPrefix="my-app/")
    assert error_code(err) == "BucketNameFilterRequiredException"


def test_unknown_deployment_ids(aws):
    cd = aws("codedeploy")
    with pytest.raises(ClientError) as err:
        cd.get_deployment(deploymentId="d-AAAAAAAAA")
    assert error_code(err) == "DeploymentDoesNotExistException"
    with pytest.raises(ClientError) as err:
        cd.get_deployment(deploymentId="nonsense")
    assert error_code(err) == "InvalidDeploymentIdException"
    assert cd.batch_get_deployments(deploymentIds=["d-AAAAAAAAA"])["deploymentsInfo"] == []


def test_aws_cli_push_registers_a_revision(aws, emulator, app, tmp_path):
    """`aws deploy push` zips a folder, uploads it to S3 and registers the revision."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    source = tmp_path / "src"
    source.mkdir()
    (source / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_DEFAULT_REGION": "us-east-1"}
    cli = Path(sys.executable).parent / "aws"
    result = subprocess.run([str(cli), "deploy", "push", "--application-name", app,
                             "--s3-location", f"s3://{bucket}/app.zip", "--source", str(source),
                             "--description", "pushed by the CLI"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "create-deployment" in result.stdout
    revisions = aws("codedeploy").list_application_revisions(applicationName=app)["revisions"]
    assert revisions[0]["s3Location"]["bucket"] == bucket
    assert revisions[0]["s3Location"]["bundleType"] == "zip"
    info = aws("codedeploy").get_application_revision(applicationName=app, revision=revisions[0])
    assert info["revisionInfo"]["description"] == "pushed by the CLI"


@pytest.mark.parametrize("name, rule, hosts, plan", [
    ("CodeDeployDefault.OneAtATime", None, 3, (1, 2)),
    ("CodeDeployDefault.OneAtATime", None, 1, (1, 1)),
    ("CodeDeployDefault.HalfAtATime", {"type": "FLEET_PERCENT", "value": 50}, 3, (1, 2)),
    ("CodeDeployDefault.HalfAtATime", {"type": "FLEET_PERCENT", "value": 50}, 4, (2, 2)),
    ("CodeDeployDefault.AllAtOnce", {"type": "HOST_COUNT", "value": 0}, 3, (3, 0)),
    ("six-of-nine", {"type": "HOST_COUNT", "value": 6}, 9, (3, 6)),
    ("forty-percent", {"type": "FLEET_PERCENT", "value": 40}, 9, (5, 4)),  # 3.6 rounds up to 4
])
def test_batch_size_and_minimum_per_config(name, rule, hosts, plan):
    """(hosts at a time, hosts that must end healthy), with AWS's examples from the API reference."""
    from labkit.emulator.codedeploy.models import DeploymentConfig

    assert DeploymentConfig(name, "id", rule).plan(hosts) == plan


def test_one_at_a_time_config_leaves_out_the_minimum_botocore_cannot_name(aws):
    info = aws("codedeploy").get_deployment_config(deploymentConfigName="CodeDeployDefault.OneAtATime")
    assert "minimumHealthyHosts" not in info["deploymentConfigInfo"]
    assert info["deploymentConfigInfo"]["computePlatform"] == "Server"
