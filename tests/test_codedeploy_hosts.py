"""Local hosts behind moto's EC2 instances: GET /_labkit/hosts, the learner helper, and the
helper's aws path (run against in-process moto, never real AWS)."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid

import boto3
import pytest
from moto import mock_aws
from pipeline_helpers import make_instance_profile, make_role

from labkit.config import LabConfig
from labkit.lab import Lab
from labkit.services import hosts as host_helpers


def emulator_hosts(emulator) -> dict[str, dict]:
    with urllib.request.urlopen(f"{emulator.url}/_labkit/hosts", timeout=10) as response:
        return {h["instanceId"]: h for h in json.load(response)["hosts"]}


def wait_until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_helper_launches_tagged_instances_that_the_emulator_backs(lab, emulator):
    marker = uuid.uuid4().hex[:8]
    ids = host_helpers.launch_instances(lab, 3, tags={"Env": marker}, name="web")
    ec2 = lab.client("ec2")
    try:
        listed = emulator_hosts(emulator)
        ports = {listed[i]["port"] for i in ids}
        assert len(ports) == 3, "every host has a port of its own"
        for instance_id in ids:
            host = listed[instance_id]
            assert host["state"] == "running"
            assert host["url"] == f"http://127.0.0.1:{host['port']}"
            assert host["root"].endswith(f"/hosts/{instance_id}")
            assert (emulator.state_dir / "hosts" / instance_id / "home" / "ec2-user").is_dir()
            assert host["tags"]["Env"] == marker and host["tags"]["Name"] == lab.name("web")
            assert host["tags"]["labkit:lab"] == lab.prefix
            assert host["listening"] is False
        table = host_helpers.hosts_table(lab)
        assert list(table.columns) == ["instanceId", "name", "state", "url", "port", "listening"]
        assert set(ids) <= set(table["instanceId"])
    finally:
        ec2.terminate_instances(InstanceIds=ids)
    wait_until(lambda: not set(ids) & set(emulator_hosts(emulator)), what="terminated hosts to go")


def test_a_stopped_instance_keeps_its_port_and_is_shown_stopped(aws, emulator):
    ec2 = aws("ec2")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    try:
        port = emulator_hosts(emulator)[instance_id]["port"]
        ec2.stop_instances(InstanceIds=[instance_id])
        stopped = wait_until(lambda: emulator_hosts(emulator)[instance_id]["state"] == "stopped",
                             what="the host to show the instance stopped")
        assert stopped
        ec2.start_instances(InstanceIds=[instance_id])
        host = emulator_hosts(emulator)[instance_id]
        assert host["state"] == "running" and host["port"] == port
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_hosts_endpoint_is_listed_among_internal_routes(emulator):
    request = urllib.request.Request(f"{emulator.url}/_labkit/nope")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert "GET /_labkit/hosts" in info.value.read().decode()


# --- the aws backend, against in-process moto ---------------------------------------------------


@pytest.fixture
def moto_lab(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # Real accounts have AWS's managed policies; moto loads them only when asked.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with mock_aws():
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name="us-east-1")
        # moto's account is declared a sandbox, as a learner declares theirs.
        config = LabConfig(backend="aws", region="us-east-1", prefix="lk-test",
                           sandbox_accounts=("123456789012",))
        yield Lab(config, session)


def test_aws_path_launches_al2023_with_profile_and_user_data(moto_lab):
    ids = host_helpers.launch_instances(moto_lab, 2, tags={"Env": "dev"}, timeout=30)
    ec2 = moto_lab.client("ec2")
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 2 and all(i["State"]["Name"] == "running" for i in instances)
    ami = moto_lab.client("ssm").get_parameter(Name=host_helpers.AL2023_AMI_PARAMETER)["Parameter"]["Value"]
    for instance in instances:
        assert instance["ImageId"] == ami
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["Env"] == "dev" and tags["labkit:lab"] == "lk-test" and tags["Name"] == "lk-test-app"
        user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
        script = base64.b64decode(user_data["UserData"]["Value"]).decode()
        assert "codedeploy-agent" in script and "nodejs20" in script
    # moto associates the profile with the first instance of a reservation only.
    associations = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    assert any(a["InstanceId"] in ids and a["IamInstanceProfile"]["Arn"].endswith("/lk-test-ec2-codedeploy")
               for a in associations)
    iam = moto_lab.client("iam")
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="lk-test-ec2-codedeploy")["AttachedPolicies"]}
    assert "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in attached
    groups = ec2.describe_security_groups(GroupNames=["lk-test-app"])["SecurityGroups"]
    assert groups[0]["IpPermissions"][0]["FromPort"] == 3000
    table = host_helpers.hosts_table(moto_lab)
    assert set(table["instanceId"]) == set(ids)
    # A second launch reuses the role, profile and security group.
    more = host_helpers.launch_instances(moto_lab, 1, timeout=30)
    assert len(more) == 1


def test_reset_and_stop_end_what_hooks_left_running(tmp_path):
    """On an emulator of its own (a reset would wipe the shared one): a service a hook started
    in the background is ended by POST /_labkit/reset, and nothing outlives `stop`."""
    import io
    import tarfile

    import psutil
    from botocore.config import Config
    from conftest import free_port, processes_working_in

    from labkit import emulator_control

    state = tmp_path / "state"
    info = emulator_control.start(state, free_port())
    try:
        def client(service):
            return boto3.client(service, region_name="us-east-1", endpoint_url=info.url,
                                config=Config(s3={"addressing_style": "path"}))
        start = ("#!/bin/bash\nnohup sleep 300 > /dev/null 2>&1 < /dev/null &\n"
                 "echo $! > \"$LABKIT_HOST_ROOT/tmp/service.pid\"\n")
        files = {"appspec.yml": ("version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n"
                                 "    - location: start.sh\n", 0o644), "start.sh": (start, 0o755)}
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, (text, mode) in files.items():
                member = tarfile.TarInfo(name)
                member.size, member.mode = len(text.encode()), mode
                archive.addfile(member, io.BytesIO(text.encode()))
        client("s3").create_bucket(Bucket="rev")
        client("s3").put_object(Bucket="rev", Key="r.tgz", Body=buffer.getvalue())
        role = make_role(client, "cd", service="codedeploy.amazonaws.com")
        instance = client("ec2").run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
            IamInstanceProfile={"Name": make_instance_profile(client)})["Instances"][0]["InstanceId"]
        cd = client("codedeploy")
        cd.create_application(applicationName="a")
        cd.create_deployment_group(applicationName="a", deploymentGroupName="g", serviceRoleArn=role,
                                   ec2TagFilters=[{"Key": "Name", "Type": "KEY_ONLY"}])
        client("ec2").create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": "web"}])
        deployment_id = cd.create_deployment(applicationName="a", deploymentGroupName="g", revision={
            "revisionType": "S3", "s3Location": {"bucket": "rev", "key": "r.tgz", "bundleType": "tgz"}})["deploymentId"]
        wait_until(lambda: cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == "Succeeded",
                   60, "the deployment")
        pid = int((state / "hosts" / instance / "tmp/service.pid").read_text())
        assert psutil.pid_exists(pid)
        request = urllib.request.Request(f"{info.url}/_labkit/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["processesEnded"] >= 1
        wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
                   10, "the background service to end")
        assert emulator_hosts(info) == {}
    finally:
        emulator_control.stop(state)
    assert not processes_working_in(state)


@pytest.mark.parametrize("bundle_type", ["zip", "tgz"])
def test_a_revision_member_outside_its_folder_is_refused(tmp_path, bundle_type):
    import io
    import tarfile
    import zipfile

    from labkit.emulator.codedeploy import revisions

    buffer = io.BytesIO()
    if bundle_type == "zip":
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("appspec.yml", "version: 0.0\n")
            archive.writestr("../escaped.txt", "outside\n")
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name in ("appspec.yml", "../escaped.txt"):
                info = tarfile.TarInfo(name)
                info.size = 4
                archive.addfile(info, io.BytesIO(b"data"))
    with pytest.raises(revisions.RevisionError, match="outside the revision folder"):
        revisions.unpack(buffer.getvalue(), bundle_type, tmp_path / "revision")
    assert not (tmp_path / "escaped.txt").exists()
