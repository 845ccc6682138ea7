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
    return needed


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
