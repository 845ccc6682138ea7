"""EC2 instances for CodeDeploy: launch N tagged instances in one call, and list the hosts that run them.

On the local backend the emulator backs each instance with a folder and a port of its own;
on the aws backend the instances are real Amazon Linux 2023 machines whose user data
installs the CodeDeploy agent and Node.js 20.
"""

from __future__ import annotations

import json
import time
import urllib.request

AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
APP_PORT = 3000  # the sample app's port on a real instance
INSTANCE_ROLE_SUFFIX = "ec2-codedeploy"
# What a CodeDeploy target instance needs: fetch revisions from S3 and be reachable by SSM.
INSTANCE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
EC2_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}

USER_DATA = """#!/bin/bash
# Prepares an Amazon Linux 2023 instance for CodeDeploy: Node.js 20 and the CodeDeploy agent.
set -euxo pipefail
dnf install -y ruby wget nodejs20
# AL2023 installs Node.js 20 as node-20; the hook scripts call plain `node`.
ln -sf "$(command -v node-20)" /usr/local/bin/node
ln -sf "$(command -v npm-20 || true)" /usr/local/bin/npm || true
TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
REGION=$(curl -sH "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)
cd /tmp
wget -q "https://aws-codedeploy-${REGION}.s3.${REGION}.amazonaws.com/latest/install"
chmod +x ./install
./install auto
systemctl enable --now codedeploy-agent
"""


def launch_instances(lab, count: int = 3, *, tags: dict[str, str] | None = None,
                     name: str = "app", instance_type: str = "t3.micro",
                     wait: bool = True, timeout: float = 300) -> list[str]:
    """Launch `count` instances tagged `Name=<prefix>-<name>` plus `tags` and the lab's tags.

    Local: returns once the emulator backs every instance with a host (see `hosts_table`).
    AWS: real instances with an instance profile and user data; returns once they run.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    ec2 = lab.client("ec2")
    all_tags = {"Name": lab.name(name), **lab.tags.as_dict(), **(tags or {})}
    request = {
        "ImageId": _al2023_image(lab),
        "InstanceType": instance_type,
        "MinCount": count,
        "MaxCount": count,
        "TagSpecifications": [{"ResourceType": "instance",
                               "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()]}],
    }
    # The CodeDeploy agent reads revisions with the instance profile's role (locally as on AWS).
    request["IamInstanceProfile"] = {"Name": ensure_instance_profile(lab)}
    if lab.backend == "aws":
        request.update({
            "UserData": USER_DATA,
            "SecurityGroupIds": [ensure_app_security_group(lab)],
            "MetadataOptions": {"HttpTokens": "required"},
        })
        reservation = _run_with_profile_retry(ec2, request, timeout)
    else:
        reservation = ec2.run_instances(**request)
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    if wait:
        if lab.backend == "aws":
            ec2.get_waiter("instance_running").wait(
                InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": max(int(timeout // 5), 1)})
        else:
            wait_for_hosts(lab, ids, timeout=timeout)
    return ids


def hosts(lab) -> list[dict]:
    """The emulator's hosts (GET /_labkit/hosts); on AWS, the lab's running instances."""
    if lab.backend == "aws":
        return _aws_hosts(lab)
    with urllib.request.urlopen(f"{lab.endpoint_url}/_labkit/hosts", timeout=10) as response:
        return json.load(response)["hosts"]


def hosts_table(lab):
    """A pandas DataFrame: one row per host with its instance id, state, URL and Name tag."""
    import pandas as pd

    rows = [{"instanceId": h["instanceId"], "name": (h.get("tags") or {}).get("Name", ""),
             "state": h["state"], "url": h["url"], "port": h.get("port"),
             "listening": h.get("listening")} for h in hosts(lab)]
    columns = ["instanceId", "name", "state", "url", "port", "listening"]
    return pd.DataFrame(rows, columns=columns)


def wait_for_hosts(lab, instance_ids: list[str], timeout: float = 60) -> list[dict]:
    """Poll until the emulator backs every instance in `instance_ids`; return their hosts."""
    deadline = time.monotonic() + timeout
    while True:
        found = {h["instanceId"]: h for h in hosts(lab)}
        if all(i in found for i in instance_ids):
            return [found[i] for i in instance_ids]
        if time.monotonic() > deadline:
            missing = [i for i in instance_ids if i not in found]
            raise TimeoutError(f"The emulator did not back {', '.join(missing)} within {timeout:.0f}s.")
        time.sleep(0.2)


def ensure_instance_profile(lab) -> str:
    """An instance profile whose role lets the CodeDeploy agent read revisions from S3."""
    iam = lab.client("iam")
    name = lab.name(INSTANCE_ROLE_SUFFIX)
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST_POLICY),
                        Description="labkit: EC2 instances that CodeDeploy deploys to",
                        Tags=lab.tags.as_list())
    for policy in INSTANCE_ROLE_POLICIES:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    try:
        iam.get_instance_profile(InstanceProfileName=name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_instance_profile(InstanceProfileName=name, Tags=lab.tags.as_list())
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


def ensure_app_security_group(lab, cidr: str = "0.0.0.0/0") -> str:
    """A security group in the default VPC that lets `cidr` reach the app's port."""
    ec2 = lab.client("ec2")
    name = lab.name("app")
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    if found["SecurityGroups"]:
        return found["SecurityGroups"][0]["GroupId"]
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise RuntimeError("This region has no default VPC; create one with `aws ec2 create-default-vpc`.")
    group_id = ec2.create_security_group(
        GroupName=name, Description="labkit sample app port", VpcId=vpcs[0]["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": lab.tags.as_list()}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": APP_PORT, "ToPort": APP_PORT,
        "IpRanges": [{"CidrIp": cidr, "Description": "the sample app"}]}])
    return group_id


def _al2023_image(lab) -> str:
    return lab.client("ssm").get_parameter(Name=AL2023_AMI_PARAMETER)["Parameter"]["Value"]


def _run_with_profile_retry(ec2, request: dict, timeout: float) -> dict:
    # A new instance profile takes a few seconds to be usable by EC2; retry only that error.
    deadline = time.monotonic() + min(timeout, 60)
    while True:
        try:
            return ec2.run_instances(**request)
        except ec2.exceptions.ClientError as exc:
            message = str(exc)
            if "instance profile" not in message.lower() or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _aws_hosts(lab) -> list[dict]:
    ec2 = lab.client("ec2")
    filters = [{"Name": "tag:labkit:lab", "Values": [lab.prefix]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    found = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                address = instance.get("PublicIpAddress") or instance.get("PrivateIpAddress", "")
                found.append({
                    "instanceId": instance["InstanceId"], "state": instance["State"]["Name"],
                    "root": "/", "port": APP_PORT,
                    "url": f"http://{address}:{APP_PORT}" if address else "",
                    "tags": {t["Key"]: t["Value"] for t in instance.get("Tags", [])},
                    "listening": None,
                })
    return found
