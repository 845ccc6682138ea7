"""Finders for stacks and compute: CloudFormation, Auto Scaling, launch templates, ELBv2, EC2, security groups."""

from __future__ import annotations

from botocore.exceptions import ClientError

from labkit.teardown.context import FindContext
from labkit.teardown.core import Resource, paginate, tags_from_list, wait_until

LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


def find_stacks(ctx: FindContext) -> list[Resource]:
    cfn = ctx.client("cloudformation")
    found = []
    for stack in paginate(cfn, "describe_stacks", "Stacks"):
        if stack.get("StackStatus") == "DELETE_COMPLETE":
            continue
        name = stack["StackName"]
        if ctx.owns("cloudformation stack", name, tags_from_list(stack.get("Tags"))):
            found.append(Resource("cloudformation stack", name,
                                  _delete_stack(cfn, stack["StackId"], ctx.wait_seconds,
                                                ctx.client("s3"))))
    return found


def _delete_stack(cfn, stack_id: str, timeout: float, s3=None):
    def delete():
        if s3 is not None:
            _empty_stack_buckets(cfn, s3, stack_id)
        cfn.delete_stack(StackName=stack_id)

        def gone() -> bool:
            try:
                status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            except ClientError:
                return True
            if status == "DELETE_FAILED":
                raise TimeoutError(f"stack {stack_id} is DELETE_FAILED; see its events")
            return status == "DELETE_COMPLETE"

        wait_until(gone, timeout, f"deleting stack {stack_id}")
    return delete


def _empty_stack_buckets(cfn, s3, stack_id: str) -> None:
    """A stack cannot delete a bucket that still holds objects (it would end DELETE_FAILED):
    empty the stack's own buckets first, every version and delete marker."""
    for resource in paginate(cfn, "list_stack_resources", "StackResourceSummaries",
                             StackName=stack_id):
        if resource.get("ResourceType") != "AWS::S3::Bucket" or \
                resource.get("ResourceStatus") == "DELETE_COMPLETE":
            continue
        bucket = resource.get("PhysicalResourceId")
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                          for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))]
                for start in range(0, len(doomed), 1000):
                    s3.delete_objects(Bucket=bucket, Delete={
                        "Objects": doomed[start:start + 1000], "Quiet": True})
        except ClientError:
            continue  # already gone, or not ours to read: the stack deletion says what is wrong


def find_auto_scaling_groups(ctx: FindContext) -> list[Resource]:
    asg = ctx.client("autoscaling")
    found = []
    for group in paginate(asg, "describe_auto_scaling_groups", "AutoScalingGroups"):
        name = group["AutoScalingGroupName"]
        if ctx.owns("autoscaling group", name, tags_from_list(group.get("Tags"))):
            found.append(Resource("autoscaling group", name,
                                  _delete_auto_scaling_group(asg, name, ctx.wait_seconds)))
    return found


def _delete_auto_scaling_group(asg, name: str, timeout: float):
    def delete():
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        # Its instances and launch template stay in use until the group is really gone.
        wait_until(lambda: not asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"], timeout,
            f"deleting auto scaling group {name}")
    return delete


def find_launch_configurations(ctx: FindContext) -> list[Resource]:
    asg = ctx.client("autoscaling")
    found = []
    for config in paginate(asg, "describe_launch_configurations", "LaunchConfigurations"):
        name = config["LaunchConfigurationName"]
        if ctx.owns("autoscaling launch configuration", name):  # cannot be tagged
            found.append(Resource("autoscaling launch configuration", name,
                                  lambda n=name: asg.delete_launch_configuration(
                                      LaunchConfigurationName=n)))
    return found


def find_launch_templates(ctx: FindContext) -> list[Resource]:
    ec2 = ctx.client("ec2")
    found = []
    for template in paginate(ec2, "describe_launch_templates", "LaunchTemplates"):
        name = template["LaunchTemplateName"]
        if ctx.owns("ec2 launch template", name, tags_from_list(template.get("Tags"))):
            template_id = template["LaunchTemplateId"]
            found.append(Resource("ec2 launch template", name,
                                  lambda t=template_id: ec2.delete_launch_template(
                                      LaunchTemplateId=t)))
    return found


