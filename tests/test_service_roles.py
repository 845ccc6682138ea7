"""Builds and deployments act as their roles: a missing permission fails where AWS fails it."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import zipfile

import pytest
from bundles import Fleet, events_of, wait_for_deployment, wait_until
from elb_helpers import Balancer
from pipeline_helpers import make_bucket, make_instance_profile, make_role, unique
from test_codebuild import context, environment, log_text, phases, run

from labkit.services.iam import explain_denied

CODEBUILD = "codebuild.amazonaws.com"
CODEDEPLOY = "codedeploy.amazonaws.com"
BUILD_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
ONE_FILE = "version: 0.2\nphases:\n  build:\n    commands: [echo built > out.txt]\nartifacts:\n  files: [out.txt]\n"


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def project(aws, role: str, buildspec: str = ONE_FILE, **extra) -> str:
    name = unique("roles")
    aws("codebuild").create_project(
        name=name, serviceRole=role, environment=extra.pop("environment", environment()),
        source={"type": "NO_SOURCE", "buildspec": textwrap.dedent(buildspec)},
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}), **extra)
    return name


# --- CodeBuild -----------------------------------------------------------------------------------
def test_artifact_upload_needs_put_object_then_succeeds_once_allowed(aws):
    bucket = make_bucket(aws, versioned=False)
    role_name = unique("cb-no-put")
    role = make_role(aws, role_name, service=CODEBUILD, actions=BUILD_LOGS)
    name = project(aws, role, artifacts={"type": "S3", "location": bucket, "packaging": "ZIP",
                                          "name": "out.zip"})
    cb = aws("codebuild")
    build = run(cb, name)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert phases(build)["UPLOAD_ARTIFACTS"]["phaseStatus"] == "FAILED"
    found = context(build, "UPLOAD_ARTIFACTS")
    uuid_part = build["id"].split(":", 1)[1]
    assert found["statusCode"] == "CLIENT_ERROR"
    assert found["message"] == (
        f"AccessDenied: User: arn:aws:sts::123456789012:assumed-role/{role_name}/"
        f"AWSCodeBuild-{uuid_part} is not authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::{bucket}/out.zip because no identity-based policy allows the "
        "s3:PutObject action")
    explained = explain_denied(found)
    assert (explained.role, explained.action) == (role_name, "s3:PutObject")
    assert str(explained).startswith(
        f"role {role_name} lacks action s3:PutObject on resource arn:aws:s3:::{bucket}/out.zip")

    aws("iam").put_role_policy(RoleName=role_name, PolicyName="artifacts",
                               PolicyDocument=policy(explained.statement))
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED", context(build, "UPLOAD_ARTIFACTS")
    assert aws("s3").head_object(Bucket=bucket, Key="out.zip")["ContentLength"] > 0


def test_secret_and_parameter_reads_need_their_permissions(aws):
    tag = unique("vars")
    secret_arn = aws("secretsmanager").create_secret(Name=tag, SecretString="hush-123")["ARN"]
    aws("ssm").put_parameter(Name=f"/{tag}/level", Value="debug", Type="String")
    role_name = unique("cb-no-secrets")
    role = make_role(aws, role_name, service=CODEBUILD, actions=BUILD_LOGS)
    spec = f"version: 0.2\nenv:\n  secrets-manager:\n    TOKEN: {tag}\nphases:\n  build:\n    commands: [echo never]\n"
    build = run(aws("codebuild"), project(aws, role, spec))
    assert phases(build)["DOWNLOAD_SOURCE"]["phaseStatus"] == "FAILED"
    found = context(build, "DOWNLOAD_SOURCE")
    assert found["statusCode"] == "Secrets Manager Error"
    assert found["message"].startswith("AccessDeniedException: User: arn:aws:sts::123456789012:"
                                       f"assumed-role/{role_name}/AWSCodeBuild-")
    # Policies name a secret by its full ARN (with the random suffix Secrets Manager adds).
    assert f"secretsmanager:GetSecretValue on resource: {secret_arn} " in found["message"]
    assert "INSTALL" not in phases(build)

    spec = f"version: 0.2\nenv:\n  parameter-store:\n    LEVEL: /{tag}/level\nphases:\n  build:\n    commands: [echo never]\n"
    build = run(aws("codebuild"), project(aws, role, spec))
    found = context(build, "DOWNLOAD_SOURCE")
    assert found["statusCode"] == "Decrypted Variables Error"
    assert (f"ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/{tag}/level"
            in found["message"])

    aws("iam").put_role_policy(RoleName=role_name, PolicyName="vars", PolicyDocument=policy(
        allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{tag}-*"),
        allow("ssm:GetParameters", f"arn:aws:ssm:us-east-1:123456789012:parameter/{tag}/*")))
    both = (f"version: 0.2\nenv:\n  parameter-store:\n    LEVEL: /{tag}/level\n  secrets-manager:\n"
            f"    TOKEN: {tag}\nphases:\n  build:\n    commands: ['test \"$TOKEN\" = hush-123']\n")
    assert run(aws("codebuild"), project(aws, role, both))["buildStatus"] == "SUCCEEDED"


def test_s3_source_needs_get_object(aws):
    bucket = make_bucket(aws, versioned=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("buildspec.yml", "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n")
    aws("s3").put_object(Bucket=bucket, Key="src.zip", Body=buffer.getvalue())
    role = make_role(aws, service=CODEBUILD, actions=BUILD_LOGS)
    name = unique("roles-s3")
    aws("codebuild").create_project(name=name, serviceRole=role, environment=environment(),
                                    source={"type": "S3", "location": f"{bucket}/src.zip"},
                                    artifacts={"type": "NO_ARTIFACTS"})
    build = run(aws("codebuild"), name)
    found = context(build, "DOWNLOAD_SOURCE")
    assert found["statusCode"] == "CLIENT_ERROR"
    assert f"s3:GetObject on resource: arn:aws:s3:::{bucket}/src.zip" in found["message"]


def test_codecommit_source_needs_git_pull(aws):
    repo = unique("roles-repo")
    cc = aws("codecommit")
    cc.create_repository(repositoryName=repo)
    cc.put_file(repositoryName=repo, branchName="main", filePath="buildspec.yml",
                fileContent=b"version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n")
    url = cc.get_repository(repositoryName=repo)["repositoryMetadata"]["cloneUrlHttp"]
    role_name = unique("cb-no-pull")
    role = make_role(aws, role_name, service=CODEBUILD, actions=BUILD_LOGS)
    name = unique("roles-cc")
    aws("codebuild").create_project(name=name, serviceRole=role, environment=environment(),
                                    source={"type": "CODECOMMIT", "location": url},
                                    artifacts={"type": "NO_ARTIFACTS"})
    build = run(aws("codebuild"), name)
    found = context(build, "DOWNLOAD_SOURCE")
    assert found["statusCode"] == "CLIENT_ERROR"
    assert (f"codecommit:GitPull on resource: arn:aws:codecommit:us-east-1:123456789012:{repo}"
            in found["message"])
    aws("iam").put_role_policy(RoleName=role_name, PolicyName="pull", PolicyDocument=policy(
        allow("codecommit:GitPull", f"arn:aws:codecommit:us-east-1:123456789012:{repo}")))
    assert run(aws("codebuild"), name)["buildStatus"] == "SUCCEEDED"


def test_a_role_that_cannot_log_fails_the_build_in_queued(aws):
    role_name = unique("cb-no-logs")
    role = make_role(aws, role_name, service=CODEBUILD, actions=["s3:*"])
    name = project(aws, role, "version: 0.2\nphases:\n  build:\n    commands: [echo never]\n")
    build = run(aws("codebuild"), name)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["QUEUED"]["phaseStatus"] == "FAILED"
    assert "BUILD" not in phases(build)
    found = context(build, "QUEUED")
    assert found["statusCode"] == "ACCESS_DENIED"
    assert found["message"].startswith(
        f"Service role {role} does not allow AWS CodeBuild to create Amazon CloudWatch Logs log "
        f"streams for build {build['arn']}. Error message: User: ")
    assert "logs:CreateLogGroup" in found["message"] or "logs:CreateLogStream" in found["message"]


def test_reports_need_report_group_permissions(aws):
    role = make_role(aws, service=CODEBUILD, actions=BUILD_LOGS)
    spec = """\
        version: 0.2
        phases:
          build:
            commands:
              - echo '<testsuite name="s"><testcase name="t" classname="c"/></testsuite>' > r.xml
        reports:
          unit:
            files: [r.xml]
        """
    name = project(aws, role, spec)
    build = run(aws("codebuild"), name)
    assert phases(build)["UPLOAD_ARTIFACTS"]["phaseStatus"] == "FAILED"
    found = context(build, "UPLOAD_ARTIFACTS")
    assert found["statusCode"] == "CLIENT_ERROR"
    assert found["message"].startswith("AccessDeniedException: User: ")
    assert (f"codebuild:CreateReportGroup on resource: arn:aws:codebuild:us-east-1:123456789012:"
            f"report-group/{name}-unit" in found["message"])


def test_explicit_deny_beats_the_allow_in_a_build(aws):
    bucket = make_bucket(aws, versioned=False)
    role_name = unique("cb-deny")
    role = make_role(aws, role_name, service=CODEBUILD)  # s3:* among others
    aws("iam").put_role_policy(RoleName=role_name, PolicyName="no-artifacts", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    name = project(aws, role, artifacts={"type": "S3", "location": bucket, "packaging": "ZIP",
                                          "name": "out.zip"})
    build = run(aws("codebuild"), name)
    message = context(build, "UPLOAD_ARTIFACTS")["message"]
    assert message.endswith("with an explicit deny in an identity-based policy")
    assert explain_denied(message).explicit_deny


def test_a_role_deleted_after_the_project_fails_the_next_build(aws):
    role_name = unique("cb-gone")
    role = make_role(aws, role_name, service=CODEBUILD)
    name = project(aws, role, "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n")
    iam = aws("iam")
    iam.delete_role_policy(RoleName=role_name, PolicyName="service-access")
    iam.delete_role(RoleName=role_name)
    build = run(aws("codebuild"), name)
    assert build["buildStatus"] == "FAILED"
    assert context(build, "QUEUED") == {
        "statusCode": "ACCESS_DENIED",
        "message": f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"}


def test_the_course_codebuild_policy_is_enough_for_a_build(aws):
    """A least-privilege policy, scoped to the project's own log group and bucket, runs a build."""
    bucket = make_bucket(aws, versioned=False)
    role_name = unique("cb-least")
    role = make_role(aws, role_name, service=CODEBUILD, actions=[])
    name = unique("least")
    logs = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/{name}:*"
    aws("iam").put_role_policy(RoleName=role_name, PolicyName="least", PolicyDocument=policy(
        allow(BUILD_LOGS, logs), allow(["s3:PutObject"], f"arn:aws:s3:::{bucket}/*")))
    aws("codebuild").create_project(
        name=name, serviceRole=role, environment=environment(),
        source={"type": "NO_SOURCE", "buildspec": ONE_FILE},
        artifacts={"type": "S3", "location": bucket, "packaging": "ZIP", "name": "o.zip"})
    build = run(aws("codebuild"), name)
    assert build["buildStatus"] == "SUCCEEDED"
    assert "Running command echo built > out.txt" in log_text(aws, build)


