"""CodeDeploy requests: JSON in, model call, JSON out."""

from __future__ import annotations

import uuid

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codedeploy import bluegreen
from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy.hosts import HostRegistry
from labkit.emulator.codedeploy.models import (
    CodeDeployBackend,
    Deployment,
    DeploymentGroup,
)
from labkit.emulator.codedeploy.service import CodeDeployService
from labkit.emulator.json_api import JsonService

PAGE_SIZE = 100
BATCH_LIMIT = 100
TARGET_BATCH_LIMIT = 25


class CodeDeployResponses(JsonService):
    service_name = "codedeploy"
    validation_error = errors.InvalidInputException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodeDeployBackend)
        self.hosts = HostRegistry(runtime)
        self.codedeploy = CodeDeployService(runtime, self.backends, self.hosts)
        runtime.on_reset(self._reset)
        self.hosts.start_poller()

    def _reset(self) -> None:
        # Deployments in flight must not start more hooks on hosts that are being cleared.
        for backend in self.backends:
            with backend.lock:
                for deployment in backend.deployments.values():
                    deployment.job.stop_requested.set()
        self.backends.reset()
        self.hosts.reset()

    def _backend(self, ctx) -> CodeDeployBackend:
        return self.backends.get(ctx.account_id, ctx.region)

    # --- applications ---------------------------------------------------------------------
    def create_application(self, params, ctx):
        platform = params.get("computePlatform", "Server")
        if platform != "Server":
            raise errors.InvalidComputePlatformException(
                f"labkit's emulator deploys to EC2/on-premises (Server) only, not {platform}.")
        app = self._backend(ctx).create_application(params["applicationName"], platform,
                                                    _tag_dict(params.get("tags")))
        return {"applicationId": app.application_id}

    def get_application(self, params, ctx):
        return {"application": self._backend(ctx).application(params.get("applicationName")).to_api()}

    def list_applications(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            names = sorted(backend.applications)
        page, token = _page(names, params.get("nextToken"))
        return {"applications": page, "nextToken": token}

    def batch_get_applications(self, params, ctx):
        names = params.get("applicationNames") or []
        _batch_limit(names)
        backend = self._backend(ctx)
        return {"applicationsInfo": [backend.application(n).to_api() for n in names]}

    def update_application(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        new = params.get("newApplicationName")
        if new and new != app.name:
            with backend.lock:
                if new in backend.applications:
                    raise errors.ApplicationAlreadyExistsException(f"{new} already exists in your account")
                backend.applications[new] = backend.applications.pop(app.name)
                backend.revisions[new] = backend.revisions.pop(app.name, [])
                for key in [k for k in backend.groups if k[0] == app.name]:
                    group = backend.groups.pop(key)
                    group.application = new
                    backend.groups[(new, group.name)] = group
                app.name = new
        return {}

    def delete_application(self, params, ctx):
        self._backend(ctx).delete_application(params["applicationName"])
        return {}

    # --- deployment groups --------------------------------------------------------------------
    def create_deployment_group(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        name = params.get("deploymentGroupName")
        if not name:
            raise errors.DeploymentGroupNameRequiredException("The deployment group name must be specified.")
        settings = self.codedeploy.group_settings(params)
        self.codedeploy.check_group_settings(backend, settings)
        group = DeploymentGroup(app.name, name, str(uuid.uuid4()), settings,
                                tags=_tag_dict(params.get("tags")))
        backend.add_group(group)
        return {"deploymentGroupId": group.group_id}

    def get_deployment_group(self, params, ctx):
        group = self._backend(ctx).group(params.get("applicationName"), params.get("deploymentGroupName"))
        return {"deploymentGroupInfo": group.to_api()}

    def batch_get_deployment_groups(self, params, ctx):
        backend = self._backend(ctx)
        names = params.get("deploymentGroupNames") or []
        _batch_limit(names)
        found, missing = [], []
        for name in names:
            try:
                found.append(backend.group(params["applicationName"], name).to_api())
            except errors.DeploymentGroupDoesNotExistException:
                missing.append(name)
        message = f"Deployment groups not found: {', '.join(missing)}" if missing else None
        return {"deploymentGroupsInfo": found, "errorMessage": message}

    def update_deployment_group(self, params, ctx):
        backend = self._backend(ctx)
        group = backend.group(params.get("applicationName"), params.get("currentDeploymentGroupName"))
        settings = self.codedeploy.group_settings(params, group.settings)
        self.codedeploy.check_group_settings(backend, {k: v for k, v in settings.items()
                                                       if k in params or k == "alarmConfiguration"})
        new_name = params.get("newDeploymentGroupName")
        if new_name and new_name != group.name:
            backend.rename_group(group, new_name)
        group.settings = settings
        return {"hooksNotCleanedUp": []}

    def list_deployment_groups(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        with backend.lock:
            names = sorted(n for a, n in backend.groups if a == app.name)
        page, token = _page(names, params.get("nextToken"))
        return {"applicationName": app.name, "deploymentGroups": page, "nextToken": token}

    def delete_deployment_group(self, params, ctx):
        backend = self._backend(ctx)
        backend.application(params.get("applicationName"))
        backend.delete_group(params["applicationName"], params["deploymentGroupName"])
        return {"hooksNotCleanedUp": []}

    # --- deployment configs ---------------------------------------------------------------------
    def create_deployment_config(self, params, ctx):
        if params.get("trafficRoutingConfig") or params.get("zonalConfig"):
            raise errors.InvalidTrafficRoutingConfigurationException(
                "trafficRoutingConfig is for Lambda and ECS, and zonalConfig is not emulated; an "
                "EC2/on-premises configuration takes minimumHealthyHosts only.")
        config = self._backend(ctx).create_config(params["deploymentConfigName"],
                                                  params.get("minimumHealthyHosts"),
                                                  params.get("computePlatform", "Server"))
        return {"deploymentConfigId": config.config_id}

    def get_deployment_config(self, params, ctx):
        return {"deploymentConfigInfo": self._backend(ctx).config(params.get("deploymentConfigName")).to_api()}

    def list_deployment_configs(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            names = sorted(backend.configs)
        page, token = _page(names, params.get("nextToken"))
        return {"deploymentConfigsList": page, "nextToken": token}

    def delete_deployment_config(self, params, ctx):
        self._backend(ctx).delete_config(params.get("deploymentConfigName"))
        return {}

    # --- revisions -----------------------------------------------------------------------------------
    def register_application_revision(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        revision = self.codedeploy.check_revision(params.get("revision"))
        backend.register_revision(app.name, revision, params.get("description"))
        return {}

    def get_application_revision(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        record = self._revision(backend, app.name, params.get("revision"))
        return {"applicationName": app.name, "revision": record.location,
                "revisionInfo": record.info_api()}

    def batch_get_application_revisions(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        _batch_limit(params.get("revisions") or [])
        found = [{"revisionLocation": r.location, "genericRevisionInfo": r.info_api()}
                 for r in (self._revision(backend, app.name, rev) for rev in params.get("revisions") or [])]
        return {"applicationName": app.name, "revisions": found}

    def _revision(self, backend: CodeDeployBackend, application: str, location: dict | None):
        if not location:
            raise errors.RevisionRequiredException("The revision must be specified.")
        record = backend.find_revision(application, self.codedeploy.check_revision(location))
        if record is None:
            raise errors.RevisionDoesNotExistException(
                f"No application revision found for revision {location}")
        return record

    def list_application_revisions(self, params, ctx):
        backend = self._backend(ctx)
        app = backend.application(params.get("applicationName"))
        if params.get("s3KeyPrefix") and not params.get("s3Bucket"):
            raise errors.BucketNameFilterRequiredException("An s3KeyPrefix filter needs an s3Bucket filter.")
        with backend.lock:
            records = list(backend.revisions.get(app.name, []))
        bucket, prefix = params.get("s3Bucket"), params.get("s3KeyPrefix") or ""
        deployed = params.get("deployed", "ignore")
        chosen = [r for r in records
                  if (not bucket or r.location["s3Location"]["bucket"] == bucket)
                  and r.location["s3Location"]["key"].startswith(prefix)
                  and (deployed == "ignore" or (deployed == "include") == bool(r.groups))]
        sort_by = params.get("sortBy")
        if sort_by:
            attr = {"registerTime": "register_time", "firstUsedTime": "first_used",
                    "lastUsedTime": "last_used"}[sort_by]
            chosen.sort(key=lambda r: (getattr(r, attr) is not None, getattr(r, attr) or 0),
                        reverse=params.get("sortOrder") == "descending")
        page, token = _page([r.location for r in chosen], params.get("nextToken"))
        return {"revisions": page, "nextToken": token}

    # --- tags --------------------------------------------------------------------------------------------
    def tag_resource(self, params, ctx):
        tags = self._tags_of(ctx, params["ResourceArn"])
        tags.update(_tag_dict(params.get("Tags")))
        return {}

    def untag_resource(self, params, ctx):
        tags = self._tags_of(ctx, params["ResourceArn"])
        for key in params.get("TagKeys") or []:
            tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, params, ctx):
        tags = self._tags_of(ctx, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def _tags_of(self, ctx, arn: str) -> dict:
        backend = self._backend(ctx)
        parts = arn.split(":", 6)
        if len(parts) < 7 or parts[2] != "codedeploy":
            raise errors.InvalidArnException(f"The ARN {arn} is not a valid CodeDeploy ARN.")
        kind, name = parts[5], parts[6]
        if kind == "application":
            return backend.application(name).tags
        if kind == "deploymentgroup" and "/" in name:
            app, group = name.split("/", 1)
            return backend.group(app, group).tags
        raise errors.ArnNotSupportedException(f"Tags are not supported for the resource {arn}.")

    # --- deployments --------------------------------------------------------------------------------------
    def create_deployment(self, params, ctx):
        deployment = self.codedeploy.create_deployment(self._backend(ctx), params)
        return {"deploymentId": deployment.deployment_id}

    def get_deployment(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        with backend.lock:
            return {"deploymentInfo": deployment.to_api()}

    def batch_get_deployments(self, params, ctx):
        backend = self._backend(ctx)
        ids = params.get("deploymentIds") or []
        _batch_limit(ids)
        found = []
        with backend.lock:
            for deployment_id in ids:
                deployment = backend.deployments.get(deployment_id)
                if deployment is not None:
                    found.append(deployment.to_api())
        return {"deploymentsInfo": found}

    def list_deployments(self, params, ctx):
        backend = self._backend(ctx)
        app_name, group_name = params.get("applicationName"), params.get("deploymentGroupName")
        if group_name and not app_name:
            raise errors.ApplicationNameRequiredException(
                "An application name is required when a deployment group name is given.")
        group = backend.group(app_name, group_name) if app_name and group_name else None
        if app_name:
            backend.application(app_name)
        statuses = params.get("includeOnlyStatuses") or []
        window = params.get("createTimeRange") or {}
        with backend.lock:
            chosen = [d for d in backend.deployments.values()
                      if (not app_name or d.application == app_name)
                      and (group is None or d.group is group)
                      and (not statuses or d.status in statuses)
                      and _in_window(d, window)]
        chosen.sort(key=lambda d: d.create_time, reverse=True)
        page, token = _page([d.deployment_id for d in chosen], params.get("nextToken"))
        return {"deployments": page, "nextToken": token}

    def stop_deployment(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        with backend.lock:
            if not deployment.active or deployment.job.stop_requested.is_set():
                raise errors.DeploymentAlreadyCompletedException(
                    f"The deployment {deployment.deployment_id} has already completed.")
        self.codedeploy.engine.stop(backend, deployment, params.get("autoRollbackEnabled"))
        return {"status": "Pending",
                "statusMessage": "Stopping deployment; hosts in flight finish their current event."}

    def continue_deployment(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        if not deployment.active:
            raise errors.DeploymentAlreadyCompletedException(
                f"The deployment {deployment.deployment_id} has already completed.")
        if bluegreen.continue_deployment(deployment, params.get("deploymentWaitType")):
            return {}
        raise errors.DeploymentIsNotInReadyStateException(
            f"The deployment {deployment.deployment_id} is not in the Ready state: only blue/green "
            "deployments that wait for traffic rerouting can be continued.")

    # --- deployment targets and instances ---------------------------------------------------------
    def list_deployment_targets(self, params, ctx):
        deployment = self._backend(ctx).deployment(params.get("deploymentId"))
        filters = params.get("targetFilters") or {}
        statuses = filters.get("TargetStatus") or []
        ids = [i for i, t in sorted(deployment.targets.items())
               if not statuses or t.status in statuses]
        page, token = _page(ids, params.get("nextToken"))
        return {"targetIds": page, "nextToken": token}

    def batch_get_deployment_targets(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        ids = params.get("targetIds") or []
        if len(ids) > TARGET_BATCH_LIMIT:
            raise errors.DeploymentTargetListSizeExceededException(
                f"At most {TARGET_BATCH_LIMIT} target IDs may be requested at once.")
        found = []
        with backend.lock:
            for target_id in ids:
                target = self._target(deployment, target_id, errors.DeploymentTargetDoesNotExistException)
                found.append({"deploymentTargetType": "InstanceTarget",
                              "instanceTarget": target.instance_target_api()})
        return {"deploymentTargets": found}

    def get_deployment_target(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        with backend.lock:
            target = self._target(deployment, params.get("targetId"),
                                  errors.DeploymentTargetDoesNotExistException)
            return {"deploymentTarget": {"deploymentTargetType": "InstanceTarget",
                                         "instanceTarget": target.instance_target_api()}}

    def list_deployment_instances(self, params, ctx):
        deployment = self._backend(ctx).deployment(params.get("deploymentId"))
        statuses = params.get("instanceStatusFilter") or []
        ids = [i for i, t in sorted(deployment.targets.items())
               if not statuses or t.status in statuses]
        page, token = _page(ids, params.get("nextToken"))
        return {"instancesList": page, "nextToken": token}

    def get_deployment_instance(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        with backend.lock:
            target = self._target(deployment, params.get("instanceId"), errors.InstanceDoesNotExistException)
            return {"instanceSummary": target.instance_summary_api()}

    def batch_get_deployment_instances(self, params, ctx):
        backend = self._backend(ctx)
        deployment = backend.deployment(params.get("deploymentId"))
        ids = params.get("instanceIds") or []
        _batch_limit(ids)
        found, missing = [], []
        with backend.lock:
            for instance_id in ids:
                target = deployment.targets.get(instance_id)
                if target is None:
                    missing.append(instance_id)
                else:
                    found.append(target.instance_summary_api())
        message = f"Instances not part of the deployment: {', '.join(missing)}" if missing else None
        return {"instancesSummary": found, "errorMessage": message}

    def _target(self, deployment: Deployment, target_id: str | None, missing_error):
        if not target_id:
            raise errors.DeploymentTargetIdRequiredException("A target ID must be specified.")
        target = deployment.targets.get(target_id.rsplit("/", 1)[-1])
        if target is None:
            raise missing_error(f"The target {target_id} is not part of deployment "
                                f"{deployment.deployment_id}.")
        return target


def _tag_dict(tags) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _batch_limit(items: list) -> None:
    if len(items) > BATCH_LIMIT:
        raise errors.BatchLimitExceededException(f"At most {BATCH_LIMIT} items may be requested at once.")


def _page(items: list, token: str | None, size: int = PAGE_SIZE):
    start = 0
    if token:
        try:
            start = int(token)
        except ValueError:
            raise errors.InvalidNextTokenException("The next token is not valid.") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _in_window(deployment: Deployment, window: dict) -> bool:
    created = deployment.create_time.timestamp()
    start, end = window.get("start"), window.get("end")
    return (start is None or created >= float(start)) and (end is None or created <= float(end))
