"""Teardown on the emulator: the whole course's resources are found, deleted and proven gone,
processes on local hosts end, look-alikes outside the lab survive, and a second run is a no-op."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from bundles import s3_revision, tgz_files, wait_for_deployment, wait_until
from pipeline_helpers import approval, declaration, s3_source, zip_bytes

import labkit
from labkit import emulator_control, ledger
from labkit.names import course_names
from labkit.services import hosts as host_helpers
from labkit.teardown import find_lab_resources, teardown

REPO_ROOT = Path(__file__).resolve().parent.parent


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def connect(emulator):
    """`connect(prefix)` → a Lab on the session's emulator; os.environ is restored after."""
    saved = dict(os.environ)

    def make(prefix: str):
        os.environ["LABKIT_STATE_DIR"] = str(emulator.state_dir)
        # The region is explicit: an earlier test may have changed AWS_DEFAULT_REGION.
        return labkit.connect(backend="local", prefix=prefix, port=emulator.port,
                              state_dir=emulator.state_dir, region="us-east-1")

    yield make
    os.environ.clear()
    os.environ.update(saved)


def cli_env(emulator) -> dict:
    """The environment for `labkit ...` in a subprocess, on the session's emulator."""
    return {**os.environ, "LABKIT_STATE_DIR": str(emulator.state_dir), "LABKIT_REGION": "us-east-1",
            "LABKIT_PORT": str(emulator.port), "LABKIT_BACKEND": "local"}


def new_prefix() -> str:
    return f"td{uuid.uuid4().hex[:6]}"


# --- building the course's resources ------------------------------------------------------

HOOK = ("#!/bin/bash\n# Starts the 'service' in the background, as the sample app's start script does.\n"
        "cd \"$LABKIT_HOST_ROOT/srv/app\"\nnohup sleep 600 >/dev/null 2>&1 &\n")
APPSPEC = """version: 0.0
os: linux
files:
  - source: /payload
    destination: /srv/app
hooks:
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
"""
BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - mkdir -p reports
      - echo '<testsuite name="unit" tests="1"><testcase classname="a" name="b"/></testsuite>' > reports/junit.xml
reports:
  unit:
    files: [reports/junit.xml]