# --- CodeDeploy ----------------------------------------------------------------------------------
def tiny_revision(aws) -> dict:
    bucket = make_bucket(aws, versioned=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        text = b"version: 0.0\nos: linux\n"
        member = tarfile.TarInfo("appspec.yml")
        member.size = len(text)
        archive.addfile(member, io.BytesIO(text))
    aws("s3").put_object(Bucket=bucket, Key="rev.tgz", Body=buffer.getvalue())
    return {"revisionType": "S3", "s3Location": {"bucket": bucket, "key": "rev.tgz",
                                                 "bundleType": "tgz"}}


@pytest.mark.parametrize("principal", [CODEDEPLOY, [CODEDEPLOY, "ec2.amazonaws.com"]])
def test_deployment_group_role_must_trust_codedeploy(aws, principal):
    cd = aws("codedeploy")
    app = unique("roles-app")
    cd.create_application(applicationName=app)
    wrong = make_role(aws, service=CODEBUILD)
    with pytest.raises(cd.exceptions.InvalidRoleException):
        cd.create_deployment_group(applicationName=app, deploymentGroupName="g", serviceRoleArn=wrong)
    name = unique("cd-trust")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}
    right = aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    cd.create_deployment_group(applicationName=app, deploymentGroupName="g", serviceRoleArn=right)
    assert cd.get_deployment_group(applicationName=app, deploymentGroupName="g")[
        "deploymentGroupInfo"]["serviceRoleArn"] == right


