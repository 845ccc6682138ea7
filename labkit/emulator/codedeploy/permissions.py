"""CodeDeploy acts as roles: the group's service role (trusted, allowed to find targets) and each host's instance profile (allowed to read the revision)."""

from __future__ import annotations

from labkit.emulator.authorization import (
    AccessDenied,
    RoleNotFound,
    authorize,
    enforcing,
    trusts_service,
)

SERVICE_PRINCIPAL = "codedeploy.amazonaws.com"
SESSION = "CodeDeploy"
# The names AWS puts in IAM_ROLE_PERMISSIONS messages, per action prefix.
SERVICE_NAMES = {"ec2": "AmazonEC2", "tag": "AWSResourceGroupsTaggingAPI",
                 "autoscaling": "AmazonAutoScaling", "elasticloadbalancing": "ElasticLoadBalancing",
                 "cloudwatch": "AmazonCloudWatch"}
# The agent's answer when an instance has no credentials to call S3 with.
NO_CREDENTIALS = ("Missing credentials - please check if this instance was started with an IAM "
                  "instance profile")


def role_trusts_codedeploy(account_id: str, role_arn: str) -> bool:
    """Whether CodeDeploy may assume the role now (it exists and trusts codedeploy.amazonaws.com)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    try:
        role = iam_backends[parts[4] or account_id]["global"].get_role_by_arn(role_arn)
    except Exception:
        return False
    return trusts_service(role.assume_role_policy_document, SERVICE_PRINCIPAL)


def service_role_actions(settings: dict, region: str, account_id: str) -> list[tuple[str, str]]:
    """(action, resource) pairs CodeDeploy performs as the group's role to run a deployment."""
    needed = [("ec2:DescribeInstances", "*"), ("ec2:DescribeInstanceStatus", "*")]
    if settings.get("ec2TagFilters") or settings.get("ec2TagSet"):
        needed.append(("tag:GetResources", "*"))
    if settings.get("autoScalingGroups"):
        needed.append(("autoscaling:DescribeAutoScalingGroups", "*"))
    if (settings.get("alarmConfiguration") or {}).get("enabled"):
        needed.append(("cloudwatch:DescribeAlarms", "*"))
    style = settings.get("deploymentStyle") or {}
    if style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL":
        info = settings.get("loadBalancerInfo") or {}
        needed += [("elasticloadbalancing:DescribeTargetGroups", "*"),
                   ("elasticloadbalancing:DescribeTargetHealth", "*")]
        for group in info.get("targetGroupInfoList") or []:
            arn = _target_group_arn(account_id, region, group.get("name", ""))
            needed += [("elasticloadbalancing:RegisterTargets", arn),
                       ("elasticloadbalancing:DeregisterTargets", arn)]
        for elb in info.get("elbInfoList") or []:
            arn = f"arn:aws:elasticloadbalancing:{region}:{account_id}:loadbalancer/{elb.get('name', '')}"
            needed += [("elasticloadbalancing:RegisterInstancesWithLoadBalancer", arn),
                       ("elasticloadbalancing:DeregisterInstancesFromLoadBalancer", arn)]
    needed += _green_fleet_actions(settings, region, account_id)
    return needed


