"""The artifact bucket: versioned, encrypted, private; and a readable listing of what is in it."""

from __future__ import annotations

import pandas as pd


def ensure_artifact_bucket(lab, bucket: str) -> str:
    """Create the bucket if missing; (re)apply versioning, default encryption and public-access block."""
    s3 = lab.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        request = {"Bucket": bucket}
        if lab.region != "us-east-1":  # us-east-1 is the one region that takes no constraint
            request["CreateBucketConfiguration"] = {"LocationConstraint": lab.region}
        s3.create_bucket(**request)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": lab.tags.as_list()})
    return bucket


def bucket_settings(lab, bucket: str) -> pd.DataFrame:
    """Versioning, encryption and public access of a bucket, one row each."""
    s3 = lab.client("s3")
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "Disabled")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    return pd.DataFrame([
        {"setting": "versioning", "value": versioning},
        {"setting": "default encryption", "value": algorithm},
        {"setting": "public access blocked", "value": str(all(block.values()))},
    ])


def objects_table(lab, bucket: str, prefix: str = "") -> pd.DataFrame:
    """Keys and sizes under `prefix` (no dates or version ids: they change from run to run)."""
    rows = []
    for page in lab.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        rows += [{"key": o["Key"], "KiB": round(o["Size"] / 1024)} for o in page.get("Contents", [])]
    return pd.DataFrame(rows, columns=["key", "KiB"])