def test_deployment_role_without_describe_instances_fails_the_deployment(aws, emulator):
    fleet = Fleet(aws, emulator, 1)
    try:
        role = make_role(aws, service=CODEDEPLOY, actions=["tag:GetResources"])
        fleet.create_group(role)
        deployment = fleet.deploy_and_wait(tiny_revision(aws))
        assert deployment["status"] == "Failed"
        assert deployment["errorInformation"]["code"] == "IAM_ROLE_PERMISSIONS"
        assert deployment["errorInformation"]["message"].startswith(
            f"The IAM role {role} does not give you permission to perform operations in the "
            "following AWS service: AmazonEC2.")
        assert explain_denied(deployment["errorInformation"]).action == "ec2:DescribeInstances"
    finally:
        fleet.terminate()


def test_download_bundle_needs_the_instance_profile_to_read_the_revision(aws, emulator):
    revision = tiny_revision(aws)
    role = make_role(aws, service=CODEDEPLOY)
    bare = Fleet(aws, emulator, 1, profile=None)
    profile = make_instance_profile(aws, actions=("ec2:DescribeTags",))
    no_s3 = Fleet(aws, emulator, 1, profile=profile)
    try:
        for fleet, words in ((bare, "Missing credentials - please check if this instance was "
                                    "started with an IAM instance profile"),
                             (no_s3, f"assumed-role/{profile}/{no_s3.ids[0]} is not authorized to "
                                     "perform: s3:GetObject on resource: arn:aws:s3:::")):
            fleet.create_group(role)
            deployment = fleet.deploy_and_wait(revision)
            assert deployment["status"] == "Failed"
            events = events_of(fleet.targets(deployment["deploymentId"])[fleet.ids[0]])
            assert events["DownloadBundle"]["status"] == "Failed"
            assert words in events["DownloadBundle"]["diagnostics"]["message"]
            assert events["BeforeInstall"]["status"] == "Skipped"
        aws("iam").put_role_policy(RoleName=profile, PolicyName="revisions", PolicyDocument=policy(
            allow("s3:GetObject", f"arn:aws:s3:::{revision['s3Location']['bucket']}/*")))
        assert no_s3.deploy_and_wait(revision)["status"] == "Succeeded"
    finally:
        bare.terminate()
        no_s3.terminate()


