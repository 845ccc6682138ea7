"""CodeDeploy deployments of small hand-made revisions: the agent's lifecycle, its errors and
diagnostics, install rules, batching edge cases, stop, and the bad-input cases."""

from __future__ import annotations

import os
import socket
import uuid

import psutil
import pytest
from botocore.exceptions import ClientError
from bundles import (
    Fleet,
    events_of,
    failed_event,
    s3_revision,
    tgz_files,
    wait_for_deployment,
    wait_until,
    zip_files,
)
from pipeline_helpers import make_role

APPSPEC = """version: 0.0
os: linux
files:
  - source: /payload
    destination: /srv/app
hooks:
{hooks}
"""
OK = "#!/bin/bash\necho \"$LIFECYCLE_EVENT ran for $DEPLOYMENT_ID on port $PORT\"\n"


def bundle(hooks: str = "", appspec: str | None = None, extra: dict | None = None) -> dict:
    files = {"payload/index.html": ("hello\n", 0o644), "scripts/ok.sh": (OK, 0o755)}
    if appspec is not False:
        files["appspec.yml"] = (appspec if appspec is not None else APPSPEC.format(hooks=hooks), 0o644)
    files.update(extra or {})
    return files


@pytest.fixture(scope="module")
def role_arn(aws):
    return make_role(aws, f"cd-deploy-{uuid.uuid4().hex[:6]}", service="codedeploy.amazonaws.com")


@pytest.fixture(scope="module")
def bucket(aws):
    name = f"cd-small-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def upload(aws, bucket):
    def put(files: dict, kind: str = "tgz") -> dict:
        data = tgz_files(files) if kind == "tgz" else zip_files(files)
        return s3_revision(aws("s3"), bucket, f"rev/{uuid.uuid4().hex}.{kind}", data, kind)
    return put


@pytest.fixture
def fleet(aws, emulator, role_arn):
    made: list[Fleet] = []

    def make(count: int = 1, **settings) -> Fleet:
        group = Fleet(aws, emulator, count)
        group.create_group(role_arn, **settings)
        made.append(group)
        return group

    yield make
    for group in made:
        group.terminate()


