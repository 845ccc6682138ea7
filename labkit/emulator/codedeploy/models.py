"""CodeDeploy state per account and region: applications, groups, configs, revisions, deployments."""

from __future__ import annotations

import copy
import math
import random
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy.records import TargetRecord, now

NAME_LIMIT = 100
DEFAULT_CONFIG = "CodeDeployDefault.OneAtATime"
ONE_AT_A_TIME = "CodeDeployDefault.OneAtATime"
# The predefined EC2/on-premises configs. AWS answers OneAtATime's minimum as type
# MOST_CONCURRENCY, which botocore's model does not know, so it is left out (see docs).
PREDEFINED_CONFIGS = {
    "CodeDeployDefault.OneAtATime": None,
    "CodeDeployDefault.HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
    "CodeDeployDefault.AllAtOnce": {"type": "HOST_COUNT", "value": 0},
}
GROUP_FIELDS = ("deploymentConfigName", "ec2TagFilters", "onPremisesInstanceTagFilters",
                "autoScalingGroups", "serviceRoleArn", "triggerConfigurations",
                "alarmConfiguration", "autoRollbackConfiguration", "outdatedInstancesStrategy",
                "deploymentStyle", "blueGreenDeploymentConfiguration", "loadBalancerInfo",
                "ec2TagSet", "ecsServices", "onPremisesTagSet", "ec2DeploymentOptions",
                "terminationHookEnabled")
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
HEALTH_CONSTRAINTS_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment, "
    "too few healthy instances are available for deployment, or some instances in your "
    "deployment group are experiencing problems.")


@dataclass
class DeploymentJob:
    """What every host of one deployment needs to know."""

    deployment_id: str
    account_id: str
    region: str
    application_name: str
    group_name: str
    group_id: str
    s3_location: dict
    bundle_type: str
    file_exists_behavior: str | None
    ignore_application_stop_failures: bool
    stop_requested: threading.Event = field(default_factory=threading.Event)
    # StopDeployment's autoRollbackEnabled: None leaves it to the group's settings.
    rollback_on_stop: bool | None = None


@dataclass
class Application:
    name: str
    application_id: str
    compute_platform: str
    create_time: datetime = field(default_factory=now)
    tags: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict:
        return {"applicationId": self.application_id, "applicationName": self.name,
                "createTime": self.create_time, "linkedToGitHub": False,
                "computePlatform": self.compute_platform}


@dataclass
class DeploymentGroup:
    application: str
    name: str
    group_id: str
    settings: dict
    compute_platform: str = "Server"
    tags: dict[str, str] = field(default_factory=dict)
    last_successful: dict | None = None
    last_attempted: dict | None = None
    target_revision: dict | None = None

    def to_api(self) -> dict:
        info = {k: copy.deepcopy(v) for k, v in self.settings.items() if v is not None}
        info.setdefault("deploymentConfigName", DEFAULT_CONFIG)
        info.setdefault("deploymentStyle", {"deploymentType": "IN_PLACE",
                                            "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"})
        info.setdefault("outdatedInstancesStrategy", "UPDATE")
        for key in ("ec2TagFilters", "onPremisesInstanceTagFilters", "triggerConfigurations"):
            info.setdefault(key, [])
        info["autoScalingGroups"] = [{"name": n} for n in self.settings.get("autoScalingGroups") or []]
        info.pop("terminationHookEnabled", None)
        info.update({"applicationName": self.application, "deploymentGroupId": self.group_id,
                     "deploymentGroupName": self.name, "computePlatform": self.compute_platform,
                     "terminationHookEnabled": bool(self.settings.get("terminationHookEnabled"))})
        for key, value in (("lastSuccessfulDeployment", self.last_successful),
                           ("lastAttemptedDeployment", self.last_attempted),
                           ("targetRevision", self.target_revision)):
            if value:
                info[key] = value
        return info

    @property
    def auto_rollback_events(self) -> list[str]:
        config = self.settings.get("autoRollbackConfiguration") or {}
        return list(config.get("events") or []) if config.get("enabled") else []