def test_every_instance_of_one_launch_gets_the_profile(aws, emulator):
    """moto associates a RunInstances profile with the first instance only; labkit reads it for all."""
    fleet = Fleet(aws, emulator, 2)
    try:
        fleet.create_group(make_role(aws, service=CODEDEPLOY),
                           deploymentConfigName="CodeDeployDefault.AllAtOnce")
        assert fleet.deploy_and_wait(tiny_revision(aws))["status"] == "Succeeded"
    finally:
        fleet.terminate()


# --- explain_denied ------------------------------------------------------------------------------
def test_explain_denied_reads_client_errors_and_refuses_other_text():
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": (
        "User: arn:aws:sts::123456789012:assumed-role/events-role/abc is not authorized to "
        "perform: codepipeline:StartPipelineExecution on resource: "
        "arn:aws:codepipeline:us-east-1:123456789012:my-pipeline because no identity-based "
        "policy allows the codepipeline:StartPipelineExecution action")}}, "StartPipelineExecution")
    explained = explain_denied(error)
    assert explained.role == "events-role"
    assert explained.statement == {
        "Effect": "Allow", "Action": "codepipeline:StartPipelineExecution",
        "Resource": "arn:aws:codepipeline:us-east-1:123456789012:my-pipeline"}
    with pytest.raises(ValueError, match="not an AccessDenied message"):
        explain_denied("exit status 1")


