"""Blue/green deployments on local hosts: provision the replacement (green) fleet, install on it, move
traffic to it, block traffic on the original (blue) fleet, then terminate or keep the originals."""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field

from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy import traffic
from labkit.emulator.codedeploy.models import HEALTH_CONSTRAINTS_MESSAGE
from labkit.emulator.codedeploy.records import (
    INSTALL_EVENTS,
    TRAFFIC_AFTER,
    TRAFFIC_BEFORE,
    LifecycleEventRecord,
    TargetRecord,
    now,
)

log = logging.getLogger("labkit.emulator.codedeploy.bluegreen")
POLL = 0.2
# What AWS applies when a blue/green group leaves these out.
DEFAULT_TERMINATION = {"action": "TERMINATE", "terminationWaitTimeInMinutes": 60}
DEFAULT_READY = {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0}
DEFAULT_PROVISIONING = {"action": "DISCOVER_EXISTING"}


# --- checks ---------------------------------------------------------------------------------------

def is_blue_green(settings: dict) -> bool:
    return (settings.get("deploymentStyle") or {}).get("deploymentType") == "BLUE_GREEN"


def check_group(settings: dict) -> None:
    """CreateDeploymentGroup/UpdateDeploymentGroup: what a BLUE_GREEN group needs."""
    if not is_blue_green(settings):
        return
    style = settings.get("deploymentStyle") or {}
    if style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
        raise errors.InvalidDeploymentStyleException(
            "A BLUE_GREEN deployment style needs deploymentOption WITH_TRAFFIC_CONTROL: traffic moves "
            "to the replacement instances through a load balancer.")
    if not traffic.target_group_names(settings) and not (settings.get("loadBalancerInfo") or {}).get("elbInfoList"):
        raise errors.InvalidLoadBalancerInfoException(
            "A blue/green deployment group needs loadBalancerInfo with a target group "
            "(targetGroupInfoList): it is how traffic moves from the original to the replacement instances.")
    config = settings.get("blueGreenDeploymentConfiguration") or {}
    provisioning = (config.get("greenFleetProvisioningOption") or DEFAULT_PROVISIONING).get("action")
    if provisioning == "COPY_AUTO_SCALING_GROUP" and not settings.get("autoScalingGroups"):
        raise errors.InvalidBlueGreenDeploymentConfigurationException(
            "greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP needs the deployment group to name "
            "an Auto Scaling group (autoScalingGroups) to copy.")


def check_request(backend, group, params: dict) -> None:
    """CreateDeployment on a BLUE_GREEN group: a load balancer, and a way to find the green fleet."""
    settings = group.settings
    check_group(settings)
    traffic.check_load_balancer_info(backend.account_id, backend.region, settings)
    provisioning = _provisioning(settings)
    if provisioning == "DISCOVER_EXISTING":
        wanted = params.get("targetInstances") or {}
        if not (wanted.get("tagFilters") or wanted.get("autoScalingGroups") or wanted.get("ec2TagSet")):
            raise errors.InvalidTargetInstancesException(
                "A blue/green deployment with greenFleetProvisioningOption DISCOVER_EXISTING needs "
                "targetInstances (tagFilters, ec2TagSet or autoScalingGroups) naming the replacement instances.")
    elif params.get("targetInstances", {}).get("autoScalingGroups"):
        raise errors.InvalidTargetInstancesException(
            "targetInstances.autoScalingGroups applies only to DISCOVER_EXISTING; with "
            "COPY_AUTO_SCALING_GROUP CodeDeploy creates the replacement group itself.")


def _provisioning(settings: dict) -> str:
    config = settings.get("blueGreenDeploymentConfiguration") or {}
    return (config.get("greenFleetProvisioningOption") or DEFAULT_PROVISIONING).get("action") or "DISCOVER_EXISTING"


# --- the plan a deployment carries ----------------------------------------------------------------