@dataclass
class DeploymentConfig:
    name: str
    config_id: str
    minimum_healthy_hosts: dict | None
    compute_platform: str = "Server"
    create_time: datetime = field(default_factory=now)

    def to_api(self) -> dict:
        return {"deploymentConfigId": self.config_id, "deploymentConfigName": self.name,
                "minimumHealthyHosts": self.minimum_healthy_hosts, "createTime": self.create_time,
                "computePlatform": self.compute_platform}

    def plan(self, total: int) -> tuple[int, int]:
        """(hosts deployed to at a time, hosts that must end healthy) for `total` hosts."""
        if self.name == ONE_AT_A_TIME:
            return 1, max(total - 1, 1)
        rule = self.minimum_healthy_hosts
        if rule["type"] == "HOST_COUNT":
            minimum = rule["value"]
        else:  # FLEET_PERCENT, rounded up as AWS does
            minimum = math.ceil(total * rule["value"] / 100)
        return total - minimum, minimum


@dataclass
class RevisionRecord:
    location: dict
    description: str | None = None
    register_time: datetime = field(default_factory=now)
    first_used: datetime | None = None
    last_used: datetime | None = None
    groups: list[str] = field(default_factory=list)

    def info_api(self) -> dict:
        return {"description": self.description, "deploymentGroups": list(self.groups),
                "firstUsedTime": self.first_used, "lastUsedTime": self.last_used,
                "registerTime": self.register_time}


@dataclass
class Deployment:
    deployment_id: str
    application: str
    group: DeploymentGroup
    config_name: str
    revision: dict
    creator: str
    description: str | None
    job: DeploymentJob
    auto_rollback: dict | None
    previous_revision: dict | None = None
    status: str = "Created"
    create_time: datetime = field(default_factory=now)
    start_time: datetime | None = None
    complete_time: datetime | None = None
    error: dict | None = None
    rollback_info: dict | None = None
    targets: dict[str, TargetRecord] = field(default_factory=dict)
    file_exists_behavior: str = "DISALLOW"
    ignore_application_stop_failures: bool = False
    status_messages: list[str] = field(default_factory=list)
    blue_green: object | None = None  # a bluegreen.BlueGreenPlan for BLUE_GREEN deployments

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def overview(self) -> dict:
        counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
        for target in self.targets.values():
            if target.status in counts:
                counts[target.status] += 1
        return counts

    def to_api(self) -> dict:
        return {
            "applicationName": self.application,
            "deploymentGroupName": self.group.name,
            "deploymentConfigName": self.config_name,
            "deploymentId": self.deployment_id,
            "previousRevision": self.previous_revision,
            "revision": self.revision,
            "status": self.status,
            "errorInformation": self.error,
            "createTime": self.create_time,
            "startTime": self.start_time,
            "completeTime": self.complete_time,
            "deploymentOverview": self.overview(),
            "description": self.description,
            "creator": self.creator,
            "ignoreApplicationStopFailures": self.ignore_application_stop_failures,
            "autoRollbackConfiguration": self.auto_rollback,
            "updateOutdatedInstancesOnly": False,
            "rollbackInfo": self.rollback_info,
            "deploymentStyle": self.group.to_api()["deploymentStyle"],
            "instanceTerminationWaitTimeStarted": False,
            "fileExistsBehavior": self.file_exists_behavior,
            "deploymentStatusMessages": list(self.status_messages),
            "computePlatform": "Server",
            **(self.blue_green.api_fields() if self.blue_green is not None else {}),
        }

    def last_info(self) -> dict:
        return {"deploymentId": self.deployment_id, "status": self.status,
                "endTime": self.complete_time, "createTime": self.create_time}


class CodeDeployBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.lock = threading.RLock()
        self.applications: dict[str, Application] = {}
        self.groups: dict[tuple[str, str], DeploymentGroup] = {}
        self.configs: dict[str, DeploymentConfig] = {
            name: DeploymentConfig(name, str(uuid.uuid4()), rule)
            for name, rule in PREDEFINED_CONFIGS.items()}
        self.revisions: dict[str, list[RevisionRecord]] = {}
        self.deployments: dict[str, Deployment] = {}

    # --- applications ---------------------------------------------------------------------
    def create_application(self, name: str, compute_platform: str, tags: dict) -> Application:
        _check_name(name, "application", errors.InvalidApplicationNameException)
        with self.lock:
            if name in self.applications:
                raise errors.ApplicationAlreadyExistsException(
                    f"{name} already exists in your account")
            app = Application(name, str(uuid.uuid4()), compute_platform, tags=tags)
            self.applications[name] = app
            self.revisions[name] = []
            return app

    def application(self, name: str | None) -> Application:
        if not name:
            raise errors.ApplicationNameRequiredException("The application name must be specified.")
        _check_name(name, "application", errors.InvalidApplicationNameException)
        with self.lock:
            if name not in self.applications:
                raise errors.ApplicationDoesNotExistException(f"No application found for name: {name}")
            return self.applications[name]

    def delete_application(self, name: str) -> None:
        with self.lock:
            self.applications.pop(name, None)
            self.revisions.pop(name, None)
            for key in [k for k in self.groups if k[0] == name]:
                del self.groups[key]

    # --- deployment groups ------------------------------------------------------------------
    def group(self, application: str, name: str | None) -> DeploymentGroup:
        self.application(application)
        if not name:
            raise errors.DeploymentGroupNameRequiredException("The deployment group name must be specified.")
        _check_name(name, "deployment group", errors.InvalidDeploymentGroupNameException)
        with self.lock:
            group = self.groups.get((application, name))
            if group is None:
                raise errors.DeploymentGroupDoesNotExistException(
                    f"No Deployment Group found for name: {name}")
            return group

    def add_group(self, group: DeploymentGroup) -> None:
        with self.lock:
            if (group.application, group.name) in self.groups:
                raise errors.DeploymentGroupAlreadyExistsException(
                    f"A deployment group named {group.name} already exists for application "
                    f"{group.application}.")
            self.groups[(group.application, group.name)] = group

    def rename_group(self, group: DeploymentGroup, new_name: str) -> None:
        with self.lock:
            if (group.application, new_name) in self.groups:
                raise errors.DeploymentGroupAlreadyExistsException(
                    f"A deployment group named {new_name} already exists for application "
                    f"{group.application}.")
            del self.groups[(group.application, group.name)]
            group.name = new_name
            self.groups[(group.application, new_name)] = group

    def delete_group(self, application: str, name: str) -> None:
        with self.lock:
            self.groups.pop((application, name), None)

    # --- deployment configs --------------------------------------------------------------------
    def config(self, name: str | None) -> DeploymentConfig:
        if not name:
            raise errors.DeploymentConfigNameRequiredException("The deployment configuration name must be specified.")
        _check_name(name, "deployment configuration", errors.InvalidDeploymentConfigNameException)
        with self.lock:
            if name not in self.configs:
                raise errors.DeploymentConfigDoesNotExistException(
                    f"No deployment configuration found for name: {name}")
            return self.configs[name]

    def create_config(self, name: str, minimum: dict | None, compute_platform: str) -> DeploymentConfig:
        _check_name(name, "deployment configuration", errors.InvalidDeploymentConfigNameException)
        if name.startswith("CodeDeployDefault."):
            raise errors.InvalidDeploymentConfigNameException(
                "The prefix CodeDeployDefault. is reserved for the configurations AWS provides.")
        if compute_platform != "Server":
            raise errors.InvalidComputePlatformException(
                "labkit's emulator deploys to EC2/on-premises (Server) only.")
        if not minimum or "type" not in minimum or "value" not in minimum:
            raise errors.InvalidMinimumHealthyHostValueException(
                "A deployment configuration for EC2/on-premises needs minimumHealthyHosts "
                "with a type (HOST_COUNT or FLEET_PERCENT) and a value.")
        value = minimum["value"]
        if value < 0 or (minimum["type"] == "FLEET_PERCENT" and value > 99):
            raise errors.InvalidMinimumHealthyHostValueException(
                f"The minimum healthy host value {value} is invalid: HOST_COUNT must be 0 or "
                "more and FLEET_PERCENT from 0 to 99.")
        with self.lock:
            if name in self.configs:
                raise errors.DeploymentConfigAlreadyExistsException(
                    f"A deployment configuration named {name} already exists.")
            config = DeploymentConfig(name, str(uuid.uuid4()), dict(minimum), compute_platform)
            self.configs[name] = config
            return config

    def delete_config(self, name: str) -> None:
        config = self.config(name)
        if name in PREDEFINED_CONFIGS:
            raise errors.InvalidOperationException(
                f"The deployment configuration {name} is provided by AWS and cannot be deleted.")
        with self.lock:
            users = [g.name for g in self.groups.values()
                     if g.settings.get("deploymentConfigName") == config.name]
            users += [d.deployment_id for d in self.deployments.values()
                      if d.config_name == config.name and d.active]
            if users:
                raise errors.DeploymentConfigInUseException(
                    f"The deployment configuration {name} is still in use by "
                    f"{', '.join(users)}.")
            del self.configs[name]

    # --- revisions -------------------------------------------------------------------------------
    def register_revision(self, application: str, location: dict, description: str | None) -> RevisionRecord:
        with self.lock:
            record = self.find_revision(application, location)
            if record is None:
                record = RevisionRecord(copy.deepcopy(location), description)
                self.revisions.setdefault(application, []).append(record)
            elif description is not None:
                record.description = description
            return record

    def find_revision(self, application: str, location: dict) -> RevisionRecord | None:
        key = revision_key(location)
        return next((r for r in self.revisions.get(application, [])
                     if revision_key(r.location) == key), None)

    # --- deployments --------------------------------------------------------------------------------
    def deployment(self, deployment_id: str | None) -> Deployment:
        if not deployment_id:
            raise errors.DeploymentIdRequiredException("The deployment ID must be specified.")
        with self.lock:
            found = self.deployments.get(deployment_id)
        if found is None:
            if not _looks_like_deployment_id(deployment_id):
                raise errors.InvalidDeploymentIdException(
                    f"The deployment ID {deployment_id} is not valid: deployment IDs look like d-ABCDEF123.")
            raise errors.DeploymentDoesNotExistException(f"The deployment {deployment_id} could not be found.")
        return found

    def active_deployment(self, group: DeploymentGroup) -> Deployment | None:
        with self.lock:
            return next((d for d in self.deployments.values()
                         if d.group is group and d.active), None)


def revision_key(location: dict) -> tuple:
    s3 = location.get("s3Location") or {}
    return (location.get("revisionType"), s3.get("bucket"), s3.get("key"), s3.get("bundleType"),
            s3.get("version"), s3.get("eTag"))


def new_deployment_id() -> str:
    return "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


def _looks_like_deployment_id(value: str) -> bool:
    return value.startswith("d-") and len(value) == 11 and value[2:].isalnum()


def _check_name(name: str, kind: str, error) -> None:
    if len(name) > NAME_LIMIT:
        raise error(f"The {kind} name {name[:40]}... is longer than {NAME_LIMIT} characters.")
    allowed = set(string.ascii_letters + string.digits + "+=,.@_-")
    if not set(name) <= allowed:
        raise error(f"The {kind} name {name!r} may contain only letters, digits and +=,.@_-")