def _elb_tags(elb, arns: list[str]) -> dict[str, dict]:
    tags: dict[str, dict] = {}
    for start in range(0, len(arns), 20):
        for description in elb.describe_tags(ResourceArns=arns[start:start + 20]).get(
                "TagDescriptions", []):
            tags[description["ResourceArn"]] = tags_from_list(description.get("Tags"))
    return tags


def find_load_balancers(ctx: FindContext) -> list[Resource]:
    """Each listener (its own row), then its load balancer."""
    elb = ctx.client("elbv2")
    balancers = paginate(elb, "describe_load_balancers", "LoadBalancers")
    tags = _elb_tags(elb, [b["LoadBalancerArn"] for b in balancers])
    found = []
    for balancer in balancers:
        arn, name = balancer["LoadBalancerArn"], balancer["LoadBalancerName"]
        if not ctx.owns("elbv2 load balancer", name, tags.get(arn)):
            continue
        for listener in paginate(elb, "describe_listeners", "Listeners", LoadBalancerArn=arn):
            found.append(Resource("elbv2 listener", f"{name}:{listener.get('Port')}",
                                  lambda a=listener["ListenerArn"]: elb.delete_listener(
                                      ListenerArn=a)))
        found.append(Resource("elbv2 load balancer", name, _delete_balancer(elb, arn,
                                                                            ctx.wait_seconds)))
    return found


def _delete_balancer(elb, arn: str, timeout: float):
    def delete():
        elb.delete_load_balancer(LoadBalancerArn=arn)

        def gone() -> bool:
            try:
                return not elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
            except ClientError:
                return True

        wait_until(gone, timeout, "deleting the load balancer")
    return delete


def find_target_groups(ctx: FindContext) -> list[Resource]:
    elb = ctx.client("elbv2")
    groups = paginate(elb, "describe_target_groups", "TargetGroups")
    tags = _elb_tags(elb, [g["TargetGroupArn"] for g in groups])
    found = []
    for group in groups:
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        if ctx.owns("elbv2 target group", name, tags.get(arn)):
            found.append(Resource("elbv2 target group", name,
                                  lambda a=arn: elb.delete_target_group(TargetGroupArn=a)))
    return found


def lab_instances(ctx: FindContext, states: list[str] | None = None) -> list[dict]:
    """The lab's EC2 instances (by lab tag, or a Name in the lab) in `states`."""
    ec2 = ctx.client("ec2")
    filters = [{"Name": "instance-state-name", "Values": states or LIVE_INSTANCE_STATES}]
    found = []
    for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=filters):
        for instance in reservation["Instances"]:
            tags = tags_from_list(instance.get("Tags"))
            name = tags.get("Name", "")
            if ctx.owns("ec2 instance", name or instance["InstanceId"], tags):
                found.append(instance)
    return found


def find_instances(ctx: FindContext) -> list[Resource]:
    ec2 = ctx.client("ec2")
    found = []
    for instance in lab_instances(ctx):
        instance_id = instance["InstanceId"]
        name = tags_from_list(instance.get("Tags")).get("Name", "")
        found.append(Resource("ec2 instance", instance_id,
                              _terminate(ec2, instance_id, ctx.wait_seconds), detail=name))
    return found


def _terminate(ec2, instance_id: str, timeout: float):
    def delete():
        ec2.terminate_instances(InstanceIds=[instance_id])

        def terminated() -> bool:
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
            states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
            return not states or all(s == "terminated" for s in states)

        # Its security group and instance profile stay in use until it is terminated.
        wait_until(terminated, timeout, f"terminating {instance_id}", interval=1.0)
    return delete


def find_security_groups(ctx: FindContext) -> list[Resource]:
    ec2 = ctx.client("ec2")
    found = []
    for group in paginate(ec2, "describe_security_groups", "SecurityGroups"):
        name = group["GroupName"]
        if name == "default":
            continue
        if ctx.owns("ec2 security group", name, tags_from_list(group.get("Tags"))):
            found.append(Resource("ec2 security group", name,
                                  lambda g=group["GroupId"]: ec2.delete_security_group(GroupId=g),
                                  detail=group["GroupId"]))
    return found
