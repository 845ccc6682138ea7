"""In-place deployments behind the local load balancer: with traffic control (OneAtATime) a client
looping through the proxy sees no failed request, and the traffic events deregister and register
each host; without traffic control an AllAtOnce deployment makes the same client see failures."""

from __future__ import annotations

import shutil
import uuid

import pytest
from bundles import (
    Fleet,
    build_sample_bundle,
    events_of,
    s3_revision,
    variant,
    wait_until,
    zip_folder,
)
from elb_helpers import Balancer, RequestLoop
from pipeline_helpers import make_role

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="the sample app needs node")

TRAFFIC_EVENTS = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic",
                  "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")


@pytest.fixture(scope="module")
def role_arn(aws):
    return make_role(aws, service="codedeploy.amazonaws.com")


@pytest.fixture(scope="module")
def revisions(aws, tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("traffic-bundles")
    base = build_sample_bundle(work)
    folders = {"v1": base}
    for version in ("2.0.0", "3.0.0"):
        folders[f"v{version[0]}"] = variant(base, work / f"v{version[0]}", version=version)
    bucket = f"cd-traffic-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    return {name: s3_revision(s3, bucket, f"my-app/{name}.zip", zip_folder(folder))
            for name, folder in folders.items()}


def hello(version: str) -> str:
    return f"Hello from CI/CD Pipeline v{version}!"


@pytest.mark.slow  # three sample-app deployments behind the load balancer
def test_in_place_with_traffic_control_loses_no_request_and_all_at_once_without_does(
        aws, emulator, role_arn, revisions):
    cd = aws("codedeploy")
    lb = Balancer(aws, emulator, delay=2)
    web = Fleet(aws, emulator, 3)
    group_name = f"tg-{lb.name}"
    try:
        web.create_group(role_arn, deploymentStyle={"deploymentType": "IN_PLACE",
                                                    "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                         loadBalancerInfo={"targetGroupInfoList": [{"name": group_name}]})
        first = web.deploy_and_wait(revisions["v1"])
        assert first["status"] == "Succeeded", first
        for target in web.targets(first["deploymentId"]).values():
            events = events_of(target)
            assert all(events[name]["status"] == "Succeeded" for name in TRAFFIC_EVENTS), events
        assert lb.states() == {f"{i}:3000": "healthy" for i in web.ids}

        with RequestLoop(lb.url + "/") as careful:
            second = web.deploy_and_wait(revisions["v2"])
        assert second["status"] == "Succeeded", second
        print(f"OneAtATime with traffic control: {careful.sent} requests, failures {dict(careful.failures)}")
        assert careful.failed == 0, careful.failures
        assert careful.answers[hello("1.0.0")] > 0 and careful.answers[hello("2.0.0")] > 0
        assert {answer_of(lb.url) for _ in range(9)} == {hello("2.0.0")}

        cd.update_deployment_group(applicationName=web.app, currentDeploymentGroupName="dev",
                                   deploymentStyle={"deploymentType": "IN_PLACE",
                                                    "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"})
        with RequestLoop(lb.url + "/") as hasty:
            third = web.deploy_and_wait(revisions["v3"], deploymentConfigName="CodeDeployDefault.AllAtOnce")
        assert third["status"] == "Succeeded", third
        print(f"AllAtOnce without traffic control: {hasty.sent} requests, failures {dict(hasty.failures)}")
        assert hasty.failed > 0
        for target in web.targets(third["deploymentId"]).values():
            assert {events_of(target)[name]["status"] for name in TRAFFIC_EVENTS} == {"Skipped"}
    finally:
        lb.delete()
        web.terminate()


def answer_of(url: str) -> str:
    from bundles import http_get

    return wait_until(lambda: (lambda r: r[1] if r[0] == 200 else None)(http_get(url + "/")), 10, "an answer")


def test_traffic_control_needs_an_existing_target_group(aws, emulator, role_arn):
    web = Fleet(aws, emulator, 1)
    cd = aws("codedeploy")
    try:
        web.create_group(role_arn, deploymentStyle={"deploymentType": "IN_PLACE",
                                                    "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                         loadBalancerInfo={"targetGroupInfoList": [{"name": "no-such-group"}]})
        revision = {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"}}
        with pytest.raises(cd.exceptions.InvalidLoadBalancerInfoException, match="no-such-group"):
            web.deploy(revision)
        assert cd.list_deployments(applicationName=web.app, deploymentGroupName="dev")["deployments"] == []
    finally:
        web.terminate()