# --- enforcement off -------------------------------------------------------------------------------
def test_enforce_iam_false_in_labkit_toml_lets_everything_through(tmp_path, monkeypatch):
    """`enforce_iam = false` in labkit.toml reaches the emulator process (on an emulator of its own)."""
    import boto3
    from botocore.config import Config
    from conftest import free_port

    from labkit import emulator_control

    monkeypatch.delenv("LABKIT_ENFORCE_IAM", raising=False)
    config = tmp_path / "labkit.toml"
    config.write_text("[labkit]\nenforce_iam = false\n")
    monkeypatch.setenv("LABKIT_CONFIG", str(config))
    state = tmp_path / "state"
    info = emulator_control.start(state, free_port())

    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=info.url,
                            config=Config(retries={"max_attempts": 1}))

    fleet = None
    try:
        bucket = make_bucket(client, versioned=False)
        role = make_role(client, service=CODEBUILD, actions=[])  # no policy at all
        name = project(client, role, artifacts={"type": "S3", "location": bucket,
                                                 "packaging": "ZIP", "name": "out.zip"})
        assert run(client("codebuild"), name)["buildStatus"] == "SUCCEEDED"

        fleet = Fleet(client, info, 1, profile=None)  # no instance profile either
        fleet.create_group(make_role(client, service=CODEDEPLOY, actions=[]))
        assert fleet.deploy_and_wait(tiny_revision(client))["status"] == "Succeeded"
    finally:
        if fleet is not None:
            fleet.terminate()
        emulator_control.stop(state)


