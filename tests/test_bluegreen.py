"""Blue/green deployments of the sample app behind the local load balancer: a client looping through
the proxy sees no failed request, both versions answer for a moment and only the new one after;
a stop with rollback moves traffic back to the original fleet; bad input gets AWS's errors."""

from __future__ import annotations

import shutil
import uuid

import pytest
from botocore.exceptions import ClientError
from bundles import (
    TRUST,
    Fleet,
    build_sample_bundle,
    events_of,
    http_get,
    s3_revision,
    variant,
    wait_for_deployment,
    wait_until,
    zip_folder,
)
from elb_helpers import Balancer, RequestLoop

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="the sample app needs node")
INSTALL = ["DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
           "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
BLOCK = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"]
REVISION = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"}}


@pytest.fixture(scope="module")
def role_arn(aws):
    return aws("iam").create_role(RoleName=f"cd-bg-{uuid.uuid4().hex[:6]}",
                                  AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


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


def answers(url: str, count: int = 8) -> set[str]:
    return {http_get(url + "/")[1] for _ in range(count)}


def bg_config(wait_minutes: int, ready: str = "CONTINUE_DEPLOYMENT") -> dict:
    return {"greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
            "deploymentReadyOption": {"actionOnTimeout": ready,
                                      **({"waitTimeInMinutes": 30} if ready == "STOP_DEPLOYMENT" else {})},
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": wait_minutes}}


@needs_node
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
        assert wait_for_deployment(cd, deployment_id)["status"] == "Succeeded"
        with pytest.raises(ClientError) as err:
            cd.continue_deployment(deploymentId=deployment_id)
        assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"
    finally:
        fleet.terminate()
