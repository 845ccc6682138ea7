"""Finders for IAM: instance profiles, roles, customer managed policies, users with their keys."""

from __future__ import annotations

from botocore.exceptions import ClientError

from labkit.teardown.context import FindContext
from labkit.teardown.core import LOOKUP_ERRORS, Resource, paginate, tags_from_list


def _tags(call) -> dict:
    try:
        return tags_from_list(call().get("Tags"))
    except LOOKUP_ERRORS:
        return {}


def find_instance_profiles(ctx: FindContext) -> list[Resource]:
    iam = ctx.client("iam")
    found = []
    for profile in paginate(iam, "list_instance_profiles", "InstanceProfiles"):
        name = profile["InstanceProfileName"]
        tags = _tags(lambda n=name: iam.list_instance_profile_tags(InstanceProfileName=n))
        if ctx.owns("iam instance profile", name, tags):
            found.append(Resource("iam instance profile", name, _delete_profile(iam, name)))
    return found


def _delete_profile(iam, name: str):
    def delete():
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        for role in profile.get("Roles", []):
            iam.remove_role_from_instance_profile(InstanceProfileName=name,
                                                  RoleName=role["RoleName"])
        iam.delete_instance_profile(InstanceProfileName=name)
    return delete


def find_roles(ctx: FindContext) -> list[Resource]:
    iam = ctx.client("iam")
    found = []
    for role in paginate(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue  # service-linked roles belong to AWS services, never to a lab
        tags = _tags(lambda n=name: iam.list_role_tags(RoleName=n))
        if ctx.owns("iam role", name, tags):
            found.append(Resource("iam role", name, _delete_role(iam, name)))
    return found


def _delete_role(iam, name: str):
    def delete():
        for profile in paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles",
                                RoleName=name):
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
        for policy in paginate(iam, "list_attached_role_policies", "AttachedPolicies",
                               RoleName=name):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in paginate(iam, "list_role_policies", "PolicyNames", RoleName=name):
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)
    return delete


def find_policies(ctx: FindContext) -> list[Resource]:
    iam = ctx.client("iam")
    found = []
    for policy in paginate(iam, "list_policies", "Policies", Scope="Local"):
        name, arn = policy["PolicyName"], policy["Arn"]
        tags = _tags(lambda a=arn: iam.list_policy_tags(PolicyArn=a))
        if ctx.owns("iam policy", name, tags):
            found.append(Resource("iam policy", name, _delete_policy(iam, arn)))
    return found


def _delete_policy(iam, arn: str):
    def delete():
        entities = iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn)
        for page in entities:
            for role in page.get("PolicyRoles", []):
                iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
            for user in page.get("PolicyUsers", []):
                iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
            for group in page.get("PolicyGroups", []):
                iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
        for version in paginate(iam, "list_policy_versions", "Versions", PolicyArn=arn):
            if not version.get("IsDefaultVersion"):
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)
    return delete


def find_users(ctx: FindContext) -> list[Resource]:
    """Each user's access keys (their own rows, ids only: never a secret), then the user."""
    iam = ctx.client("iam")
    found = []
    for user in paginate(iam, "list_users", "Users"):
        name = user["UserName"]
        tags = _tags(lambda n=name: iam.list_user_tags(UserName=n))
        if not ctx.owns("iam user", name, tags):
            continue
        for key in paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=name):
            key_id = key["AccessKeyId"]
            found.append(Resource("iam access key", f"{name}/{mask_key_id(key_id)}",
                                  lambda n=name, k=key_id: iam.delete_access_key(
                                      UserName=n, AccessKeyId=k)))
        found.append(Resource("iam user", name, _delete_user(iam, name)))
    return found


def mask_key_id(key_id: str) -> str:
    """Only the last four characters of an access key id, as the AWS console shows it."""
    return f"****{key_id[-4:]}"


def _delete_user(iam, name: str):
    def delete():
        for key in paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=name):
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        for policy in paginate(iam, "list_attached_user_policies", "AttachedPolicies",
                               UserName=name):
            iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in paginate(iam, "list_user_policies", "PolicyNames", UserName=name):
            iam.delete_user_policy(UserName=name, PolicyName=policy_name)
        for group in paginate(iam, "list_groups_for_user", "Groups", UserName=name):
            iam.remove_user_from_group(UserName=name, GroupName=group["GroupName"])
        try:
            iam.delete_login_profile(UserName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
        iam.delete_user(UserName=name)
    return delete
