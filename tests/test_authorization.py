"""Service-role checks: moto's IAM state decides, explicit Deny wins, no Allow means denied."""

import json

import boto3
import pytest
from moto import mock_aws

from labkit.emulator.authorization import AccessDenied, RoleNotFound, authorize

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam():
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def make_role(iam, name="build-role", **inline):
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    for policy_name, document in inline.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
    return arn


def test_an_allow_scoped_to_a_bucket_allows_only_that_bucket(iam):
    arn = make_role(iam, artifacts=policy({"Effect": "Allow", "Action": "s3:PutObject",
                                           "Resource": "arn:aws:s3:::artifacts/*"}))
    authorize("123456789012", arn, "s3:PutObject", "arn:aws:s3:::artifacts/app.zip")
    with pytest.raises(AccessDenied) as denied:
        authorize("123456789012", arn, "s3:PutObject", "arn:aws:s3:::other/app.zip",
                  session="AWSCodeBuild-1234")
    assert denied.value.message == (
        "User: arn:aws:sts::123456789012:assumed-role/build-role/AWSCodeBuild-1234 is not "
        "authorized to perform: s3:PutObject on resource: arn:aws:s3:::other/app.zip because "
        "no identity-based policy allows the s3:PutObject action")


def test_explicit_deny_wins_over_allow(iam):
    arn = make_role(iam, everything=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
                    guard=policy({"Effect": "Deny", "Action": "s3:DeleteObject",
                                  "Resource": "*"}))
    authorize("123456789012", arn, "s3:GetObject", "arn:aws:s3:::x/y")
    with pytest.raises(AccessDenied) as denied:
        authorize("123456789012", arn, "s3:DeleteObject", "arn:aws:s3:::x/y")
    assert denied.value.explicit and "explicit deny" in denied.value.message


def test_attached_managed_policies_count(iam):
    arn = make_role(iam)
    document = policy({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": "arn:aws:logs:*:*:log-group:/aws/codebuild/*"})
    managed = iam.create_policy(PolicyName="build-logs", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="build-role", PolicyArn=managed)
    authorize("123456789012", arn, "logs:PutLogEvents",
              "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/app:log-stream:x")
    with pytest.raises(AccessDenied):
        authorize("123456789012", arn, "logs:DeleteLogGroup",
                  "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/app")


def test_a_role_without_policies_may_do_nothing_and_a_missing_role_is_named(iam):
    arn = make_role(iam)
    with pytest.raises(AccessDenied):
        authorize("123456789012", arn, "ssm:GetParameters", "*")
    with pytest.raises(RoleNotFound):
        authorize("123456789012", "arn:aws:iam::123456789012:role/deleted", "s3:GetObject", "*")


def test_enforcement_can_be_turned_off(iam, monkeypatch):
    arn = make_role(iam)
    monkeypatch.setenv("LABKIT_ENFORCE_IAM", "0")
    authorize("123456789012", arn, "s3:PutObject", "arn:aws:s3:::anything/key")
