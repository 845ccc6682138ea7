"""The sample app deployed through the emulator to three local hosts: each deployment config's
batches, the service answering on every host's port, the failure switches ending in the
right error on the right host and event, automatic rollback, events, and no process left
behind when instances stop or terminate."""

from __future__ import annotations

import json
import shutil
import uuid

import psutil
import pytest
from bundles import (
    Fleet,
    build_sample_bundle,
    events_of,
    failed_event,
    http_get,
    s3_revision,
    variant,
    wait_for_deployment,
    wait_until,
    waves,
    zip_folder,
)
from pipeline_helpers import make_role

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="deploying the sample app needs node and npm")

ROLLBACK = {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]}


@pytest.fixture(scope="module")
def role_arn(aws):
    return make_role(aws, f"cd-sample-{uuid.uuid4().hex[:6]}", service="codedeploy.amazonaws.com")


@pytest.fixture(scope="module")
def revisions(aws, tmp_path_factory) -> dict[str, dict]:
    """The sample app's revisions in S3: v1, v2, v3 and each deploy-time failure switch."""
    work = tmp_path_factory.mktemp("sample-bundles")
    base = build_sample_bundle(work)
    folders = {"v1": base}
    for version in ("2.0.0", "3.0.0"):
        folders[f"v{version[0]}"] = variant(base, work / f"v{version[0]}", version=version)
    for switch in ("crash-on-start", "failing-health", "slow-start"):
        folders[switch] = variant(base, work / switch, patch=switch)
    bucket = f"cd-sample-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    return {name: s3_revision(s3, bucket, f"my-app/{name}.zip", zip_folder(folder))
            for name, folder in folders.items()}


@pytest.fixture
def fleet(aws, emulator, role_arn):
    fleets: list[Fleet] = []

    def make(count: int = 3, **settings) -> Fleet:
        made = Fleet(aws, emulator, count)
        made.create_group(role_arn, **settings)
        fleets.append(made)
        return made

    yield make
    for made in fleets:
        pids = [p for h in made.hosts().values() for p in app_pids(h)]
        made.terminate()
        for pid in pids:
            wait_until(lambda pid=pid: not alive(pid), 15, f"process {pid} to end with its instance")


def app_pids(host: dict) -> list[int]:
    from pathlib import Path

    pid_file = Path(host["root"]) / "home/ec2-user/my-app/app.pid"
    return [int(pid_file.read_text().strip())] if pid_file.is_file() else []


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def answers(made: Fleet) -> dict[str, str]:
    return {i: http_get(h["url"] + "/")[1] for i, h in made.hosts().items()}


def test_each_config_deploys_in_its_batches_and_every_host_answers(aws, fleet, revisions):
    web = fleet(3)
    cd = aws("codedeploy")

    first = web.deploy_and_wait(revisions["v1"])  # the group's default: OneAtATime
    assert first["status"] == "Succeeded", first
    assert first["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert first["deploymentOverview"] == {"Pending": 0, "InProgress": 0, "Succeeded": 3,
                                           "Failed": 0, "Skipped": 0, "Ready": 0}
    targets = web.targets(first["deploymentId"])
    assert waves(targets) == [1, 1, 1]
    for target in targets.values():
        events = events_of(target)
        assert events["ApplicationStop"]["status"] == "Skipped"
        order = [e["lifecycleEventName"] for e in target["lifecycleEvents"] if e["status"] == "Succeeded"]
        assert order == ["DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
                         "ApplicationStart", "ValidateService"]
    assert set(answers(web).values()) == {"Hello from CI/CD Pipeline v1.0.0!"}

    second = web.deploy_and_wait(revisions["v2"], deploymentConfigName="CodeDeployDefault.AllAtOnce")
    assert second["status"] == "Succeeded", second
    assert waves(web.targets(second["deploymentId"])) == [3]
    for target in web.targets(second["deploymentId"]).values():
        assert events_of(target)["ApplicationStop"]["status"] == "Succeeded"
    assert set(answers(web).values()) == {"Hello from CI/CD Pipeline v2.0.0!"}

    third = web.deploy_and_wait(revisions["v3"], deploymentConfigName="CodeDeployDefault.HalfAtATime")
    assert third["status"] == "Succeeded", third
    assert waves(web.targets(third["deploymentId"])) == [1, 1, 1], "half of 3, rounded down, is 1"

    name = f"keep-one-{uuid.uuid4().hex[:6]}"
    cd.create_deployment_config(deploymentConfigName=name, minimumHealthyHosts={"type": "HOST_COUNT", "value": 1})
    fourth = web.deploy_and_wait(revisions["v1"], deploymentConfigName=name)
    assert fourth["status"] == "Succeeded", fourth
    assert waves(web.targets(fourth["deploymentId"])) == [2, 1]
    assert set(answers(web).values()) == {"Hello from CI/CD Pipeline v1.0.0!"}
    status = json.loads(http_get(next(iter(web.hosts().values()))["url"] + "/health")[1])
    assert status["status"] == "healthy"


