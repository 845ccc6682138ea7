"""Resource types moto's CloudFormation lacks but the course's templates use (alarms, SNS
subscriptions, bucket policies), made through the emulator's own API so every hook of the emulator sees them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.common_models import CloudFormationModel

from labkit.emulator.cloudformation import providers
from labkit.emulator.cloudformation.convert import require, to_api
from labkit.emulator.json_api import service_model


class CallFailed(Exception):
    def __init__(self, service: str, err: ClientError):
        error = err.response.get("Error", {})
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        super().__init__(
            f'Resource handler returned message: "{error.get("Message")} (Service: {service}, '
            f'Status Code: {status}, Request ID: {uuid.uuid4()})" (HandlerErrorCode: InvalidRequest)')


def loopback(service: str, region: str):
    """A boto3 client on this emulator (the request that creates the stack is on another thread)."""
    return boto3.client(service, endpoint_url=providers._runtime.url, region_name=region,
                        aws_access_key_id="labkit-cloudformation", aws_secret_access_key="labkit",
                        # S3 by path: the emulator does not serve buckets as virtual hosts.
                        config=Config(retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


class CloudWatchAlarm(providers.LabkitResource, CloudFormationModel):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    REQUIRED = ("ComparisonOperator", "EvaluationPeriods")
    ATTRIBUTES = ("Arn",)
    REPLACE_ON = ("AlarmName",)

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        alarm = cls(logical_id, name, account_id, region, properties)
        alarm._put(properties)
        return alarm

    def _put(self, properties: dict) -> None:
        shape = service_model("cloudwatch").operation_model("PutMetricAlarm").input_shape
        params = to_api(self.logical_id, properties, shape)
        params["AlarmName"] = self.name
        try:
            loopback("cloudwatch", self.region).put_metric_alarm(**params)
        except ClientError as err:
            raise CallFailed("CloudWatch", err) from None

    def attribute(self, attribute: str) -> Any:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{self.name}"

    def update(self, properties):
        self._put(properties)

    def delete(self, account_id=None, region=None):
        loopback("cloudwatch", self.region).delete_alarms(AlarmNames=[self.name])


class SNSSubscription(providers.LabkitResource, CloudFormationModel):
    TYPE = "AWS::SNS::Subscription"
    REQUIRED = ("Protocol", "TopicArn")
    REPLACE_ON = ("Protocol", "TopicArn", "Endpoint")
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        logical_id = kwargs.get("LogicalId", resource_name)
        properties = cloudformation_json.get("Properties") or {}
        require(logical_id, properties, cls.REQUIRED)
        return cls.create(logical_id, resource_name, properties, account_id, region_name)

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        attributes = {key: _attribute_text(properties[key]) for key in (
            "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
            "DeliveryPolicy") if key in properties}
        try:
            arn = loopback("sns", region).subscribe(
                TopicArn=properties["TopicArn"], Protocol=properties["Protocol"],
                Endpoint=properties.get("Endpoint", ""), Attributes=attributes,
                ReturnSubscriptionArn=True)["SubscriptionArn"]
        except ClientError as err:
            raise CallFailed("Sns", err) from None
        return cls(logical_id, name, account_id, region, properties, physical_id=arn)

    def attribute(self, attribute):
        return self.physical_resource_id

    def update(self, properties):
        pass  # attributes set at create; the endpoint and topic replace the subscription

    def delete(self, account_id=None, region=None):
        loopback("sns", self.region).unsubscribe(SubscriptionArn=self.physical_resource_id)


class S3BucketPolicy(providers.LabkitResource, CloudFormationModel):
    TYPE = "AWS::S3::BucketPolicy"
    REQUIRED = ("Bucket", "PolicyDocument")
    REPLACE_ON = ("Bucket",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        logical_id = kwargs.get("LogicalId", resource_name)
        properties = cloudformation_json.get("Properties") or {}
        require(logical_id, properties, cls.REQUIRED)
        return cls.create(logical_id, properties["Bucket"], properties, account_id, region_name)

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        policy = cls(logical_id, properties["Bucket"], account_id, region, properties)
        policy.update(properties)
        return policy

    def update(self, properties):
        document = properties["PolicyDocument"]
        try:
            s3(self.region).put_bucket_policy(
                Bucket=self.name,
                Policy=document if isinstance(document, str) else json.dumps(document))
        except ClientError as err:
            raise CallFailed("S3", err) from None

    def delete(self, account_id=None, region=None):
        s3(self.region).delete_bucket_policy(Bucket=self.name)


def s3(region: str):
    return loopback("s3", region)


def _attribute_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


EXTRAS = (CloudWatchAlarm, SNSSubscription, S3BucketPolicy)