def test_lifecycle_order_variables_and_logs(aws, emulator, fleet, upload):
    hooks = "\n".join(f"  {e}:\n    - location: scripts/ok.sh\n      timeout: 30"
                      for e in ("ApplicationStop", "BeforeInstall", "AfterInstall",
                                "ApplicationStart", "ValidateService"))
    one = fleet(1)
    revision = upload(bundle(hooks))
    first = one.deploy_and_wait(revision)
    assert first["status"] == "Succeeded", first
    assert first["deploymentOverview"]["Succeeded"] == 1
    (target,) = one.targets(first["deploymentId"]).values()
    names = [e["lifecycleEventName"] for e in target["lifecycleEvents"]]
    assert names == ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop",
                     "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
                     "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    statuses = {e["lifecycleEventName"]: e["status"] for e in target["lifecycleEvents"]}
    assert statuses["ApplicationStop"] == "Skipped", "skipped on the instance's first deployment"
    assert statuses["AllowTraffic"] == "Skipped" and statuses["Install"] == "Succeeded"
    ran = [e for e in target["lifecycleEvents"] if e["status"] == "Succeeded"]
    assert [e["startTime"] for e in ran] == sorted(e["startTime"] for e in ran)
    assert target["targetArn"].endswith(f"instance/{one.ids[0]}")

    host = one.hosts()[one.ids[0]]
    root = emulator.state_dir / "hosts" / one.ids[0]
    assert (root / "srv/app/index.html").read_text() == "hello\n"
    group_id = aws("codedeploy").get_deployment_group(applicationName=one.app, deploymentGroupName="dev")[
        "deploymentGroupInfo"]["deploymentGroupId"]
    archive = root / "opt/codedeploy-agent/deployment-root" / group_id / first["deploymentId"] / "deployment-archive"
    assert (archive / "appspec.yml").is_file()
    log = (root / "opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log").read_text()
    assert f"[{first['deploymentId']}][stdout]AfterInstall ran for {first['deploymentId']} on port {host['port']}" in log
    scripts_log = (archive.parent / "logs" / "scripts.log").read_text()
    assert f"AfterInstall [stdout]AfterInstall ran for {first['deploymentId']}" in scripts_log

    # The second deployment runs ApplicationStop (from the last good revision) and, with the
    # default DISALLOW, is not stopped by the files the first one installed.
    second = one.deploy_and_wait(revision)
    assert second["status"] == "Succeeded", second
    assert second["previousRevision"] == first["revision"]
    (target,) = one.targets(second["deploymentId"]).values()
    assert events_of(target)["ApplicationStop"]["status"] == "Succeeded"
    summary = aws("codedeploy").get_deployment_instance(deploymentId=second["deploymentId"], instanceId=one.ids[0])
    assert summary["instanceSummary"]["status"] == "Succeeded"
    assert aws("codedeploy").list_deployment_instances(deploymentId=second["deploymentId"])["instancesList"] == one.ids

    logs = aws("logs").get_log_events(logGroupName="codedeploy-deployment-logs", logStreamName=one.ids[0])
    assert any("LifecycleEvent - ValidateService" in e["message"] for e in logs["events"])
    group = aws("codedeploy").get_deployment_group(applicationName=one.app, deploymentGroupName="dev")["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == second["deploymentId"]


@pytest.mark.parametrize("case, event, code, words", [
    ("missing", "BeforeInstall", "ScriptMissing", "Script does not exist at specified location"),
    ("not-executable", "BeforeInstall", "ScriptNotExecutable", "is not executable"),
    ("fails", "AfterInstall", "ScriptFailed", "failed with exit code 3"),
])
def test_script_errors(fleet, upload, case, event, code, words):
    scripts = {
        "missing": ("BeforeInstall", "scripts/nope.sh", {}),
        "not-executable": ("BeforeInstall", "scripts/plain.sh", {"scripts/plain.sh": (OK, 0o644)}),
        "fails": ("AfterInstall", "scripts/fail.sh",
                  {"scripts/fail.sh": ("#!/bin/bash\necho before the end\necho broken >&2\nexit 3\n", 0o755)}),
    }
    hook, location, extra = scripts[case]
    one = fleet(1)
    info = one.deploy_and_wait(upload(bundle(f"  {hook}:\n    - location: {location}\n", extra=extra)))
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == event
    assert failed["diagnostics"]["errorCode"] == code
    assert failed["diagnostics"]["scriptName"] == location
    assert words in failed["diagnostics"]["message"]
    if case == "fails":
        assert "[stdout]before the end" in failed["diagnostics"]["logTail"]
        assert "[stderr]broken" in failed["diagnostics"]["logTail"]
    later = [e["status"] for e in target["lifecycleEvents"][target["lifecycleEvents"].index(failed) + 1:]]
    assert set(later) == {"Skipped"}


def test_timed_out_hook_is_ended_with_its_children(emulator, fleet, upload):
    slow = ("#!/bin/bash\nsleep 300 &\necho $! > \"$LABKIT_HOST_ROOT/tmp/child.pid\"\n"
            "echo waiting\nsleep 300\n")
    one = fleet(1)
    info = one.deploy_and_wait(upload(bundle("  ApplicationStart:\n    - location: scripts/slow.sh\n      timeout: 2\n",
                                             extra={"scripts/slow.sh": (slow, 0o755)})))
    assert info["status"] == "Failed"
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "ApplicationStart"
    assert failed["diagnostics"]["errorCode"] == "ScriptTimedOut"
    assert "failed to complete in 2 seconds" in failed["diagnostics"]["message"]
    assert "[stdout]waiting" in failed["diagnostics"]["logTail"]
    child = int((emulator.state_dir / "hosts" / one.ids[0] / "tmp/child.pid").read_text())
    wait_until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE,
               10, "the hook's child to be ended")


@pytest.mark.parametrize("appspec, words", [
    (False, "did not find an AppSpec file"),
    ("version: 0.0\nos: linux\nhooks: [unclosed\n", "not valid YAML"),
    ("version: 1.0\nos: linux\n", "invalid version value"),
    ("version: 0.0\nos: windows\n", "Windows"),
    ("version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: scripts/ok.sh\n", "'Install' is not a lifecycle event"),
])
def test_bad_appspecs_fail_before_install(fleet, upload, appspec, words):
    one = fleet(1)
    info = one.deploy_and_wait(upload(bundle(appspec=appspec)))
    assert info["status"] == "Failed"
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "BeforeInstall"
    assert failed["diagnostics"]["errorCode"] == "UnknownError"
    assert words in failed["diagnostics"]["message"]