def _green_fleet_actions(settings: dict, region: str, account_id: str) -> list[tuple[str, str]]:
    """Blue/green that copies the Auto Scaling group: CodeDeploy creates, tags and later deletes a
    group, launches its instances and passes their instance profile's role to EC2."""
    from labkit.emulator.codedeploy import bluegreen

    if not bluegreen.is_blue_green(settings):
        return []
    config = settings.get("blueGreenDeploymentConfiguration") or {}
    provisioning = ((config.get("greenFleetProvisioningOption") or {}).get("action")
                    or "DISCOVER_EXISTING")
    if provisioning != "COPY_AUTO_SCALING_GROUP":
        return []
    group_arn = f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/*"
    needed = [("autoscaling:CreateAutoScalingGroup", group_arn),
              ("autoscaling:UpdateAutoScalingGroup", group_arn),
              ("autoscaling:CreateOrUpdateTags", group_arn),
              ("autoscaling:DeleteAutoScalingGroup", group_arn),
              ("ec2:RunInstances", "*"), ("ec2:CreateTags", "*")]
    for name in settings.get("autoScalingGroups") or []:
        role_arn = _launch_role_arn(account_id, region, name)
        if role_arn:
            needed.append(("iam:PassRole", role_arn))
    return needed


def _launch_role_arn(account_id: str, region: str, group_name: str) -> str | None:
    """The role in the instance profile the Auto Scaling group launches its instances with."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.iam.models import iam_backends

    from labkit.emulator.codedeploy.bluegreen import _instance_profile_of

    group = autoscaling_backends[account_id][region].autoscaling_groups.get(group_name)
    profile = _instance_profile_of(group) if group is not None else None
    if not profile:
        return None
    name = profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1]
    for candidate in iam_backends[account_id]["global"].instance_profiles.values():
        if candidate.name == name and candidate.roles:
            return candidate.roles[0].arn
    return None


def may_publish(account_id: str, role_arn: str, topic_arn: str) -> str | None:
    """Why the group's role may not publish a trigger's notification (None when it may)."""
    if not enforcing():
        return None
    try:
        authorize(account_id, role_arn, "sns:Publish", topic_arn, session=SESSION)
    except RoleNotFound:
        return f"the role {role_arn} does not exist"
    except AccessDenied as denied:
        return denied.message
    return None


def _target_group_arn(account_id: str, region: str, name: str) -> str:
    from moto.elbv2.models import elbv2_backends

    try:
        for group in elbv2_backends[account_id][region].target_groups.values():
            if group.name == name:
                return group.arn
    except Exception:  # no ELBv2 state yet: a name-shaped ARN still matches wildcard policies
        pass
    return f"arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/{name}/*"


def service_role_error(account_id: str, region: str, settings: dict) -> dict | None:
    """The deployment's errorInformation when the group's role cannot be used, as AWS reports it."""
    if not enforcing():
        return None
    role_arn = settings.get("serviceRoleArn", "")
    if not role_trusts_codedeploy(account_id, role_arn):
        return {"code": "IAM_ROLE_MISSING",
                "message": f"CodeDeploy does not have the permissions required to assume the role "
                           f"{role_arn}: it does not exist or does not trust {SERVICE_PRINCIPAL}."}
    for action, resource in service_role_actions(settings, region, account_id):
        try:
            authorize(account_id, role_arn, action, resource, session=SESSION)
        except RoleNotFound:
            return {"code": "IAM_ROLE_MISSING",
                    "message": f"CodeDeploy does not have the permissions required to assume the "
                               f"role {role_arn}."}
        except AccessDenied as denied:
            service = SERVICE_NAMES.get(action.split(":")[0], action.split(":")[0])
            return {"code": "IAM_ROLE_PERMISSIONS",
                    "message": f"The IAM role {role_arn} does not give you permission to perform "
                               f"operations in the following AWS service: {service}. Contact your "
                               "AWS administrator if you need help. If you are an AWS "
                               "administrator, you can grant permissions to your users or groups "
                               f"by creating IAM policies. ({denied.message})"}
    return None


def instance_role_arn(account_id: str, region: str, instance_id: str) -> str | None:
    """The role in the instance's IAM instance profile, or None when it has no profile (or role)."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    associations = backend.iam_instance_profile_associations  # one per instance, keyed by its id
    association = associations.get(instance_id)
    if association is None:
        # moto associates a RunInstances profile with the first instance of the request only;
        # on AWS every instance of the request has it, so the others borrow the first one's.
        for reservation in list(backend.reservations.values()):
            ids = [i.id for i in reservation.instances]
            if instance_id in ids:
                association = next((associations[i] for i in ids if i in associations), None)
                break
    profile = getattr(association, "iam_instance_profile", None)
    roles = getattr(profile, "roles", None) or []
    return roles[0].arn if roles else None


def download_problem(account_id: str, region: str, instance_id: str, s3_location: dict) -> str | None:
    """Why the agent on this instance may not read the revision (DownloadBundle fails), or None."""
    if not enforcing():
        return None
    role_arn = instance_role_arn(account_id, region, instance_id)
    if role_arn is None:
        return NO_CREDENTIALS
    action = "s3:GetObjectVersion" if s3_location.get("version") else "s3:GetObject"
    resource = f"arn:aws:s3:::{s3_location.get('bucket')}/{s3_location.get('key')}"
    try:
        # The agent's credentials are the instance's role, in a session named after the instance.
        authorize(account_id, role_arn, action, resource, session=instance_id)
    except RoleNotFound:
        return NO_CREDENTIALS
    except AccessDenied as denied:
        return f"Access Denied: {denied.message}"
    return None
