"""Finders for data and messaging: S3 buckets, SNS topics, SQS queues, SSM parameters, secrets."""

from __future__ import annotations

from labkit.teardown.context import FindContext
from labkit.teardown.core import LOOKUP_ERRORS, CannotDelete, Resource, paginate, tags_from_list


def find_buckets(ctx: FindContext) -> list[Resource]:
    s3 = ctx.client("s3")
    found = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        try:
            tags = tags_from_list(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
        except LOOKUP_ERRORS:
            tags = {}  # NoSuchTagSet, or a bucket in another region we cannot read
        if ctx.owns("s3 bucket", name, tags):
            found.append(Resource("s3 bucket", name, _empty_and_delete(s3, name)))
    return found


def _empty_and_delete(s3, bucket: str):
    def delete():
        # Every object version and delete marker, then unfinished uploads, then the bucket.
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))]
            for start in range(0, len(doomed), 1000):
                answer = s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": doomed[start:start + 1000], "Quiet": True})
                refused = answer.get("Errors", [])
                if refused:
                    first = refused[0]
                    raise CannotDelete(f"{len(refused)} object version(s) could not be deleted, "
                                       f"e.g. {first.get('Key')}: {first.get('Code')}: "
                                       f"{first.get('Message')}")
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=bucket)
    return delete


def find_topics(ctx: FindContext) -> list[Resource]:
    """Each confirmed subscription (its own row), then the topic."""
    sns = ctx.client("sns")
    found = []
    for topic in paginate(sns, "list_topics", "Topics"):
        arn = topic["TopicArn"]
        name = arn.rsplit(":", 1)[-1]
        try:
            tags = tags_from_list(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
        except LOOKUP_ERRORS:
            tags = {}
        if not ctx.owns("sns topic", name, tags):
            continue
        for sub in paginate(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=arn):
            sub_arn = sub["SubscriptionArn"]
            if sub_arn.startswith("arn:"):  # "PendingConfirmation" cannot be unsubscribed
                found.append(Resource("sns subscription", f"{name} -> {sub.get('Protocol')}",
                                      lambda a=sub_arn: sns.unsubscribe(SubscriptionArn=a)))
        found.append(Resource("sns topic", name, lambda a=arn: sns.delete_topic(TopicArn=a)))
    return found


def find_queues(ctx: FindContext) -> list[Resource]:
    sqs = ctx.client("sqs")
    found = []
    for url in paginate(sqs, "list_queues", "QueueUrls"):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        try:
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        except LOOKUP_ERRORS:
            tags = {}
        if ctx.owns("sqs queue", name, tags):
            found.append(Resource("sqs queue", name, lambda u=url: sqs.delete_queue(QueueUrl=u)))
    return found


def find_parameters(ctx: FindContext) -> list[Resource]:
    ssm = ctx.client("ssm")
    found = []
    for parameter in paginate(ssm, "describe_parameters", "Parameters"):
        name = parameter["Name"]
        try:
            tags = tags_from_list(ssm.list_tags_for_resource(
                ResourceType="Parameter", ResourceId=name).get("TagList"))
        except LOOKUP_ERRORS:
            tags = {}
        if ctx.owns("ssm parameter", name, tags):
            found.append(Resource("ssm parameter", name,
                                  lambda n=name: ssm.delete_parameter(Name=n)))
    return found


def find_secrets(ctx: FindContext) -> list[Resource]:
    sm = ctx.client("secretsmanager")
    found = []
    for secret in paginate(sm, "list_secrets", "SecretList"):
        name = secret["Name"]
        if secret.get("DeletedDate"):
            continue  # already scheduled for deletion by someone else's choice
        if ctx.owns("secretsmanager secret", name, tags_from_list(secret.get("Tags"))):
            # A sandbox keeps no recovery window: the secret is gone at once.
            found.append(Resource("secretsmanager secret", name,
                                  lambda a=secret["ARN"]: sm.delete_secret(
                                      SecretId=a, ForceDeleteWithoutRecovery=True)))
    return found