def test_a_malformed_policy_is_refused_when_it_is_put(aws):
    """IAM refuses a policy it cannot read at put time, so no role carries one the engines misread."""
    name = unique("malformed")
    make_role(aws, name, service=CODEBUILD, actions=[])
    iam = aws("iam")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(RoleName=name, PolicyName="bad", PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject"}))  # no Resource
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []


def test_the_course_roles_deploy_with_their_least_privilege_policies(aws, emulator):
    """The course's CodeDeploy role and its hosts' instance profile (AWS managed policies) suffice."""
    from bundles import wait_for_deployment
    from course_helpers import lab_on, terminate_lab_instances

    from labkit.names import course_names
    from labkit.services import hosts as host_helpers
    from labkit.services.iam import codedeploy_policy, ensure_service_role

    with lab_on(emulator) as lab:
        try:
            names = course_names(lab)
            host_helpers.launch_instances(lab, 2, timeout=30)  # one launch, one profile for both
            role = ensure_service_role(lab, names.codedeploy_role, CODEDEPLOY,
                                       codedeploy_policy(names), "deploys the sample app")
            cd = lab.client("codedeploy")
            app = lab.name("roles")
            cd.create_application(applicationName=app)
            cd.create_deployment_group(
                applicationName=app, deploymentGroupName="g", serviceRoleArn=role,
                deploymentConfigName="CodeDeployDefault.AllAtOnce",
                ec2TagFilters=[{"Key": "Name", "Value": lab.name("app"), "Type": "KEY_AND_VALUE"}])
            deployment_id = cd.create_deployment(applicationName=app, deploymentGroupName="g",
                                                 revision=tiny_revision(aws))["deploymentId"]
            deployment = wait_for_deployment(cd, deployment_id)
            assert deployment["status"] == "Succeeded", deployment.get("errorInformation")
            assert deployment["deploymentOverview"]["Succeeded"] == 2
        finally:
            terminate_lab_instances(lab)


def test_trigger_notifications_need_sns_publish_on_their_topic(aws, emulator):
    sns, sqs = aws("sns"), aws("sqs")
    queues = {}
    for label in ("allowed", "denied"):
        topic = sns.create_topic(Name=unique(f"cd-{label}"))["TopicArn"]
        queue = sqs.create_queue(QueueName=unique(f"cd-{label}"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        queues[label] = (topic, queue)
    role = make_role(aws, service=CODEDEPLOY, actions=["ec2:Describe*", "tag:GetResources"])
    name = role.rsplit("/", 1)[1]
    aws("iam").put_role_policy(RoleName=name, PolicyName="notify", PolicyDocument=policy(
        allow("sns:Publish", queues["allowed"][0])))
    fleet = Fleet(aws, emulator, 1)
    try:
        fleet.create_group(role, triggerConfigurations=[
            {"triggerName": label, "triggerTargetArn": topic,
             "triggerEvents": ["DeploymentStart", "DeploymentSuccess"]}
            for label, (topic, _queue) in queues.items()])
        assert fleet.deploy_and_wait(tiny_revision(aws))["status"] == "Succeeded"
        got = []

        def both_arrived():
            got.extend(sqs.receive_message(QueueUrl=queues["allowed"][1], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []))
            return len(got) >= 2

        wait_until(both_arrived, 30, "the allowed topic's two notifications")
        # Both triggers fire at the same moments: the allowed one has delivered, the other never will.
        assert sqs.receive_message(QueueUrl=queues["denied"][1], MaxNumberOfMessages=10).get("Messages") is None
    finally:
        fleet.terminate()


def test_copying_the_auto_scaling_group_needs_pass_role_for_its_instance_profile(aws, emulator):
    ec2, scaling, cd = aws("ec2"), aws("autoscaling"), aws("codedeploy")
    profile = make_instance_profile(aws)
    name = unique("roles-asg")
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": profile}})
    scaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, MaxSize=1, DesiredCapacity=1,
                                      LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
                                      AvailabilityZones=["us-east-1a"])
    balancer = Balancer(aws, emulator, delay=0)
    role = make_role(aws, service=CODEDEPLOY, actions=[
        "ec2:*", "autoscaling:*", "elasticloadbalancing:*", "tag:GetResources"])
    app = unique("roles-bg")
    cd.create_application(applicationName=app)
    try:
        cd.create_deployment_group(
            applicationName=app, deploymentGroupName="bg", serviceRoleArn=role, autoScalingGroups=[name],
            loadBalancerInfo={"targetGroupInfoList": [{"name": f"tg-{balancer.name}"}]},
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                              "terminationWaitTimeInMinutes": 0}})
        deployment_id = cd.create_deployment(applicationName=app, deploymentGroupName="bg",
                                             revision=tiny_revision(aws))["deploymentId"]
        done = wait_for_deployment(cd, deployment_id)
        assert done["status"] == "Failed"
        assert done["errorInformation"]["code"] == "IAM_ROLE_PERMISSIONS"
        denied = explain_denied(done["errorInformation"])
        assert denied.action == "iam:PassRole" and profile in denied.resource
        groups = [g["AutoScalingGroupName"] for g in scaling.describe_auto_scaling_groups()["AutoScalingGroups"]]
        assert not any(g.startswith("CodeDeploy_bg_") for g in groups), "no green group was made"
    finally:
        scaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        balancer.delete()
