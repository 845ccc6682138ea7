"""CodeDeploy's behaviour across models, hosts and moto: groups checked against IAM and EC2,
deployments created and rolled back, events sent to the shared event bridge."""

from __future__ import annotations

import copy
import logging

from labkit.emulator.codedeploy import bluegreen, permissions, revisions, traffic, triggers
from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy.agent import DeploymentJob
from labkit.emulator.codedeploy.engine import DeploymentEngine, matching_instance_ids
from labkit.emulator.codedeploy.models import (
    GROUP_FIELDS,
    CodeDeployBackend,
    Deployment,
    DeploymentGroup,
    new_deployment_id,
)
from labkit.emulator.codedeploy.records import TargetRecord, now
from labkit.emulator.json_api import NotEmulatedException

log = logging.getLogger("labkit.emulator.codedeploy")
MAX_ALARMS = 10
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")


class CodeDeployService:
    def __init__(self, runtime, backends, hosts):
        self.runtime = runtime
        self.backends = backends
        self.hosts = hosts
        self.engine = DeploymentEngine(self)

    # --- deployment groups --------------------------------------------------------------------
    def check_group_settings(self, backend: CodeDeployBackend, settings: dict) -> None:
        """AWS's checks on a group's settings; raises the error AWS answers."""
        if "serviceRoleArn" in settings:
            self.check_service_role(backend, settings["serviceRoleArn"])
        if settings.get("deploymentConfigName"):
            backend.config(settings["deploymentConfigName"])
        if settings.get("ec2TagFilters") and settings.get("ec2TagSet"):
            raise errors.InvalidEC2TagCombinationException(
                "The ec2TagFilters and ec2TagSet parameters cannot both be specified; use one.")
        if settings.get("onPremisesInstanceTagFilters") and settings.get("onPremisesTagSet"):
            raise errors.InvalidOnPremisesTagCombinationException(
                "The onPremisesInstanceTagFilters and onPremisesTagSet parameters cannot both be specified.")
        tag_groups = [settings.get("ec2TagFilters") or []]
        tag_groups += (settings.get("ec2TagSet") or {}).get("ec2TagSetList") or []
        if len(tag_groups) > 4:
            raise errors.TagSetListLimitExceededException("An EC2 tag set may hold at most three groups.")
        for group in tag_groups:
            for tag_filter in group:
                _check_tag_filter(tag_filter)
        for name in settings.get("autoScalingGroups") or []:
            self._check_auto_scaling_group(backend, name)
        alarms = settings.get("alarmConfiguration")
        if alarms:
            if len(alarms.get("alarms") or []) > MAX_ALARMS:
                raise errors.AlarmsLimitExceededException(
                    f"A deployment group may watch at most {MAX_ALARMS} alarms.")
            if alarms.get("enabled") and not alarms.get("alarms"):
                raise errors.InvalidAlarmConfigException(
                    "The alarm configuration is enabled but lists no alarms; add alarm names or disable it.")
        rollback = settings.get("autoRollbackConfiguration")
        if rollback and rollback.get("enabled"):
            events = rollback.get("events") or []
            if not events:
                raise errors.InvalidAutoRollbackConfigException(
                    "Automatic rollback is enabled but no events are given; list at least one of "
                    f"{', '.join(ROLLBACK_EVENTS)}.")
            if "DEPLOYMENT_STOP_ON_ALARM" in events and not (alarms or {}).get("enabled"):
                raise errors.InvalidAutoRollbackConfigException(
                    "DEPLOYMENT_STOP_ON_ALARM needs an enabled alarmConfiguration with at least one alarm.")
        if settings.get("triggerConfigurations"):
            triggers.check_triggers(backend.account_id, backend.region, settings["triggerConfigurations"])
        style = settings.get("deploymentStyle") or {}
        if style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL" and not settings.get("loadBalancerInfo"):
            raise errors.InvalidLoadBalancerInfoException(
                "A deployment style WITH_TRAFFIC_CONTROL needs loadBalancerInfo (a target group or "
                "classic load balancer).")
        bluegreen.check_group(settings)

    def check_service_role(self, backend: CodeDeployBackend, role_arn: str) -> None:
        from moto.iam.models import iam_backends

        if not role_arn:
            raise errors.RoleRequiredException("A service role ARN must be specified.")
        problem = errors.InvalidRoleException(
            f"AWS CodeDeploy does not have the permissions required to assume the role {role_arn}.")
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            raise problem
        try:
            iam_backends[parts[4] or backend.account_id]["global"].get_role_by_arn(role_arn)
        except Exception:
            raise problem from None
        if not permissions.role_trusts_codedeploy(backend.account_id, role_arn):
            raise problem  # AWS checks the trust policy when the role is attached

    def _check_auto_scaling_group(self, backend: CodeDeployBackend, name: str) -> None:
        from moto.autoscaling.models import autoscaling_backends

        groups = autoscaling_backends[backend.account_id][backend.region].autoscaling_groups
        if name not in groups:
            raise errors.InvalidAutoScalingGroupException(f"Auto Scaling group {name} does not exist.")

    def group_settings(self, params: dict, base: dict | None = None) -> dict:
        settings = copy.deepcopy(base or {})
        for key in GROUP_FIELDS:
            if key in params:
                settings[key] = copy.deepcopy(params[key])
        return settings

    # --- deployments ----------------------------------------------------------------------------
    def create_deployment(self, backend: CodeDeployBackend, params: dict) -> Deployment:
        application = params.get("applicationName")
        backend.application(application)
        if not params.get("deploymentGroupName"):
            raise errors.DeploymentGroupNameRequiredException(
                "The deployment group name must be specified for an EC2/on-premises deployment.")
        group = backend.group(application, params["deploymentGroupName"])
        revision = self.check_revision(params.get("revision"))
        config_name = params.get("deploymentConfigName") or group.settings.get(
            "deploymentConfigName") or "CodeDeployDefault.OneAtATime"
        backend.config(config_name)
        style = group.to_api()["deploymentStyle"]
        if style.get("deploymentType") == "BLUE_GREEN":
            bluegreen.check_request(backend, group, params)
        if style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL":
            traffic.check_load_balancer_info(backend.account_id, backend.region, group.settings)
        self.check_service_role(backend, group.settings.get("serviceRoleArn", ""))
        behavior = params.get("fileExistsBehavior")
        rollback_config = params.get("autoRollbackConfiguration")
        if rollback_config and rollback_config.get("enabled") and not rollback_config.get("events"):
            raise errors.InvalidAutoRollbackConfigException(
                "Automatic rollback is enabled but no events are given.")
        with backend.lock:
            active = backend.active_deployment(group)
            if active is not None:
                raise errors.DeploymentLimitExceededException(
                    f"The Deployment Group '{group.name}' already has an active Deployment "
                    f"'{active.deployment_id}'")
            deployment = self._new_deployment(backend, group, revision, config_name, "user",
                                              params.get("description"), behavior,
                                              bool(params.get("ignoreApplicationStopFailures")),
                                              rollback_config)
            if style.get("deploymentType") == "BLUE_GREEN":
                bluegreen.attach(deployment, params)
        self.engine.start(backend, deployment)
        return deployment

    def check_revision(self, revision: dict | None) -> dict:
        if not revision:
            raise errors.RevisionRequiredException("The revision must be specified.")
        kind = revision.get("revisionType")
        if kind == "GitHub":
            raise NotEmulatedException(
                "labkit's emulator cannot fetch GitHub revisions (no network); upload the bundle "
                "to S3 and deploy it with revisionType S3.")
        if kind != "S3":
            raise errors.InvalidRevisionException(
                f"The revision type {kind} is for AWS Lambda and Amazon ECS deployments; an "
                "EC2/on-premises deployment takes an S3 (or GitHub) revision.")
        s3 = revision.get("s3Location") or {}
        if not s3.get("bucket") or not s3.get("key"):
            raise errors.InvalidRevisionException("An S3 revision needs s3Location with a bucket and a key.")
        bundle_type = revisions.bundle_type_of(s3)
        if bundle_type not in revisions.BUNDLE_TYPES:
            raise errors.InvalidRevisionException(
                f"The bundle type {bundle_type or '(none)'} cannot be deployed to EC2/on-premises "
                "instances; set s3Location.bundleType to zip, tar or tgz.")
        return {"revisionType": "S3", "s3Location": {**s3, "bundleType": bundle_type}}

    def _new_deployment(self, backend: CodeDeployBackend, group: DeploymentGroup, revision: dict,
                        config_name: str, creator: str, description: str | None,
                        behavior: str | None, ignore_stop_failures: bool,
                        rollback_config: dict | None) -> Deployment:
        deployment_id = new_deployment_id()
        s3 = revision["s3Location"]
        job = DeploymentJob(deployment_id, backend.account_id, backend.region, group.application,
                            group.name, group.group_id, s3, s3["bundleType"], behavior,
                            ignore_stop_failures)
        previous = group.target_revision
        deployment = Deployment(
            deployment_id=deployment_id, application=group.application, group=group,
            config_name=config_name, revision=copy.deepcopy(revision), creator=creator,
            description=description, job=job,
            auto_rollback=copy.deepcopy(rollback_config) if rollback_config else
            copy.deepcopy(group.settings.get("autoRollbackConfiguration")),
            previous_revision=copy.deepcopy(previous), file_exists_behavior=behavior or "DISALLOW",
            ignore_application_stop_failures=ignore_stop_failures)
        for instance_id in matching_instance_ids(backend.account_id, backend.region, group.settings):
            arn = f"arn:aws:ec2:{backend.region}:{backend.account_id}:instance/{instance_id}"
            deployment.targets[instance_id] = TargetRecord(deployment_id, instance_id, arn)
        record = backend.register_revision(group.application, revision, None)
        record.first_used = record.first_used or now()
        record.last_used = now()
        if group.name not in record.groups:
            record.groups.append(group.name)
        backend.deployments[deployment_id] = deployment
        return deployment

    def create_rollback(self, backend: CodeDeployBackend, failed: Deployment, last_good: Deployment) -> Deployment:
        """A new deployment of the last good revision (called with backend.lock held)."""
        rollback = self._new_deployment(
            backend, failed.group, last_good.revision, failed.config_name, "codeDeployRollback",
            f"Rollback of deployment {failed.deployment_id}", failed.job.file_exists_behavior,
            failed.ignore_application_stop_failures, None)
        rollback.rollback_info = {
            "rollbackTriggeringDeploymentId": failed.deployment_id,
            "rollbackMessage": f"Automatic rollback of {failed.deployment_id} to the revision of "
                               f"{last_good.deployment_id}."}
        return rollback

    def last_successful_deployment(self, backend: CodeDeployBackend, group: DeploymentGroup) -> Deployment | None:
        with backend.lock:
            done = [d for d in backend.deployments.values()
                    if d.group is group and d.status == "Succeeded"]
        return max(done, key=lambda d: d.complete_time) if done else None

    # --- events -----------------------------------------------------------------------------------
    def send_deployment_event(self, backend: CodeDeployBackend, deployment: Deployment, state: str) -> None:
        detail = self._detail(backend, deployment, state)
        self._send(backend, "CodeDeploy Deployment State-change Notification", detail,
                   self._resources(backend, deployment))
        triggers.notify(deployment, state, backend.region, backend.account_id)

    def send_instance_event(self, backend: CodeDeployBackend, deployment: Deployment,
                            instance_id: str, state: str) -> None:
        detail = self._detail(backend, deployment, state)
        arn = deployment.targets[instance_id].target_arn
        detail.update({"instanceId": instance_id, "instance": arn})
        self._send(backend, "CodeDeploy Instance State-change Notification", detail,
                   [*self._resources(backend, deployment), arn])
        triggers.notify(deployment, state, backend.region, backend.account_id, instance_id)

    def _detail(self, backend: CodeDeployBackend, deployment: Deployment, state: str) -> dict:
        return {"account": backend.account_id, "region": backend.region,
                "application": deployment.application, "deploymentId": deployment.deployment_id,
                "instanceGroupId": deployment.group.group_id,
                "deploymentGroup": deployment.group.name, "state": state}

    def _resources(self, backend: CodeDeployBackend, deployment: Deployment) -> list[str]:
        base = f"arn:aws:codedeploy:{backend.region}:{backend.account_id}"
        return [f"{base}:application:{deployment.application}",
                f"{base}:deploymentgroup:{deployment.application}/{deployment.group.name}"]

    def _send(self, backend: CodeDeployBackend, detail_type: str, detail: dict, resources: list[str]) -> None:
        try:
            self.runtime.events.put_event(backend.account_id, backend.region, "aws.codedeploy",
                                          detail_type, detail, resources)
        except Exception:  # events are a side channel: a broken rule must not break a deployment
            log.warning("could not send %s", detail_type, exc_info=True)


def _check_tag_filter(tag_filter: dict) -> None:
    kind = tag_filter.get("Type") or "KEY_AND_VALUE"
    key, value = tag_filter.get("Key"), tag_filter.get("Value")
    if (kind in ("KEY_ONLY", "KEY_AND_VALUE") and not key) or (kind in ("VALUE_ONLY", "KEY_AND_VALUE") and value is None):
        raise errors.InvalidEC2TagException(
            f"The tag filter {tag_filter} is not valid: type {kind} needs "
            + {"KEY_ONLY": "a Key", "VALUE_ONLY": "a Value"}.get(kind, "a Key and a Value") + ".")