@dataclass
class BlueGreenPlan:
    config: dict
    load_balancer_info: dict
    target_instances: dict | None
    ready: threading.Event = field(default_factory=threading.Event)
    terminate_now: threading.Event = field(default_factory=threading.Event)
    waiting: str | None = None  # READY_WAIT or TERMINATION_WAIT while the deployment waits
    termination_wait_started: bool = False
    green_group: str | None = None  # the Auto Scaling group copied for the green fleet

    def api_fields(self) -> dict:
        fields = {"blueGreenDeploymentConfiguration": copy.deepcopy(self.config),
                  "loadBalancerInfo": copy.deepcopy(self.load_balancer_info),
                  "instanceTerminationWaitTimeStarted": self.termination_wait_started}
        if self.target_instances:
            fields["targetInstances"] = copy.deepcopy(self.target_instances)
        return fields


def attach(deployment, params: dict) -> None:
    settings = deployment.group.settings
    config = copy.deepcopy(settings.get("blueGreenDeploymentConfiguration") or {})
    config.setdefault("terminateBlueInstancesOnDeploymentSuccess", dict(DEFAULT_TERMINATION))
    config.setdefault("deploymentReadyOption", dict(DEFAULT_READY))
    config.setdefault("greenFleetProvisioningOption", dict(DEFAULT_PROVISIONING))
    deployment.blue_green = BlueGreenPlan(config, copy.deepcopy(settings.get("loadBalancerInfo") or {}),
                                          copy.deepcopy(params.get("targetInstances")))


def continue_deployment(deployment, wait_type: str | None) -> bool:
    """ContinueDeployment: True when a blue/green deployment was waiting for it (and now goes on)."""
    plan = deployment.blue_green
    if plan is None or plan.waiting is None:
        return False
    wait_type = wait_type or "READY_WAIT"
    if wait_type != plan.waiting:
        raise errors.InvalidDeploymentWaitTypeException(
            f"The deployment {deployment.deployment_id} is waiting in {plan.waiting}, not {wait_type}.")
    (plan.ready if wait_type == "READY_WAIT" else plan.terminate_now).set()
    return True


class LabeledTarget(TargetRecord):
    """A blue/green target: the original (Blue) or replacement (Green) instance."""

    label: str = "Blue"

    def instance_target_api(self) -> dict:
        return {**super().instance_target_api(), "instanceLabel": self.label}

    def instance_summary_api(self) -> dict:
        return {**super().instance_summary_api(), "instanceType": self.label}


def _instance_profile_of(scaling_group) -> dict | None:
    """The instance profile ({"Name"} or {"Arn"}) the group's launch configuration or template gives."""
    config = scaling_group.launch_config
    if config is not None and getattr(config, "iam_instance_profile", None):
        return {"Name": config.iam_instance_profile}
    template = scaling_group.ec2_launch_template
    if template is None:
        return None
    try:
        version = template.get_version(scaling_group.launch_template_version)
    except Exception:  # "$Latest"/"$Default" spellings moto may not resolve
        version = template.latest_version()
    return (getattr(version, "data", None) or {}).get("IamInstanceProfile")


def _labeled(deployment_id: str, instance_id: str, arn: str, label: str, events) -> LabeledTarget:
    record = LabeledTarget(deployment_id, instance_id, arn)
    record.label = label
    record.events = [LifecycleEventRecord(name) for name in events]
    return record


class _Ended(Exception):
    """The deployment ended early: (status, error code, message, rollback event)."""

    def __init__(self, status: str, code: str, message: str, event: str | None):
        super().__init__(message)
        self.status, self.code, self.message, self.event = status, code, message, event


# --- the run ----------------------------------------------------------------------------------------

