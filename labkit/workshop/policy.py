"""The IAM policy that keeps one learner to their prefix in a shared sandbox account.

Where a service has resource-level permissions the policy allows a learner's actions only on ARNs
that start with their prefix; where it does not, it allows what the course needs on "*" and
`LIMITS` says so. Nothing in it allows another learner's resources: IAM denies whatever no
statement allows (an implicit deny).
"""

from __future__ import annotations

import json

# (service, what the policy cannot limit to the prefix, and why)
LIMITS = (
    ("all services", "List*/Describe* calls (ListRepositories, ListPipelines, DescribeInstances ...) "
                     "have no resource-level permissions: learners see each other's resource names, "
                     "not their contents"),
    ("ec2", "RunInstances, security groups and instance state are limited by the labkit:lab tag "
            "(aws:RequestTag / aws:ResourceTag conditions), not by name; a launch may use any "
            "image, subnet or security group of the account"),
    ("ssm", "the sample app reads /my-app/<environment>/log-level, names without the prefix: every "
            "learner in one account shares those parameters"),
    ("iam", "a learner may attach any policy to roles named with their prefix; set a permissions "
            "boundary on the learners' roles for a stricter room"),
    ("cloudwatch", "PutMetricData and GetMetricData have no resource-level permissions"),
    ("ce", "Cost Explorer answers for the whole account (ce:GetCostAndUsage on *)"),
)

READ_ONLY_EVERYWHERE = sorted([
    "sts:GetCallerIdentity", "codecommit:ListRepositories", "codecommit:ListApprovalRuleTemplates",
    "codebuild:ListProjects", "codebuild:ListBuilds", "codebuild:ListCuratedEnvironmentImages",
    "codebuild:ListReportGroups", "codedeploy:ListApplications", "codedeploy:ListDeploymentConfigs",
    "codedeploy:GetDeploymentConfig", "codepipeline:ListPipelines", "codepipeline:ListActionTypes",
    "ec2:Describe*", "elasticloadbalancing:Describe*", "s3:ListAllMyBuckets", "iam:ListRoles",
    "iam:ListPolicies", "iam:ListUsers", "logs:DescribeLogGroups", "cloudwatch:Describe*",
    "cloudwatch:List*", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
    "cloudwatch:PutMetricData", "events:ListRules", "ssm:DescribeParameters",
    "secretsmanager:ListSecrets", "sns:ListTopics", "cloudformation:ListStacks",
    "cloudformation:ValidateTemplate", "cloudformation:DescribeStacks", "ce:GetCostAndUsage",
    "tag:GetResources", "autoscaling:Describe*", "sqs:ListQueues",
])

SERVICE_ACTIONS = ("codecommit", "codebuild", "codedeploy", "codepipeline", "s3", "ssm",
                   "secretsmanager", "logs", "events", "cloudwatch", "sns", "sqs", "cloudformation",
                   "elasticloadbalancing", "autoscaling", "budgets", "iam")


def prefix_resources(prefix: str, account: str = "*", region: str = "*") -> dict[str, list[str]]:
    """Per service, the ARN patterns of a lab's resources (names `<prefix>-...` or `/<prefix>/...`)."""
    p, a, r = prefix, account, region
    return {
        "codecommit": [f"arn:aws:codecommit:{r}:{a}:{p}-*"],
        "codebuild": [f"arn:aws:codebuild:{r}:{a}:project/{p}-*",
                      f"arn:aws:codebuild:{r}:{a}:build/{p}-*",
                      f"arn:aws:codebuild:{r}:{a}:report-group/{p}-*",
                      f"arn:aws:codebuild:{r}:{a}:report/{p}-*"],
        "codedeploy": [f"arn:aws:codedeploy:{r}:{a}:application:{p}-*",
                       f"arn:aws:codedeploy:{r}:{a}:deploymentgroup:{p}-*",
                       f"arn:aws:codedeploy:{r}:{a}:deploymentconfig:{p}-*"],
        "codepipeline": [f"arn:aws:codepipeline:{r}:{a}:{p}-*"],
        "s3": [f"arn:aws:s3:::{p}-*"],
        "ssm": [f"arn:aws:ssm:{r}:{a}:parameter/{p}/*", f"arn:aws:ssm:{r}:{a}:parameter/{p}-*",
                f"arn:aws:ssm:{r}:{a}:parameter/my-app/*"],
        "secretsmanager": [f"arn:aws:secretsmanager:{r}:{a}:secret:{p}/*",
                           f"arn:aws:secretsmanager:{r}:{a}:secret:{p}-*"],
        "logs": [f"arn:aws:logs:{r}:{a}:log-group:/aws/codebuild/{p}-*",
                 f"arn:aws:logs:{r}:{a}:log-group:{p}-*", f"arn:aws:logs:{r}:{a}:log-group:/{p}/*"],
        "events": [f"arn:aws:events:{r}:{a}:rule/{p}-*"],
        "cloudwatch": [f"arn:aws:cloudwatch:{r}:{a}:alarm:{p}-*",
                       f"arn:aws:cloudwatch::{a}:dashboard/{p}-*"],
        "sns": [f"arn:aws:sns:{r}:{a}:{p}-*"],
        "sqs": [f"arn:aws:sqs:{r}:{a}:{p}-*"],
        "autoscaling": [f"arn:aws:autoscaling:{r}:{a}:autoScalingGroup:*:autoScalingGroupName/{p}-*",
                        f"arn:aws:autoscaling:{r}:{a}:launchConfiguration:*:launchConfigurationName/{p}-*"],
        "budgets": [f"arn:aws:budgets::{a}:budget/{p}-*"],
        "cloudformation": [f"arn:aws:cloudformation:{r}:{a}:stack/{p}-*"],
        "elasticloadbalancing": [f"arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/app/{p}-*",
                                 f"arn:aws:elasticloadbalancing:{r}:{a}:targetgroup/{p}-*",
                                 f"arn:aws:elasticloadbalancing:{r}:{a}:listener/app/{p}-*",
                                 f"arn:aws:elasticloadbalancing:{r}:{a}:listener-rule/app/{p}-*"],
        "iam": [f"arn:aws:iam::{a}:role/{p}-*", f"arn:aws:iam::{a}:user/{p}-*",
                f"arn:aws:iam::{a}:policy/{p}-*", f"arn:aws:iam::{a}:instance-profile/{p}-*"],
    }