def test_destination_outside_the_instance_fails_install(fleet, upload):
    appspec = "version: 0.0\nos: linux\nfiles:\n  - source: /payload\n    destination: /../../../escape\n"
    one = fleet(1)
    info = one.deploy_and_wait(upload(bundle(appspec=appspec)))
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "Install"
    assert "outside the instance's file system" in failed["diagnostics"]["message"]


def test_file_exists_behaviors_and_permissions(emulator, fleet, upload):
    appspec = ("version: 0.0\nos: linux\nfiles:\n  - source: /payload\n    destination: /srv/app\n"
               "permissions:\n  - object: /srv/app\n    pattern: \"*.sh\"\n    mode: 700\n    owner: ec2-user\n"
               "hooks:\n  BeforeInstall:\n    - location: scripts/plant.sh\n")
    plant = "#!/bin/bash\nmkdir -p \"$LABKIT_HOST_ROOT/srv/app\"\necho planted > \"$LABKIT_HOST_ROOT/srv/app/index.html\"\n"
    files = bundle(appspec=appspec, extra={"scripts/plant.sh": (plant, 0o755),
                                           "payload/run.sh": ("#!/bin/sh\n", 0o644)})
    one = fleet(1)
    root = emulator.state_dir / "hosts" / one.ids[0] / "srv/app"
    refused = one.deploy_and_wait(upload(files))
    (target,) = one.targets(refused["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "Install"
    assert "already exists at this location: /srv/app/index.html" in failed["diagnostics"]["message"]
    retained = one.deploy_and_wait(upload(files), fileExistsBehavior="RETAIN")
    assert retained["status"] == "Succeeded" and retained["fileExistsBehavior"] == "RETAIN"
    assert (root / "index.html").read_text() == "planted\n"
    overwritten = one.deploy_and_wait(upload(files), fileExistsBehavior="OVERWRITE")
    assert overwritten["status"] == "Succeeded"
    assert (root / "index.html").read_text() == "hello\n"
    assert oct(os.stat(root / "run.sh").st_mode & 0o777) == "0o700"


def test_missing_revision_fails_download(fleet, bucket):
    one = fleet(1)
    info = one.deploy_and_wait({"revisionType": "S3", "s3Location": {
        "bucket": bucket, "key": "nothing-here.zip", "bundleType": "zip"}})
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "DownloadBundle"
    assert "does not exist" in failed["diagnostics"]["message"]


def test_zip_revision_and_tag_set(aws, fleet, upload):
    one = fleet(1, ec2TagFilters=[])
    cd = aws("codedeploy")
    cd.update_deployment_group(applicationName=one.app, currentDeploymentGroupName="dev",
                               ec2TagSet={"ec2TagSetList": [[{"Key": "Fleet", "Value": one.tag, "Type": "KEY_AND_VALUE"}],
                                                            [{"Key": "Fleet", "Type": "KEY_ONLY"}]]})
    info = one.deploy_and_wait(upload(bundle(), kind="zip"))
    assert info["status"] == "Succeeded", info
    assert list(one.targets(info["deploymentId"])) == one.ids


def test_no_matching_instances(aws, role_arn, upload):
    cd = aws("codedeploy")
    app = f"app-{uuid.uuid4().hex[:8]}"
    cd.create_application(applicationName=app)
    cd.create_deployment_group(applicationName=app, deploymentGroupName="dev", serviceRoleArn=role_arn,
                               ec2TagFilters=[{"Key": "Fleet", "Value": "nobody", "Type": "KEY_AND_VALUE"}])
    deployment_id = cd.create_deployment(applicationName=app, deploymentGroupName="dev",
                                         revision=upload(bundle()))["deploymentId"]
    info = wait_for_deployment(cd, deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "NO_INSTANCES"
    assert cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"] == []


def test_minimum_healthy_hosts_already_reached_fails_at_once(aws, fleet, upload):
    name = f"keep-two-{uuid.uuid4().hex[:6]}"
    aws("codedeploy").create_deployment_config(deploymentConfigName=name,
                                               minimumHealthyHosts={"type": "HOST_COUNT", "value": 2})
    two = fleet(2, deploymentConfigName=name)
    info = two.deploy_and_wait(upload(bundle()))
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS_INVALID"
    assert info["deploymentOverview"]["Skipped"] == 2


def test_create_deployment_refusals(aws, fleet, upload, role_arn):
    slow = "#!/bin/bash\nsleep 3\n"
    one = fleet(1)
    cd = aws("codedeploy")
    revision = upload(bundle("  BeforeInstall:\n    - location: scripts/slow.sh\n",
                             extra={"scripts/slow.sh": (slow, 0o755)}))
    running = one.deploy(revision)
    with pytest.raises(ClientError) as err:
        one.deploy(revision)
    assert err.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert running in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        one.deploy({"revisionType": "GitHub", "gitHubLocation": {"repository": "a/b", "commitId": "abc"}})
    assert err.value.response["Error"]["Code"] == "NotImplementedException"
    with pytest.raises(ClientError) as err:
        one.deploy(revision, deploymentConfigName="NoSuchConfig")
    assert err.value.response["Error"]["Code"] == "DeploymentConfigDoesNotExistException"
    with pytest.raises(ClientError) as err:
        cd.create_deployment(applicationName=one.app, deploymentGroupName="nope", revision=revision)
    assert err.value.response["Error"]["Code"] == "DeploymentGroupDoesNotExistException"
    with pytest.raises(ClientError) as err:
        cd.create_deployment(applicationName=one.app, deploymentGroupName="dev")
    assert err.value.response["Error"]["Code"] == "RevisionRequiredException"
    with pytest.raises(ClientError) as err:
        one.deploy({"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}})
    assert err.value.response["Error"]["Code"] == "InvalidRevisionException"
    with pytest.raises(ClientError) as err:  # blue/green moves traffic, so it needs traffic control
        one.create_group(role_arn, group="bg", deploymentStyle={"deploymentType": "BLUE_GREEN",
                                                                "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"})
    assert err.value.response["Error"]["Code"] == "InvalidDeploymentStyleException"
    one.create_group(role_arn, group="lb", loadBalancerInfo={"targetGroupInfoList": [{"name": "tg"}]},
                     deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    with pytest.raises(ClientError) as err:  # no target group named tg exists
        one.deploy(revision, group="lb")
    assert err.value.response["Error"]["Code"] == "InvalidLoadBalancerInfoException"
    assert "tg" in err.value.response["Error"]["Message"]
    assert wait_for_deployment(cd, running)["status"] == "Succeeded"
    listed = cd.list_deployments(applicationName=one.app, deploymentGroupName="dev")["deployments"]
    assert listed == [running], "refused deployments leave nothing behind"


def test_stop_deployment(aws, fleet, upload):
    slow = "#!/bin/bash\nsleep 2\n"
    two = fleet(2)
    cd = aws("codedeploy")
    revision = upload(bundle("  BeforeInstall:\n    - location: scripts/slow.sh\n",
                             extra={"scripts/slow.sh": (slow, 0o755)}))
    deployment_id = two.deploy(revision)
    wait_until(lambda: cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
               ["deploymentOverview"]["InProgress"] == 1, 30, "the first host to start")
    answer = cd.stop_deployment(deploymentId=deployment_id)
    assert answer["status"] == "Pending"
    info = wait_for_deployment(cd, deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    assert info["deploymentOverview"]["Skipped"] == 1
    with pytest.raises(ClientError) as err:
        cd.stop_deployment(deploymentId=deployment_id)
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
    stopped = cd.list_deployments(applicationName=two.app, includeOnlyStatuses=["Stopped"])["deployments"]
    assert stopped == [deployment_id]


def test_port_taken_by_another_process_is_reported(emulator, fleet, upload):
    one = fleet(1)
    port = one.hosts()[one.ids[0]]["port"]
    check = "#!/bin/bash\nif ! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then exit 0; fi\necho \"port $PORT is taken\" >&2\nexit 1\n"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        info = one.deploy_and_wait(upload(bundle("  ApplicationStart:\n    - location: scripts/check.sh\n",
                                                 extra={"scripts/check.sh": (check, 0o755)})))
    (target,) = one.targets(info["deploymentId"]).values()
    failed = failed_event(target)
    assert failed["lifecycleEventName"] == "ApplicationStart"
    assert f"port {port} is taken" in failed["diagnostics"]["logTail"]
    log = (emulator.state_dir / "hosts" / one.ids[0] /
           "opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log").read_text()
    assert f"port {port} of this host is taken" in log


def test_alarm_stops_the_deployment_and_starts_a_rollback(aws, fleet, upload):
    cw, cd = aws("cloudwatch"), aws("codedeploy")
    alarm = f"errors-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace="MyApp", MetricName="Errors", Statistic="Maximum",
                        Period=10, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    two = fleet(2, alarmConfiguration={"enabled": True, "alarms": [{"name": alarm}]},
                autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]})
    assert two.deploy_and_wait(upload(bundle()))["status"] == "Succeeded"
    slow = "#!/bin/bash\nsleep 3\n"
    deployment_id = two.deploy(upload(bundle("  BeforeInstall:\n    - location: scripts/slow.sh\n",
                                             extra={"scripts/slow.sh": (slow, 0o755)})))
    cw.put_metric_data(Namespace="MyApp", MetricData=[{"MetricName": "Errors", "Value": 5}])
    info = wait_for_deployment(cd, deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert alarm in info["errorInformation"]["message"]
    rollback = wait_for_deployment(cd, info["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    assert rollback["creator"] == "codeDeployRollback"


def test_auto_scaling_group_instances_are_targets(aws, fleet, upload):
    asg, ec2 = aws("autoscaling"), aws("ec2")
    name = f"asg-{uuid.uuid4().hex[:6]}"
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateId": template}, VPCZoneIdentifier=subnet)
    instance_ids = sorted(i["InstanceId"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"])
    try:
        group = fleet(1, autoScalingGroups=[name])
        info = group.deploy_and_wait(upload(bundle()), deploymentConfigName="CodeDeployDefault.AllAtOnce")
        assert info["status"] == "Succeeded", info
        assert set(group.targets(info["deploymentId"])) == {*group.ids, *instance_ids}
        described = aws("codedeploy").get_deployment_group(applicationName=group.app, deploymentGroupName="dev")
        assert described["deploymentGroupInfo"]["autoScalingGroups"] == [{"name": name}]
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        ec2.terminate_instances(InstanceIds=instance_ids)


@pytest.mark.parametrize("failing, status, overview", [
    (-1, "Succeeded", {"Succeeded": 2, "Failed": 1, "Skipped": 0}),
    (0, "Failed", {"Succeeded": 0, "Failed": 1, "Skipped": 2}),
])
def test_one_at_a_time_forgives_only_the_last_host(fleet, upload, failing, status, overview):
    three = fleet(3)
    victim = three.ids[failing]
    check = f"#!/bin/bash\n[[ \"$LABKIT_HOST_ROOT\" != *{victim} ]] || {{ echo unlucky >&2; exit 1; }}\n"
    info = three.deploy_and_wait(upload(bundle("  ValidateService:\n    - location: scripts/check.sh\n",
                                               extra={"scripts/check.sh": (check, 0o755)})))
    assert info["status"] == status
    assert {k: info["deploymentOverview"][k] for k in overview} == overview
    assert three.targets(info["deploymentId"])[victim]["status"] == "Failed"


def test_application_stop_failures_can_be_ignored(fleet, upload):
    broken_stop = "#!/bin/bash\necho cannot stop >&2\nexit 2\n"
    one = fleet(1)
    revision = upload(bundle("  ApplicationStop:\n    - location: scripts/stop.sh\n",
                             extra={"scripts/stop.sh": (broken_stop, 0o755)}))
    assert one.deploy_and_wait(revision)["status"] == "Succeeded", "ApplicationStop is skipped the first time"
    refused = one.deploy_and_wait(revision)
    (target,) = one.targets(refused["deploymentId"]).values()
    failed = failed_event(target)
    assert (failed["lifecycleEventName"], failed["diagnostics"]["errorCode"]) == ("ApplicationStop", "ScriptFailed")
    forgiven = one.deploy_and_wait(revision, ignoreApplicationStopFailures=True)
    assert forgiven["status"] == "Succeeded" and forgiven["ignoreApplicationStopFailures"] is True


def test_tar_revision(fleet, aws, bucket):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, (text, mode) in bundle().items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(text.encode()), mode
            archive.addfile(info, io.BytesIO(text.encode()))
    one = fleet(1)
    revision = s3_revision(aws("s3"), bucket, f"rev/{uuid.uuid4().hex}.tar", buffer.getvalue(), "tar")
    assert one.deploy_and_wait(revision)["status"] == "Succeeded"


def test_triggers_notify_sns(aws, fleet, upload):
    import json

    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=f"cd-trigger-{uuid.uuid4().hex[:6]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"cd-trigger-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    one = fleet(1, triggerConfigurations=[{"triggerName": "all", "triggerTargetArn": topic,
                                           "triggerEvents": ["DeploymentStart", "DeploymentSuccess",
                                                             "InstanceFailure", "InstanceSuccess"]}])
    info = one.deploy_and_wait(upload(bundle()))
    assert info["status"] == "Succeeded"
    seen = []

    def collect():
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
        return len(seen) >= 3

    wait_until(collect, 15, "three trigger notifications")
    subjects = sorted(n["Subject"].split(":")[0] for n in seen)
    assert subjects == ["CREATED", "SUCCEEDED", "SUCCEEDED"]
    bodies = [json.loads(n["Message"]) for n in seen]
    assert {b["deploymentId"] for b in bodies} == {info["deploymentId"]}
    assert any(b.get("instanceId") == one.ids[0] for b in bodies)


def test_reading_a_deployment_every_way(aws, fleet, upload):
    from datetime import datetime, timedelta, timezone

    cd = aws("codedeploy")
    one = fleet(1)
    revision = upload(bundle())
    cd.register_application_revision(applicationName=one.app, revision=upload(bundle()), description="never used")
    info = one.deploy_and_wait(revision, description="first try")
    deployment_id = info["deploymentId"]
    assert info["description"] == "first try" and info["creator"] == "user"
    assert info["completeTime"] >= info["startTime"] >= info["createTime"]
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId=one.ids[0])["deploymentTarget"]
    assert target["deploymentTargetType"] == "InstanceTarget"
    assert target["instanceTarget"]["status"] == "Succeeded"
    batch = cd.batch_get_deployment_instances(deploymentId=deployment_id, instanceIds=[one.ids[0], "i-0000"])
    assert [s["status"] for s in batch["instancesSummary"]] == ["Succeeded"] and "i-0000" in batch["errorMessage"]
    now = datetime.now(timezone.utc)
    recent = cd.list_deployments(applicationName=one.app, deploymentGroupName="dev",
                                 createTimeRange={"start": now - timedelta(minutes=10), "end": now})
    assert recent["deployments"] == [deployment_id]
    older = cd.list_deployments(applicationName=one.app, deploymentGroupName="dev",
                                createTimeRange={"end": now - timedelta(minutes=10)})
    assert older["deployments"] == []
    assert cd.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"][0]["status"] == "Succeeded"
    used = cd.list_application_revisions(applicationName=one.app, deployed="include")["revisions"]
    unused = cd.list_application_revisions(applicationName=one.app, deployed="exclude")["revisions"]
    assert used == [revision] and len(unused) == 1
    revisions = cd.batch_get_application_revisions(applicationName=one.app, revisions=[revision])["revisions"]
    assert revisions[0]["genericRevisionInfo"]["deploymentGroups"] == ["dev"]
    assert cd.list_deployment_targets(deploymentId=deployment_id,
                                      targetFilters={"TargetStatus": ["Failed"]})["targetIds"] == []
    with pytest.raises(ClientError) as err:
        cd.get_deployment_instance(deploymentId=deployment_id, instanceId="i-0000")
    assert err.value.response["Error"]["Code"] == "InstanceDoesNotExistException"
    with pytest.raises(ClientError) as err:
        cd.continue_deployment(deploymentId=deployment_id)
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
    renamed = f"{one.app}-renamed"
    cd.update_application(applicationName=one.app, newApplicationName=renamed)
    assert cd.list_deployment_groups(applicationName=renamed)["deploymentGroups"] == ["dev"]
    cd.update_application(applicationName=renamed, newApplicationName=one.app)
