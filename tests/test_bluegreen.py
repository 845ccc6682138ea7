"""Blue/green deployments of the sample app behind the local load balancer: a client looping through
the proxy sees no failed request, both versions answer for a moment and only the new one after;
a stop with rollback moves traffic back to the original fleet; bad input gets AWS's errors."""

from __future__ import annotations

import shutil
import uuid

import pytest
from botocore.exceptions import ClientError
from bundles import (
    Fleet,
    build_sample_bundle,
    emulator_hosts,
    events_of,
    http_get,
    s3_revision,
    variant,
    wait_for_deployment,
    wait_until,
    zip_folder,
)
from elb_helpers import Balancer, RequestLoop
from pipeline_helpers import make_role

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the sample app needs node")
INSTALL = ["DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
           "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
BLOCK = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"]
REVISION = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"}}


@pytest.fixture(scope="module")
def role_arn(aws):
    return make_role(aws, service="codedeploy.amazonaws.com")


@pytest.fixture(scope="module")
def revisions(aws, tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("bluegreen-bundles")
    base = build_sample_bundle(work)
    folders = {"v1": base, "v2": variant(base, work / "v2", version="2.0.0")}
    bucket = f"cd-bg-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    return {name: s3_revision(s3, bucket, f"my-app/{name}.zip", zip_folder(folder))
            for name, folder in folders.items()}


def hello(version: str) -> str:
    return f"Hello from CI/CD Pipeline v{version}!"


def answers(url: str, count: int = 8, path: str = "/") -> set[str]:
    return {http_get(url + path)[1] for _ in range(count)}


def bg_config(wait_minutes: int, ready: str = "CONTINUE_DEPLOYMENT") -> dict:
    return {"greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
            "deploymentReadyOption": {"actionOnTimeout": ready,
                                      **({"waitTimeInMinutes": 30} if ready == "STOP_DEPLOYMENT" else {})},
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": wait_minutes}}


@needs_node
@pytest.mark.slow  # four sample-app deployments behind the load balancer
def test_blue_green_loses_no_request_and_rollback_returns_traffic(aws, emulator, role_arn, revisions):
    cd, ec2 = aws("codedeploy"), aws("ec2")
    lb = Balancer(aws, emulator, delay=2)
    blue, green = Fleet(aws, emulator, 2), Fleet(aws, emulator, 2)
    lb_info = {"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]}
    try:
        # The original fleet serves v1 behind the load balancer (an in-place deployment puts it there).
        blue.create_group(role_arn, group="setup", loadBalancerInfo=lb_info, deploymentStyle={
            "deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        assert blue.deploy_and_wait(revisions["v1"], group="setup")["status"] == "Succeeded"
        assert answers(lb.url) == {hello("1.0.0")}
        blue.create_group(role_arn, group="bg", loadBalancerInfo=lb_info,
                          deploymentStyle={"deploymentType": "BLUE_GREEN",
                                           "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                          blueGreenDeploymentConfiguration=bg_config(60))
        to_green = {"tagFilters": green.tag_filters}

        # 1. v2 goes to the green fleet; while the originals wait to be terminated, a stop with
        #    rollback moves traffic back to them.
        with RequestLoop(lb.url + "/") as during_rollback:
            first = blue.deploy(revisions["v2"], group="bg", targetInstances=to_green)
            wait_until(lambda: cd.get_deployment(deploymentId=first)["deploymentInfo"]
                       ["instanceTerminationWaitTimeStarted"], 120, "traffic on green, blue waiting")
            assert answers(lb.url) == {hello("2.0.0")}
            cd.stop_deployment(deploymentId=first, autoRollbackEnabled=True)
            stopped = wait_for_deployment(cd, first)
        assert stopped["status"] == "Stopped", stopped
        assert "moved back to the original instances" in stopped["rollbackInfo"]["rollbackMessage"]
        assert answers(lb.url) == {hello("1.0.0")}
        assert during_rollback.failed == 0, during_rollback.failures
        print(f"blue/green then rollback: {during_rollback.sent} requests, {dict(during_rollback.answers)}")

        # 2. Again, waiting for ContinueDeployment before traffic moves, then terminating the originals.
        cd.update_deployment_group(applicationName=blue.app, currentDeploymentGroupName="bg",
                                   blueGreenDeploymentConfiguration=bg_config(0, "STOP_DEPLOYMENT"))
        with RequestLoop(lb.url + "/") as loop:
            second = blue.deploy(revisions["v2"], group="bg", targetInstances=to_green)
            wait_until(lambda: cd.get_deployment(deploymentId=second)["deploymentInfo"]["status"] == "Ready",
                       120, "the green fleet to be ready")
            assert answers(lb.url) == {hello("1.0.0")}  # no traffic moves before ContinueDeployment
            cd.continue_deployment(deploymentId=second, deploymentWaitType="READY_WAIT")
            done = wait_for_deployment(cd, second)
        assert done["status"] == "Succeeded", done
        print(f"blue/green: {loop.sent} requests, answers {dict(loop.answers)}, failures {dict(loop.failures)}")
        assert loop.failed == 0, loop.failures
        assert loop.answers[hello("1.0.0")] > 0 and loop.answers[hello("2.0.0")] > 0
        assert answers(lb.url, 12) == {hello("2.0.0")}

        targets = blue.targets(second) | green.targets(second)
        for instance_id in green.ids:
            events = events_of(targets[instance_id])
            assert targets[instance_id]["instanceLabel"] == "Green"
            assert [n for n in INSTALL if events[n]["status"] == "Succeeded"] == INSTALL
        for instance_id in blue.ids:
            assert targets[instance_id]["instanceLabel"] == "Blue"
            assert [e["lifecycleEventName"] for e in targets[instance_id]["lifecycleEvents"]] == BLOCK
            assert {e["status"] for e in targets[instance_id]["lifecycleEvents"]} == {"Succeeded"}
        states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(
            InstanceIds=blue.ids)["Reservations"] for i in r["Instances"]}
        assert set(states.values()) == {"terminated"}
        assert lb.states() == {f"{i}:3000": "healthy" for i in green.ids}
    finally:
        lb.delete()
        green.terminate()
        ec2.terminate_instances(InstanceIds=blue.ids)


def test_blue_green_bad_input(aws, emulator, role_arn):
    cd = aws("codedeploy")
    lb = Balancer(aws, emulator, listener=False)
    fleet = Fleet(aws, emulator, 1)
    style = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    try:
        with pytest.raises(ClientError) as err:  # no load balancer to move traffic with
            fleet.create_group(role_arn, group="no-lb", deploymentStyle=style)
        assert err.value.response["Error"]["Code"] == "InvalidLoadBalancerInfoException"
        with pytest.raises(ClientError) as err:  # nothing to copy the green fleet from
            fleet.create_group(role_arn, group="no-asg", deploymentStyle=style,
                               loadBalancerInfo={"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]},
                               blueGreenDeploymentConfiguration={
                                   "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"}})
        assert err.value.response["Error"]["Code"] == "InvalidBlueGreenDeploymentConfigurationException"
        assert cd.list_deployment_groups(applicationName=fleet.app)["deploymentGroups"] == []

        fleet.create_group(role_arn, group="bg", deploymentStyle=style,
                           loadBalancerInfo={"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]})
        with pytest.raises(ClientError) as err:  # DISCOVER_EXISTING needs to be told the green fleet
            fleet.deploy(REVISION, group="bg")
        assert err.value.response["Error"]["Code"] == "InvalidTargetInstancesException"
        assert cd.list_deployments(applicationName=fleet.app, deploymentGroupName="bg")["deployments"] == []
    finally:
        lb.delete()
        fleet.terminate()


def test_continue_deployment_when_nothing_waits(aws, emulator, role_arn):
    from bundles import zip_files

    cd = aws("codedeploy")
    fleet = Fleet(aws, emulator, 1)
    try:
        fleet.create_group(role_arn)
        files = {"appspec.yml": ("version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n"
                                 "    - location: wait.sh\n", 0o644),
                 "wait.sh": ("#!/bin/bash\nsleep 4\n", 0o755)}
        bucket = f"cd-bg-{uuid.uuid4().hex[:8]}"
        aws("s3").create_bucket(Bucket=bucket)
        revision = s3_revision(aws("s3"), bucket, "slow.zip", zip_files(files))
        deployment_id = fleet.deploy(revision)
        with pytest.raises(ClientError) as err:  # an in-place deployment in progress never waits
            cd.continue_deployment(deploymentId=deployment_id)
        assert err.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
        finished = wait_for_deployment(cd, deployment_id)
        assert finished["status"] == "Succeeded", finished
        with pytest.raises(ClientError) as err:
            cd.continue_deployment(deploymentId=deployment_id)
        assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
    finally:
        fleet.terminate()


def site_revision(aws, bucket: str, version: str, broken: bool = False) -> dict:
    """A small revision whose service (Python's http.server) answers its version at /version.txt;
    `broken`: the service starts and answers /, but /version.txt is missing (health checks fail)."""
    import sys

    from bundles import tgz_files

    site = '"${LABKIT_HOST_ROOT:-}/home/ec2-user/site"'
    files = {
        "appspec.yml": (f"version: 0.0\nos: linux\nfiles:\n  - source: {'index.html' if broken else 'version.txt'}\n"
                        "    destination: /home/ec2-user/site\nhooks:\n"
                        "  ApplicationStop:\n    - location: stop.sh\n"
                        "  ApplicationStart:\n    - location: start.sh\n"
                        "  ValidateService:\n    - location: validate.sh\n", 0o644),
        ("index.html" if broken else "version.txt"): (version, 0o644),
        "stop.sh": (f"#!/bin/bash\npid={site}/../site.pid\n"
                    '[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; rm -f "$pid"; exit 0\n', 0o755),
        "start.sh": (f"#!/bin/bash\ncd {site}\n"
                     f'nohup {sys.executable} -m http.server "${{PORT:-3000}}" --bind 127.0.0.1 '
                     '>/dev/null 2>&1 </dev/null &\necho $! > ../site.pid\n', 0o755),
        "validate.sh": ("#!/bin/bash\nfor i in $(seq 100); do\n"
                        f'  {sys.executable} -c "import urllib.request; urllib.request.urlopen('
                        "'http://127.0.0.1:${PORT:-3000}/')\" 2>/dev/null && exit 0\n"
                        "  sleep 0.1\ndone\nexit 1\n", 0o755),
    }
    key = f"site/{version}{'-broken' if broken else ''}.tgz"
    return s3_revision(aws("s3"), bucket, key, tgz_files(files), "tgz")


def test_blue_green_copies_the_auto_scaling_group(aws, emulator):
    from pipeline_helpers import make_instance_profile

    cd, ec2, scaling = aws("codedeploy"), aws("ec2"), aws("autoscaling")
    role = make_role(aws, service="codedeploy.amazonaws.com")
    profile = make_instance_profile(aws)
    bucket = f"cd-bg-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    lb = Balancer(aws, emulator, delay=1, path="/version.txt")
    name = f"web-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": profile}})
    scaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=2, DesiredCapacity=2,
                                      LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
                                      AvailabilityZones=["us-east-1a"])
    blue = [i["InstanceId"] for i in scaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]]
    for instance_id in blue:  # moto leaves Auto Scaling instances without the template's profile
        ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": profile}, InstanceId=instance_id)
    app = f"app-{name}"
    cd.create_application(applicationName=app)
    lb_info = {"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]}
    green_group = None
    try:
        cd.create_deployment_group(applicationName=app, deploymentGroupName="setup", serviceRoleArn=role,
                                   autoScalingGroups=[name], loadBalancerInfo=lb_info, deploymentStyle={
                                       "deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        first = cd.create_deployment(applicationName=app, deploymentGroupName="setup",
                                     revision=site_revision(aws, bucket, "v1"))["deploymentId"]
        assert wait_for_deployment(cd, first)["status"] == "Succeeded"
        assert answers(lb.url, path="/version.txt") == {"v1"}

        cd.create_deployment_group(
            applicationName=app, deploymentGroupName="bg", serviceRoleArn=role, autoScalingGroups=[name],
            loadBalancerInfo=lb_info,
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                              "terminationWaitTimeInMinutes": 0}})
        with RequestLoop(lb.url + "/version.txt") as loop:
            second = cd.create_deployment(applicationName=app, deploymentGroupName="bg",
                                          revision=site_revision(aws, bucket, "v2"))["deploymentId"]
            done = wait_for_deployment(cd, second)
        assert done["status"] == "Succeeded", done
        assert loop.failed == 0, loop.failures
        assert answers(lb.url, path="/version.txt") == {"v2"}

        green_group = f"CodeDeploy_bg_{second}"
        groups = {g["AutoScalingGroupName"]: g for g in scaling.describe_auto_scaling_groups()["AutoScalingGroups"]}
        assert name not in groups and len(groups[green_group]["Instances"]) == 2
        info = cd.get_deployment_group(applicationName=app, deploymentGroupName="bg")["deploymentGroupInfo"]
        assert info["autoScalingGroups"] == [{"name": green_group}]
        states = {i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=blue)["Reservations"]
                  for i in r["Instances"]}
        assert states == {"terminated"}
    finally:
        lb.delete()
        for group in (name, green_group):
            try:
                scaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
            except Exception:  # already deleted by the deployment
                pass
        wait_until(lambda: not [h for h in emulator_hosts(emulator).values()
                                if h["instanceId"] in blue and h["state"] == "running"], 30, "hosts gone")


def test_green_failing_health_checks_rolls_traffic_back_to_blue(aws, emulator):
    role = make_role(aws, service="codedeploy.amazonaws.com")
    bucket = f"cd-bg-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    lb = Balancer(aws, emulator, delay=1, path="/version.txt")
    blue, green = Fleet(aws, emulator, 1), Fleet(aws, emulator, 1)
    lb_info = {"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]}
    try:
        blue.create_group(role, group="setup", loadBalancerInfo=lb_info, deploymentStyle={
            "deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        assert blue.deploy_and_wait(site_revision(aws, bucket, "v1"), group="setup")["status"] == "Succeeded"
        blue.create_group(role, group="bg", loadBalancerInfo=lb_info,
                          deploymentStyle={"deploymentType": "BLUE_GREEN",
                                           "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                          autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
                          blueGreenDeploymentConfiguration=bg_config(0))
        with RequestLoop(lb.url + "/version.txt") as loop:
            failed = blue.deploy_and_wait(site_revision(aws, bucket, "v2", broken=True), group="bg",
                                          targetInstances={"tagFilters": green.tag_filters})
        assert failed["status"] == "Failed", failed
        assert "moved back to the original instances" in failed["rollbackInfo"]["rollbackMessage"]
        allow = events_of(green.targets(failed["deploymentId"])[green.ids[0]])["AllowTraffic"]
        assert allow["status"] == "Failed" and "did not become healthy" in allow["diagnostics"]["message"]
        assert loop.failed == 0, loop.failures
        assert set(loop.answers) == {"v1"}
        assert lb.states() == {f"{blue.ids[0]}:3000": "healthy"}
        assert answers(lb.url, path="/version.txt") == {"v1"}
    finally:
        lb.delete()
        blue.terminate()
        green.terminate()


def test_termination_wait_ends_on_continue_deployment(aws, emulator):
    cd, ec2 = aws("codedeploy"), aws("ec2")
    role = make_role(aws, service="codedeploy.amazonaws.com")
    bucket = f"cd-bg-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    lb = Balancer(aws, emulator, delay=1, path="/version.txt")
    blue, green = Fleet(aws, emulator, 1), Fleet(aws, emulator, 1)
    lb_info = {"targetGroupInfoList": [{"name": f"tg-{lb.name}"}]}
    try:
        blue.create_group(role, group="setup", loadBalancerInfo=lb_info, deploymentStyle={
            "deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        assert blue.deploy_and_wait(site_revision(aws, bucket, "v1"), group="setup")["status"] == "Succeeded"
        blue.create_group(role, group="bg", loadBalancerInfo=lb_info, blueGreenDeploymentConfiguration=bg_config(60),
                          deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
        deployment_id = blue.deploy(site_revision(aws, bucket, "v2"), group="bg",
                                    targetInstances={"tagFilters": green.tag_filters})
        wait_until(lambda: cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
                   ["instanceTerminationWaitTimeStarted"], 120, "the termination wait")
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        assert info["status"] == "InProgress"
        assert info["blueGreenDeploymentConfiguration"]["terminateBlueInstancesOnDeploymentSuccess"] == {
            "action": "TERMINATE", "terminationWaitTimeInMinutes": 60}
        assert info["targetInstances"] == {"tagFilters": green.tag_filters}
        with pytest.raises(ClientError) as err:  # it waits for termination, not for readiness
            cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")
        assert err.value.response["Error"]["Code"] == "InvalidDeploymentWaitTypeException"
        cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
        assert wait_for_deployment(cd, deployment_id)["status"] == "Succeeded"
        state = ec2.describe_instances(InstanceIds=blue.ids)["Reservations"][0]["Instances"][0]["State"]
        assert state["Name"] == "terminated"
        assert answers(lb.url, path="/version.txt") == {"v2"}
    finally:
        lb.delete()
        green.terminate()