def learner_policy(prefix: str, learner_id: str, account: str = "*", region: str = "*",
                   workshop_bucket: str = "") -> dict:
    """The policy document for one learner: their prefix's resources, read-only listings, their tag."""
    resources = prefix_resources(prefix, account, region)
    statements = [{"Sid": "ListAndDescribe", "Effect": "Allow", "Action": READ_ONLY_EVERYWHERE,
                   "Resource": "*"}]
    # One statement for every service's own-prefix ARNs keeps the policy under IAM's 6,144
    # characters; an action only ever applies to its own service's ARNs.
    statements.append({"Sid": "OwnPrefix", "Effect": "Allow",
                       "Action": [f"{service}:*" for service in SERVICE_ACTIONS],
                       "Resource": [arn for service in SERVICE_ACTIONS for arn in resources[service]]})
    # RunInstances also touches the image, subnet, network interface and security group: those
    # need no tag; what it creates (the instance, its volumes) must carry the learner's lab tag.
    statements.append({"Sid": "Ec2LaunchInputs", "Effect": "Allow", "Action": "ec2:RunInstances",
                       "Resource": [f"arn:aws:ec2:{region}::image/*"] + [
                           f"arn:aws:ec2:{region}:{account}:{kind}/*"
                           for kind in ("subnet", "network-interface", "security-group", "key-pair")]})
    statements.append({"Sid": "Ec2CreateWithOwnTag", "Effect": "Allow",
                       "Action": ["ec2:RunInstances", "ec2:CreateSecurityGroup", "ec2:CreateTags",
                                  "ec2:CreateLaunchTemplate"],
                       "Resource": "*",
                       "Condition": {"StringEquals": {"aws:RequestTag/labkit:lab": prefix}}})
    statements.append({"Sid": "Ec2OwnTagged", "Effect": "Allow",
                       "Action": ["ec2:TerminateInstances", "ec2:StopInstances",
                                  "ec2:StartInstances", "ec2:DeleteSecurityGroup",
                                  "ec2:DeleteLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
                                  "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                       "Resource": "*",
                       "Condition": {"StringEquals": {"aws:ResourceTag/labkit:lab": prefix}}})
    if workshop_bucket:
        statements.append({"Sid": "OwnProgressRecord", "Effect": "Allow",
                           "Action": ["s3:GetObject", "s3:PutObject"],
                           "Resource": f"arn:aws:s3:::{workshop_bucket}/progress/{learner_id}.jsonl"})
        statements.append({"Sid": "SeeOwnProgressRecord", "Effect": "Allow", "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{workshop_bucket}",
                           "Condition": {"StringEquals": {"s3:prefix": f"progress/{learner_id}.jsonl"}}})
        statements.append({"Sid": "WorkshopRoster", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{workshop_bucket}/progress/roster.csv"})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_name(workshop_name: str, learner_id: str) -> str:
    return f"{workshop_name}-workshop-{learner_id}"


def policy_json(document: dict) -> str:
    """Compact JSON: a managed policy holds at most 6,144 characters (whitespace not counted)."""
    return json.dumps(document, separators=(",", ":"))


def limits_text() -> str:
    return "\n".join(f"  - {service}: {why}" for service, why in LIMITS)


def create_policy(lab, workshop_name: str, learner_id: str, document: dict) -> str:
    """Create (or update to a new default version) the learner's managed policy; return its ARN.

    It is tagged with the workshop's name (not the learner's prefix), so resetting a learner
    keeps their permissions and the workshop's teardown removes it.
    """
    iam = lab.client("iam")
    name = policy_name(workshop_name, learner_id)
    arn = f"arn:aws:iam::{lab.account_id}:policy/{name}"
    tags = [{"Key": "labkit:lab", "Value": workshop_name}, {"Key": "labkit:created-by", "Value": "labkit"},
            {"Key": "labkit:learner", "Value": learner_id}]
    try:
        return iam.create_policy(PolicyName=name, PolicyDocument=policy_json(document),
                                 Description=f"labkit workshop {workshop_name}: {learner_id}'s prefix only",
                                 Tags=tags)["Policy"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= 5:  # IAM keeps at most five versions: drop the oldest spare one
            spare = sorted((v for v in versions if not v["IsDefaultVersion"]),
                           key=lambda v: v["CreateDate"])
            iam.delete_policy_version(PolicyArn=arn, VersionId=spare[0]["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy_json(document), SetAsDefault=True)
        return arn