class BlueGreenRun:
    def __init__(self, engine, backend, deployment):
        self.engine, self.backend, self.deployment = engine, backend, deployment
        self.service, self.runtime, self.hosts = engine.service, engine.runtime, engine.hosts
        self.plan: BlueGreenPlan = deployment.blue_green
        self.names = traffic.target_group_names(deployment.group.settings)
        self.blue: list[str] = []
        self.green: list[str] = []
        self.rerouted = False

    def run(self) -> None:
        try:
            self._run()
        except _Ended as ended:
            self._end(ended)

    def _run(self) -> None:
        deployment = self.deployment
        self.blue = sorted(deployment.targets)
        self.green = self._provision_green()
        if not self.green:
            raise _Ended("Failed", "NO_INSTANCES", "No replacement instances were found: "
                         "targetInstances matches no running instance.", None)
        self._record_targets()
        if not self._on_hosts(self.green, ("install",), finish=False):
            raise self._failure()
        self._check_alarms()
        self._wait_until_ready()
        self._check_alarms()
        self.rerouted = True
        if not self._on_hosts(self.green, ("allow",), finish=True):
            raise self._failure()
        self._check_alarms()
        if self.blue and not self._on_hosts(self.blue, ("block",), finish=True):
            raise self._failure()
        self._check_alarms()
        self._retire_blue()
        with self.backend.lock:
            if self.plan.green_group:  # the group deploys to the replacement Auto Scaling group next
                deployment.group.settings["autoScalingGroups"] = [self.plan.green_group]
        self.engine._finish(self.backend, deployment, "Succeeded", None)

    # --- the green fleet ------------------------------------------------------------------------
    def _provision_green(self) -> list[str]:
        from labkit.emulator.codedeploy.engine import matching_instance_ids

        settings = self.deployment.group.settings
        account, region = self.backend.account_id, self.backend.region
        if _provisioning(settings) == "COPY_AUTO_SCALING_GROUP":
            return self._copy_auto_scaling_group(settings["autoScalingGroups"][0])
        wanted = self.plan.target_instances or {}
        chosen = matching_instance_ids(account, region, {
            "ec2TagFilters": wanted.get("tagFilters") or [], "ec2TagSet": wanted.get("ec2TagSet"),
            "autoScalingGroups": wanted.get("autoScalingGroups") or []})
        return [i for i in chosen if i not in self.blue]

    def _copy_auto_scaling_group(self, name: str) -> list[str]:
        from moto.autoscaling.models import autoscaling_backends

        scaling = autoscaling_backends[self.backend.account_id][self.backend.region]
        original = scaling.autoscaling_groups.get(name)
        if original is None:
            raise _Ended("Failed", "AUTO_SCALING_CONFIGURATION",
                         f"The Auto Scaling group {name} to copy no longer exists.", None)
        copy_name = f"CodeDeploy_{self.deployment.group.name}_{self.deployment.deployment_id}"
        template = None
        if original.launch_template:
            template = {"LaunchTemplateId": original.launch_template["LaunchTemplateId"],
                        "Version": original.launch_template.get("Version") or "$Default"}
        tags = [{**t, "ResourceId": copy_name} for t in original.tags]
        # Without the original's target groups: green instances get traffic only at AllowTraffic.
        scaling.create_auto_scaling_group(
            name=copy_name, availability_zones=original.availability_zones,
            desired_capacity=original.desired_capacity, max_size=original.max_size,
            min_size=original.min_size,
            launch_config_name=original.launch_config.name if original.launch_config else None,
            launch_template=template, vpc_zone_identifier=original.vpc_zone_identifier,
            default_cooldown=original.default_cooldown,
            health_check_period=original.health_check_grace_period,
            health_check_type=original.health_check_type, load_balancers=[], target_group_arns=[],
            placement_group=None, termination_policies=list(original.termination_policies), tags=tags)
        self.plan.green_group = copy_name
        group = scaling.autoscaling_groups[copy_name]
        green = sorted(s.instance.id for s in group.instance_states)
        profile = _instance_profile_of(original)
        if profile:  # as on AWS, instances launched from the template carry its instance profile
            for instance_id in green:
                scaling.ec2_backend.associate_iam_instance_profile(
                    instance_id, iam_instance_profile_name=profile.get("Name"),
                    iam_instance_profile_arn=profile.get("Arn"))
        self.hosts.reconcile()
        return green

    def _record_targets(self) -> None:
        deployment, region, account = self.deployment, self.backend.region, self.backend.account_id
        with self.backend.lock:
            for instance_id in self.blue:
                old = deployment.targets[instance_id]
                deployment.targets[instance_id] = _labeled(
                    deployment.deployment_id, instance_id, old.target_arn, "Blue", TRAFFIC_BEFORE)
            for instance_id in self.green:
                arn = f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"
                deployment.targets[instance_id] = _labeled(
                    deployment.deployment_id, instance_id, arn, "Green", INSTALL_EVENTS + TRAFFIC_AFTER)

    # --- hosts -----------------------------------------------------------------------------------
    def _on_hosts(self, instance_ids: list[str], phases: tuple[str, ...], finish: bool) -> bool:
        results: dict[str, bool] = {}

        def run_host(instance_id: str) -> None:
            results[instance_id] = self._run_host(instance_id, phases, finish)

        threads = [threading.Thread(target=run_host, args=(i,), daemon=True) for i in instance_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.deployment.job.stop_requested.is_set():
            raise self._stop_request()
        return all(results.get(i, False) for i in instance_ids)

    def _run_host(self, instance_id: str, phases: tuple[str, ...], finish: bool) -> bool:
        deployment, backend = self.deployment, self.backend
        target = deployment.targets[instance_id]
        self.hosts.reconcile()
        host = self.hosts.get(instance_id)
        if "allow" not in phases:
            self.service.send_instance_event(backend, deployment, instance_id, "START")
        if host is None or not host.is_live:
            with backend.lock:
                target.skip_pending()
                target.set_status("Failed")
            ok = False
        else:
            agent = traffic.TrafficAgent(self.runtime, self.hosts, host, deployment.job, target,
                                         backend.lock, group_names=self.names, phases=phases,
                                         finish=finish)
            ok = agent.run()
        if finish or not ok:
            self.service.send_instance_event(backend, deployment, instance_id,
                                             "SUCCESS" if ok else "FAILURE")
        return ok

    # --- waits -------------------------------------------------------------------------------------
    def _wait_until_ready(self) -> None:
        option = self.plan.config.get("deploymentReadyOption") or DEFAULT_READY
        if option.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return
        minutes = float(option.get("waitTimeInMinutes") or 0)
        with self.backend.lock:
            self.deployment.status = "Ready"
            for instance_id in self.green:
                self.deployment.targets[instance_id].set_status("Ready")
            self.plan.waiting = "READY_WAIT"
        try:
            if not self._wait(self.plan.ready, minutes * 60):
                raise _Ended("Stopped", "TIMEOUT", "Traffic rerouting was not started (ContinueDeployment) "
                             f"within {minutes:g} minute(s), so the deployment was stopped.", None)
        finally:
            with self.backend.lock:
                self.plan.waiting = None
                if self.deployment.status == "Ready":
                    self.deployment.status = "InProgress"
                for instance_id in self.green:
                    if self.deployment.targets[instance_id].status == "Ready":
                        self.deployment.targets[instance_id].set_status("InProgress")

    def _retire_blue(self) -> None:
        option = self.plan.config.get("terminateBlueInstancesOnDeploymentSuccess") or DEFAULT_TERMINATION
        if option.get("action") != "TERMINATE" or not self.blue:
            return
        minutes = float(option.get("terminationWaitTimeInMinutes") or 0)
        with self.backend.lock:
            self.plan.waiting, self.plan.termination_wait_started = "TERMINATION_WAIT", True
        try:
            self._wait(self.plan.terminate_now, minutes * 60)
        finally:
            self.plan.waiting = None
        settings = self.deployment.group.settings
        if self.plan.green_group:
            from moto.autoscaling.models import autoscaling_backends

            scaling = autoscaling_backends[self.backend.account_id][self.backend.region]
            for name in settings.get("autoScalingGroups") or []:
                if name in scaling.autoscaling_groups:
                    scaling.autoscaling_groups[name].set_desired_capacity(0)
                    scaling.delete_auto_scaling_group(name)
        self._terminate(self.blue)

    def _check_alarms(self) -> None:
        alarm = self.engine._active_alarm(self.backend, self.deployment)
        if alarm:
            raise _Ended("Stopped", "ALARM_ACTIVE",
                         "One or more alarms have been activated according to the Amazon CloudWatch "
                         "metrics you selected, and the affected deployments have been stopped. "
                         f"Activated alarms: <{alarm}>", "DEPLOYMENT_STOP_ON_ALARM")

    def _wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait for `event` up to `seconds`; a stop request or an alarm ends the wait with _Ended."""
        deadline = time.monotonic() + seconds
        while not event.is_set():
            if self.deployment.job.stop_requested.is_set():
                raise self._stop_request()
            self._check_alarms()
            if time.monotonic() >= deadline or self.runtime.stopping.wait(POLL):
                return event.is_set()
        return True

    def _terminate(self, instance_ids: list[str]) -> None:
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.backend.account_id][self.backend.region]
        live = [i for i in instance_ids
                if (inst := ec2.get_instance_by_id(i)) is not None and inst.state != "terminated"]
        if live:
            from moto.autoscaling.models import autoscaling_backends
            from moto.elbv2.models import elbv2_backends

            ec2.terminate_instances(live)
            # What moto's TerminateInstances API tells the other services (the backend call does not).
            elbv2_backends[self.backend.account_id][self.backend.region].notify_terminate_instances(live)
            autoscaling_backends[self.backend.account_id][self.backend.region].notify_terminate_instances(live)
        self.hosts.reconcile()

    # --- endings -----------------------------------------------------------------------------------
    def _failure(self) -> _Ended:
        return _Ended("Failed", "HEALTH_CONSTRAINTS", HEALTH_CONSTRAINTS_MESSAGE, "DEPLOYMENT_FAILURE")

    def _stop_request(self) -> _Ended:
        return _Ended("Stopped", "MANUAL_STOP", "The deployment was stopped by a user request.",
                      "DEPLOYMENT_STOP_ON_REQUEST")

    def _rollback_wanted(self, event: str | None) -> bool:
        if event is None:
            return False
        deployment = self.deployment
        wanted = event in deployment.group.auto_rollback_events
        if deployment.auto_rollback is not None:
            config = deployment.auto_rollback
            wanted = bool(config.get("enabled")) and event in (config.get("events") or [])
        if event == "DEPLOYMENT_STOP_ON_REQUEST" and deployment.job.rollback_on_stop is not None:
            wanted = deployment.job.rollback_on_stop
        return wanted

    def _end(self, ended: _Ended) -> None:
        deployment, backend = self.deployment, self.backend
        with backend.lock:
            for target in deployment.targets.values():
                if target.status in ("Pending", "Ready", "InProgress"):
                    target.skip_pending()
                    target.set_status("Skipped")
        if self._rollback_wanted(ended.event):
            message = self._roll_back()
            with backend.lock:
                deployment.rollback_info = {"rollbackMessage": message}
        self.engine._finish(backend, deployment, ended.status,
                            {"code": ended.code, "message": ended.message})

    def _roll_back(self) -> str:
        """As AWS rolls back a blue/green deployment: traffic back to the originals, green retired."""
        job, account, region = self.deployment.job, self.backend.account_id, self.backend.region

        def note(text: str) -> None:
            log.info("deployment %s rollback: %s", job.deployment_id, text)

        if self.rerouted:
            for instance_id in self.blue:
                try:
                    traffic.allow(self.runtime, account, region, self.names, instance_id, note, lambda: False)
                except Exception as exc:  # keep moving traffic back for the others
                    note(f"{instance_id} could not be registered again: {exc}")
            for instance_id in self.green:
                traffic.block(self.runtime, account, region, self.names, instance_id, note)
        if self.plan.green_group:
            from moto.autoscaling.models import autoscaling_backends

            scaling = autoscaling_backends[account][region]
            if self.plan.green_group in scaling.autoscaling_groups:
                scaling.autoscaling_groups[self.plan.green_group].set_desired_capacity(0)
                scaling.delete_auto_scaling_group(self.plan.green_group)
            self._terminate(self.green)
        moved = "traffic was moved back to the original instances" if self.rerouted else \
            "traffic had not moved, so the original instances kept serving"
        return (f"Rolled back at {now().isoformat(timespec='seconds')}: {moved}"
                + ("; the replacement instances were terminated." if self.plan.green_group else "."))