def test_failing_health_rolls_back_to_the_old_version_on_every_host(aws, fleet, revisions):
    web = fleet(3, autoRollbackConfiguration=ROLLBACK)
    cd = aws("codedeploy")
    sqs, events = aws("sqs"), aws("events")
    queue = sqs.create_queue(QueueName=f"cd-events-{web.tag}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"cd-{web.tag}"
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.codedeploy"], "detail": {"application": [web.app]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])

    good = web.deploy_and_wait(revisions["v1"])
    assert good["status"] == "Succeeded", good
    bad = web.deploy_and_wait(revisions["failing-health"])
    assert bad["status"] == "Failed"
    assert bad["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    rollback_id = bad["rollbackInfo"]["rollbackDeploymentId"]
    targets = web.targets(bad["deploymentId"])
    first_host = web.ids[0]
    failed = failed_event(targets[first_host])
    assert (failed["lifecycleEventName"], failed["diagnostics"]["errorCode"]) == ("ValidateService", "ScriptFailed")
    assert "503" in failed["diagnostics"]["logTail"]
    assert [targets[i]["status"] for i in web.ids[1:]] == ["Skipped", "Skipped"], \
        "OneAtATime stops at the first failed host that is not the last"

    rollback = wait_for_deployment(cd, rollback_id)
    assert rollback["status"] == "Succeeded", rollback
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == bad["deploymentId"]
    assert rollback["revision"] == revisions["v1"]
    assert set(answers(web).values()) == {"Hello from CI/CD Pipeline v1.0.0!"}

    messages = []
    def collect():
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        messages.extend(json.loads(m["Body"]) for m in got)
        kinds = {(m["detail-type"], m["detail"]["deploymentId"], m["detail"]["state"]) for m in messages}
        return kinds if ("CodeDeploy Deployment State-change Notification", rollback_id, "SUCCESS") in kinds else None
    kinds = wait_until(collect, 20, "the rollback's SUCCESS event")
    assert ("CodeDeploy Deployment State-change Notification", bad["deploymentId"], "FAILURE") in kinds
    assert ("CodeDeploy Instance State-change Notification", bad["deploymentId"], "FAILURE") in kinds
    instance_failures = [m for m in messages if m["detail-type"] == "CodeDeploy Instance State-change Notification"
                         and m["detail"]["deploymentId"] == bad["deploymentId"] and m["detail"]["state"] == "FAILURE"]
    assert [m["detail"]["instanceId"] for m in instance_failures] == [first_host]
    assert all(m["source"] == "aws.codedeploy" for m in messages)


def test_crash_on_start_fails_validation_on_every_host(aws, fleet, revisions):
    web = fleet(3, deploymentConfigName="CodeDeployDefault.AllAtOnce")
    assert web.deploy_and_wait(revisions["v1"])["status"] == "Succeeded"
    crashed = web.deploy_and_wait(revisions["crash-on-start"])
    assert crashed["status"] == "Failed"
    assert "rollbackInfo" not in crashed, "the group has no automatic rollback"
    for target in web.targets(crashed["deploymentId"]).values():
        failed = failed_event(target)
        assert (failed["lifecycleEventName"], failed["diagnostics"]["errorCode"]) == ("ValidateService", "ScriptFailed")
        assert "DATABASE_URL" in failed["diagnostics"]["logTail"]
    # ApplicationStop ended v1, and the new server exited: nothing answers any more.
    assert all(code == 0 for code, _ in (http_get(h["url"] + "/") for h in web.hosts().values()))


@pytest.mark.slow
def test_slow_start_times_out_application_start(aws, fleet, revisions):
    """Takes the 30 s that appspec.yml gives ApplicationStart, on all hosts at once."""
    web = fleet(3, deploymentConfigName="CodeDeployDefault.AllAtOnce")
    slow = web.deploy_and_wait(revisions["slow-start"])
    assert slow["status"] == "Failed"
    for target in web.targets(slow["deploymentId"]).values():
        failed = failed_event(target)
        assert (failed["lifecycleEventName"], failed["diagnostics"]["errorCode"]) == ("ApplicationStart", "ScriptTimedOut")
        assert "failed to complete in 30 seconds" in failed["diagnostics"]["message"]
        assert "Waiting 45 s for the database" in failed["diagnostics"]["logTail"]
    assert all(code == 0 for code, _ in (http_get(h["url"] + "/") for h in web.hosts().values()))


def test_stop_on_request_rolls_back_and_stopping_an_instance_ends_its_service(aws, emulator, fleet, revisions):
    web = fleet(2, autoRollbackConfiguration=ROLLBACK)
    cd = aws("codedeploy")
    assert web.deploy_and_wait(revisions["v1"])["status"] == "Succeeded"
    deployment_id = web.deploy(revisions["v2"])
    wait_until(lambda: cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
               ["deploymentOverview"]["Succeeded"] == 1, 60, "the first host to take v2")
    cd.stop_deployment(deploymentId=deployment_id)
    stopped = wait_for_deployment(cd, deployment_id)
    assert stopped["status"] == "Stopped"
    rollback = wait_for_deployment(cd, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Succeeded"
    assert set(answers(web).values()) == {"Hello from CI/CD Pipeline v1.0.0!"}

    host = web.hosts()[web.ids[0]]
    (pid,) = app_pids(host)
    assert alive(pid) and host["listening"] and host["processes"] >= 1
    aws("ec2").stop_instances(InstanceIds=[web.ids[0]])
    wait_until(lambda: not alive(pid), 15, "the stopped instance's service to end")
    assert web.hosts()[web.ids[0]]["listening"] is False