"""
STACK = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}


def build_course(lab) -> dict:
    """Everything the course makes, each kind at least once, tagged and named as labkit does:
    chapters 01-04 through the course's own catch-up (repository with the sample app, artifact
    bucket, parameter, service roles, build project, three hosts, CodeDeploy application and
    group), the rest directly with boto3 as the later chapters' cells do."""
    lab.ensure("04")
    names = course_names(lab)
    tags_list, tags_dict = lab.tags.as_list(), lab.tags.as_dict()
    made: dict = {"course": names}
    iam, s3 = lab.client("iam"), lab.client("s3")

    roles = {}
    for suffix, service in (("pipeline-role", "codepipeline.amazonaws.com"),
                            ("build-role", "codebuild.amazonaws.com"),
                            ("deploy-role", "codedeploy.amazonaws.com")):
        roles[suffix] = iam.create_role(RoleName=lab.name(suffix), AssumeRolePolicyDocument=trust(
            service), Tags=tags_list)["Role"]["Arn"]
        # The engines act with their role's permissions; these test roles may do anything.
        iam.put_role_policy(RoleName=lab.name(suffix), PolicyName="everything", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    policy = iam.create_policy(PolicyName=lab.name("artifacts"), Tags=tags_list, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=lab.name("build-role"), PolicyArn=policy["Policy"]["Arn"])
    iam.put_role_policy(RoleName=lab.name("pipeline-role"), PolicyName="inline",
                        PolicyDocument=policy_doc())
    # The course makes users to approve pull requests, with access keys and policies.
    iam.create_user(UserName=lab.name("reviewer"), Tags=tags_list)
    iam.create_access_key(UserName=lab.name("reviewer"))
    iam.put_user_policy(UserName=lab.name("reviewer"), PolicyName="approve", PolicyDocument=policy_doc())
    iam.attach_user_policy(UserName=lab.name("reviewer"), PolicyArn=policy["Policy"]["Arn"])
    iam.create_instance_profile(InstanceProfileName=lab.name("web-profile"), Tags=tags_list)
    iam.add_role_to_instance_profile(InstanceProfileName=lab.name("web-profile"),
                                     RoleName=lab.name("deploy-role"))

    bucket = lab.name("artifacts")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags_list})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="notes.txt", Body=body)
    s3.delete_object(Bucket=bucket, Key="notes.txt")  # leaves a delete marker
    s3.put_object(Bucket=bucket, Key="source.zip", Body=zip_bytes({"index.html": "hi"}))
    made["bucket"] = bucket

    cc = lab.client("codecommit")
    cc.create_repository(repositoryName=lab.name("app"), tags=tags_dict)
    cc.put_file(repositoryName=lab.name("app"), branchName="main", fileContent=b"hello\n",
                filePath="README.md")
    template = lab.name("two-reviewers")
    ledger.record(lab, "codecommit", "codecommit approval rule template", template)
    cc.create_approval_rule_template(approvalRuleTemplateName=template, approvalRuleTemplateContent=json.dumps({
        "Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 2}]}))
    cc.associate_approval_rule_template_with_repository(approvalRuleTemplateName=template,
                                                        repositoryName=lab.name("app"))

    cb = lab.client("codebuild")
    cb.create_project(name=lab.name("build"), source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
                      artifacts={"type": "NO_ARTIFACTS"}, serviceRole=roles["build-role"],
                      environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                   "computeType": "BUILD_GENERAL1_SMALL"},
                      tags=lab.tags.as_list("key", "value"))
    build_id = cb.start_build(projectName=lab.name("build"))["build"]["id"]
    wait_until(lambda: cb.batch_get_builds(ids=[build_id])["builds"][0]["buildStatus"] != "IN_PROGRESS",
               120, "the build to finish")

    ec2 = lab.client("ec2")
    made["instances"] = [h["instanceId"] for h in host_helpers.hosts(lab)
                         if h["tags"].get("Name") == names.hosts_tag]
    assert len(made["instances"]) == 3
    cd = lab.client("codedeploy")
    cd.create_application(applicationName=lab.name("app"), tags=tags_list)
    config = lab.name("two-at-a-time")
    ledger.record(lab, "codedeploy", "codedeploy deployment config", config)
    cd.create_deployment_config(deploymentConfigName=config, minimumHealthyHosts={
        "type": "HOST_COUNT", "value": 0})
    cd.create_deployment_group(applicationName=lab.name("app"), deploymentGroupName=lab.name("dev"),
                               serviceRoleArn=roles["deploy-role"], deploymentConfigName=config,
                               ec2TagFilters=[{"Key": "Name", "Value": names.hosts_tag,
                                               "Type": "KEY_AND_VALUE"}], tags=tags_list)
    revision = s3_revision(s3, bucket, "rev/app.tgz", tgz_files({
        "appspec.yml": (APPSPEC, 0o644), "payload/index.html": ("hi\n", 0o644),
        "scripts/start.sh": (HOOK, 0o755)}), "tgz")
    deployment = cd.create_deployment(applicationName=lab.name("app"), revision=revision,
                                      deploymentGroupName=lab.name("dev"))["deploymentId"]
    assert wait_for_deployment(cd, deployment)["status"] == "Succeeded"

    cp = lab.client("codepipeline")
    topic = lab.client("sns").create_topic(Name=lab.name("approvals"), Tags=tags_list)["TopicArn"]
    cp.create_pipeline(pipeline=declaration(lab.name("pipeline"), roles["pipeline-role"], bucket, [
        ("Source", [s3_source(bucket)]), ("Approve", [approval(topic=topic)])]), tags=[
        {"key": k, "value": v} for k, v in tags_dict.items()])

    sqs = lab.client("sqs")
    queue = sqs.create_queue(QueueName=lab.name("approvals"), tags=tags_dict)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    lab.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    ssm = lab.client("ssm")
    ssm.put_parameter(Name=f"/{lab.prefix}/db-url", Value="db://x", Type="String", Tags=tags_list)
    ssm.put_parameter(Name=lab.name("api-key"), Value="not-a-secret", Type="SecureString")
    lab.client("secretsmanager").create_secret(Name=f"{lab.prefix}/db-password",
                                               SecretString="s3cr3t-value", Tags=tags_list)

    cw = lab.client("cloudwatch")
    cw.put_metric_alarm(AlarmName=lab.name("failed-builds"), MetricName="FailedBuilds",
                        Namespace="AWS/CodeBuild", Statistic="Sum", Period=60, EvaluationPeriods=1,
                        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        AlarmActions=[topic], Tags=tags_list)
    ledger.record(lab, "cloudwatch", "cloudwatch dashboard", lab.name("dashboard"))
    cw.put_dashboard(DashboardName=lab.name("dashboard"), DashboardBody=json.dumps({"widgets": []}))
    lab.client("logs").create_log_group(logGroupName=f"/{lab.prefix}/app", tags=tags_dict)
    events = lab.client("events")
    events.put_rule(Name=lab.name("on-push"), EventPattern=json.dumps({"source": ["aws.codecommit"]}),
                    Tags=tags_list)
    events.put_targets(Rule=lab.name("on-push"), Targets=[{"Id": "notify", "Arn": topic}])

    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    host_helpers.ensure_app_security_group(lab)
    ec2.create_launch_template(LaunchTemplateName=lab.name("web"), LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}, TagSpecifications=[
        {"ResourceType": "launch-template", "Tags": tags_list}])
    elb = lab.client("elbv2")
    balancer = elb.create_load_balancer(Name=lab.name("alb"), Subnets=subnets, Tags=tags_list)[
        "LoadBalancers"][0]["LoadBalancerArn"]
    group = elb.create_target_group(Name=lab.name("web"), Protocol="HTTP", Port=3000, VpcId=vpc,
                                    Tags=tags_list)["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": group}])
    made["balancer"] = balancer
    asg = lab.client("autoscaling")
    ledger.record(lab, "autoscaling", "autoscaling launch configuration", lab.name("web-lc"))
    asg.create_launch_configuration(LaunchConfigurationName=lab.name("web-lc"),
                                    ImageId="ami-12c6146b", InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName=lab.name("web"), MinSize=0, MaxSize=1,
                                  DesiredCapacity=0, LaunchConfigurationName=lab.name("web-lc"),
                                  AvailabilityZones=[f"{lab.region}a"], Tags=[
                                      {"Key": k, "Value": v, "PropagateAtLaunch": True,
                                       "ResourceId": lab.name("web"), "ResourceType": "auto-scaling-group"}
                                      for k, v in tags_dict.items()])
    lab.client("cloudformation").create_stack(StackName=lab.name("stack"),
                                              TemplateBody=json.dumps(STACK), Tags=tags_list)
    budget = lab.name("monthly")
    ledger.record(lab, "budgets", "budgets budget", budget)
    lab.client("budgets").create_budget(AccountId=lab.account_id, Budget={
        "BudgetName": budget, "BudgetLimit": {"Amount": "10", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST"})
    return made


def policy_doc() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"}]})


def build_look_alikes(lab, other: str) -> dict:
    """Resources outside the lab: a prefix without the hyphen, the prefix in the middle, and a
    name in the lab's pattern that carries another lab's tag. None of them may be touched."""
    near = f"{lab.prefix}x"
    foreign_tags = [{"Key": "labkit:lab", "Value": other}, {"Key": "labkit:created-by", "Value": "labkit"}]
    s3, iam = lab.client("s3"), lab.client("iam")
    s3.create_bucket(Bucket=f"{near}-bucket")
    s3.create_bucket(Bucket=f"keep-{lab.prefix}-bucket")
    s3.create_bucket(Bucket=f"{other}-bucket")
    s3.put_bucket_tagging(Bucket=f"{other}-bucket", Tagging={"TagSet": foreign_tags})
    iam.create_role(RoleName=f"{near}-role", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    iam.create_role(RoleName=f"{other}-role", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"),
                    Tags=foreign_tags)
    lab.client("codecommit").create_repository(repositoryName=f"{near}-app")
    lab.client("sns").create_topic(Name=f"{near}-topic")
    lab.client("ssm").put_parameter(Name=f"/{near}/param", Value="v", Type="String")
    lab.client("secretsmanager").create_secret(Name=f"{near}-secret", SecretString="v")
    lab.client("logs").create_log_group(logGroupName=f"/aws/codebuild/{near}-build")
    instance = lab.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=[{
            "ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"{near}-web"}]}])[
        "Instances"][0]["InstanceId"]
    return {"near": near, "other": other, "instance": instance,
            "buckets": {f"{near}-bucket", f"keep-{lab.prefix}-bucket", f"{other}-bucket"},
            "roles": {f"{near}-role", f"{other}-role"}}


def listener_ports(emulator, balancer_arn: str) -> list[int]:
    with urllib.request.urlopen(f"{emulator.url}/_labkit/load-balancers", timeout=10) as answer:
        return [b["port"] for b in json.load(answer)["loadBalancers"]
                if b["loadBalancerArn"] == balancer_arn]


def processes_in(folder: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(folder)):
            found.append(f"{proc.info['pid']} {proc.info['name']} in {cwd}")
    return found


# --- the tests -----------------------------------------------------------------------------

def test_teardown_removes_the_whole_course_and_nothing_else(connect, emulator):
    lab = connect(new_prefix())
    made = build_course(lab)
    looks = build_look_alikes(lab, other=f"{lab.prefix}-b")
    instance = made["instances"][0]
    host_root = emulator.state_dir / "hosts" / instance
    wait_until(lambda: processes_in(host_root), 30, "the deployed service to run on its host")
    # The emulator serves the listener on a loopback port of its own.
    proxy_ports = wait_until(lambda: listener_ports(emulator, made["balancer"]), 30,
                             "the load balancer's listener to be served")
    assert (emulator.state_dir / "codebuild" / lab.name("build")).is_dir()
    assert (emulator.state_dir / "git" / f"{lab.name('app')}.git").is_dir()

    # A dry run shows the same rows, changes nothing.
    found = find_lab_resources(lab)[0]
    before = sorted(r.label for r in found)
    dry = teardown(lab, dry_run=True)
    assert {r.action for r in dry.rows} == {"would delete"} and len(dry.rows) == len(before)
    assert sorted(r.label for r in find_lab_resources(lab)[0]) == before
    assert {r.kind for r in found} == {
        "cloudformation stack", "codepipeline pipeline", "codedeploy deployment group",
        "codedeploy application", "codedeploy deployment config", "codebuild project",
        "codebuild report group", "codecommit approval rule template", "codecommit repository",
        "autoscaling group", "elbv2 listener", "elbv2 load balancer", "elbv2 target group",
        "ec2 instance", "local host", "ec2 launch template", "autoscaling launch configuration",
        "ec2 security group", "events rule", "cloudwatch alarm", "cloudwatch dashboard",
        "sns subscription", "sns topic", "sqs queue", "ssm parameter", "secretsmanager secret",
        "logs log group", "iam instance profile", "iam role", "iam policy", "iam access key",
        "iam user", "s3 bucket", "local build dir", "local git repo", "budgets budget"}
    names = {r.name for r in found}
    assert not {n for n in names if looks["near"] in n or n.startswith(f"{looks['other']}-")}
    assert processes_in(host_root), "a dry run ends nothing"

    report = teardown(lab)
    print(report.table())
    assert report.ok, report.summary() + "\n" + report.table()
    assert {r.action for r in report.rows} == {"delete"}
    assert {r.result for r in report.rows} <= {"deleted", "already gone"}
    assert report.leftovers == []
    assert not processes_in(host_root) and not host_root.exists()
    assert not (emulator.state_dir / "codebuild" / lab.name("build")).exists()
    assert not (emulator.state_dir / "git" / f"{lab.name('app')}.git").exists()
    assert not ledger.entries(lab), "a clean teardown forgets the ledger"
    assert listener_ports(emulator, made["balancer"]) == []
    assert all(emulator_control.port_is_free(port) for port in proxy_ports), "no stray ports"

    # Look-alikes are all still there, their host still backed.
    names = {b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]}
    assert looks["buckets"] <= names
    roles = {r["RoleName"] for page in lab.client("iam").get_paginator("list_roles").paginate()
             for r in page["Roles"]}  # the whole suite makes more roles than one page holds
    assert looks["roles"] <= roles
    assert (emulator.state_dir / "hosts" / looks["instance"]).is_dir()
    assert looks["instance"] in {h["instanceId"] for h in host_helpers.hosts(lab)}

    # Running it again is safe and finds nothing.
    again = teardown(lab)
    assert again.ok and again.rows == []
    assert again.table() == f"Nothing of lab {lab.prefix!r} found."

    # The look-alikes belong to two other labs; each teardown takes only its own.
    near = teardown(lab, prefix=looks["near"])
    assert near.ok, near.table()
    assert {b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]} >= {
        f"keep-{lab.prefix}-bucket", f"{looks['other']}-bucket"}
    other = teardown(lab, prefix=looks["other"])
    assert other.ok and [r.resource for r in other.rows] == [
        f"iam role {looks['other']}-role", f"s3 bucket {looks['other']}-bucket"]
    lab.client("s3").delete_bucket(Bucket=f"keep-{lab.prefix}-bucket")


def test_cli_teardown_after_an_interrupted_run_finishes_the_job(connect, emulator):
    lab = connect(new_prefix())
    iam, s3 = lab.client("iam"), lab.client("s3")
    for n in range(3):
        iam.create_role(RoleName=lab.name(f"role-{n}"), AssumeRolePolicyDocument=trust(
            "codebuild.amazonaws.com"), Tags=lab.tags.as_list())
        iam.put_role_policy(RoleName=lab.name(f"role-{n}"), PolicyName="p", PolicyDocument=policy_doc())
    s3.create_bucket(Bucket=lab.name("bucket"))
    for n in range(50):
        s3.put_object(Bucket=lab.name("bucket"), Key=f"k{n}", Body=b"x")
    lab.client("sns").create_topic(Name=lab.name("topic"))
    env = cli_env(emulator)
    command = [sys.executable, "-m", "labkit", "teardown", "--prefix", lab.prefix, "--yes"]
    # Interrupt a run part-way (as Ctrl-C or a closed laptop would), by its pid.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or not _role_exists(iam, lab.name("role-0")),
                   120, "the first run to delete something")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing left" in done.stdout
    assert not find_lab_resources(lab)[0]
    dry = subprocess.run([*command[:-1], "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert dry.returncode == 0 and "Nothing of lab" in dry.stdout


def _role_exists(iam, name: str) -> bool:
    try:
        iam.get_role(RoleName=name)
        return True
    except iam.exceptions.NoSuchEntityException:
        return False


def test_cli_dry_run_shows_would_delete_and_changes_nothing(connect, emulator):
    lab = connect(new_prefix())
    lab.client("sns").create_topic(Name=lab.name("alerts"), Tags=lab.tags.as_list())
    env = cli_env(emulator)
    dry = subprocess.run([sys.executable, "-m", "labkit", "teardown", "--prefix", lab.prefix,
                          "--dry-run"], env=env, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert f"sns topic {lab.name('alerts')}" in dry.stdout and "would delete" in dry.stdout
    assert find_lab_resources(lab)[0], "the dry run deleted nothing"
    assert teardown(lab).ok


def test_reset_returns_an_emulator_to_empty(tmp_path):
    """`labkit emulator reset`, on an emulator of its own (the session's is shared)."""
    from conftest import free_port

    state_dir = tmp_path / "state"
    info = emulator_control.start(state_dir, free_port())
    saved = dict(os.environ)
    try:
        lab = labkit.connect(backend="local", prefix="resetlab", port=info.port, state_dir=state_dir,
                             region="us-east-1")
        lab.client("s3").create_bucket(Bucket=lab.name("bucket"))
        lab.client("codecommit").create_repository(repositoryName=lab.name("repo"))
        host_helpers.launch_instances(lab, 1)
        env = {**os.environ, "LABKIT_STATE_DIR": str(state_dir)}
        done = subprocess.run([sys.executable, "-m", "labkit", "emulator", "reset"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not find_lab_resources(lab)[0]
        assert host_helpers.hosts(lab) == []
        assert not any((state_dir / "git").iterdir()) and not any((state_dir / "hosts").iterdir())
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emulator_control.stop(state_dir)
    assert not processes_in(state_dir)


def test_what_cannot_be_deleted_is_listed_as_left_and_the_exit_code_says_so(connect, emulator):
    lab = connect(new_prefix())
    s3 = lab.client("s3")
    locked = lab.name("locked")
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket=locked, Key="evidence.txt", Body=b"x", ObjectLockLegalHoldStatus="ON")
    lab.client("sns").create_topic(Name=lab.name("alerts"))
    env = cli_env(emulator)
    done = subprocess.run([sys.executable, "-m", "labkit", "teardown", "--prefix", lab.prefix,
                           "--give-up-after", "1"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"sns topic {lab.name('alerts')}" in done.stdout
    assert "1 object version(s) could not be deleted, e.g. evidence.txt: AccessDenied" in done.stdout
    assert f"resource(s) left:\n  s3 bucket {locked}" in done.stdout
    # Once the legal hold is lifted, a second run finishes the job.
    version = s3.list_object_versions(Bucket=locked)["Versions"][0]["VersionId"]
    s3.put_object_legal_hold(Bucket=locked, Key="evidence.txt", VersionId=version,
                             LegalHold={"Status": "OFF"})
    assert teardown(lab).ok


def test_untaggable_things_the_helpers_make_are_in_the_ledger_and_torn_down(connect, emulator):
    from labkit.observe import dashboards

    lab = connect(new_prefix())
    logs = lab.client("logs")
    # Names that do not start with the prefix: only the ledger can say they are the lab's.
    dashboards.put_dashboard(lab, "course-overview-" + lab.prefix, [])
    policy = f"{lab.prefix}-events-to-logs"
    ledger.record(lab, "logs", "logs resource policy", policy)
    logs.put_resource_policy(policyName=policy, policyDocument=policy_doc())
    stranger = f"not-{lab.prefix}-policy"
    logs.put_resource_policy(policyName=stranger, policyDocument=policy_doc())
    try:
        kinds = {(r.kind, r.name) for r in find_lab_resources(lab)[0]}
        assert ("cloudwatch dashboard", "course-overview-" + lab.prefix) in kinds
        assert ("logs resource policy", policy) in kinds
        assert ("logs resource policy", stranger) not in kinds
        report = teardown(lab)
        assert report.ok, report.leftovers
        left = {p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]}
        assert policy not in left and stranger in left
        dashboards_left = lab.client("cloudwatch").list_dashboards()["DashboardEntries"]
        assert "course-overview-" + lab.prefix not in {d["DashboardName"] for d in dashboards_left}
    finally:
        logs.delete_resource_policy(policyName=stranger)
