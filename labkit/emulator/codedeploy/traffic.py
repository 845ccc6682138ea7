"""Traffic control on local hosts: BlockTraffic and AllowTraffic take a host out of and back into the
deployment group's target groups, waiting for draining and for health checks as CodeDeploy waits."""

from __future__ import annotations

import functools
import time

from moto.core.exceptions import ServiceException
from werkzeug.exceptions import HTTPException

from labkit.emulator.codedeploy import exceptions as errors
from labkit.emulator.codedeploy.agent import HostAgent, StepFailed
from labkit.emulator.codedeploy.appspec import AppSpecError, load_appspec
from labkit.emulator.codedeploy.records import Diagnostics
from labkit.emulator.json_api import AWSError, NotEmulatedException

POLL = 0.2
ROUTABLE = ("healthy", "unavailable")  # unavailable: health checks disabled, the target gets traffic


def with_traffic_control(settings: dict) -> bool:
    style = settings.get("deploymentStyle") or {}
    return style.get("deploymentOption") == "WITH_TRAFFIC_CONTROL"


def target_group_names(settings: dict) -> list[str]:
    info = settings.get("loadBalancerInfo") or {}
    return [g["name"] for g in info.get("targetGroupInfoList") or [] if g.get("name")]


def check_load_balancer_info(account_id: str, region: str, settings: dict) -> None:
    """What a deployment with traffic control needs: target groups (by name) that exist."""
    info = settings.get("loadBalancerInfo") or {}
    if info.get("elbInfoList"):
        raise NotEmulatedException(
            "labkit's emulator routes traffic through Application Load Balancer target groups only; "
            "use loadBalancerInfo.targetGroupInfoList instead of a Classic Load Balancer (elbInfoList).")
    names = target_group_names(settings)
    if not names:
        raise errors.InvalidLoadBalancerInfoException(
            "A deployment with traffic control needs loadBalancerInfo.targetGroupInfoList naming "
            "the target group(s) the instances serve behind.")
    for name in names:
        target_group(account_id, region, name)


def target_group(account_id: str, region: str, name: str):
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account_id][region]
    found = next((g for g in backend.target_groups.values() if g.name == name), None)
    if found is None:
        raise errors.InvalidLoadBalancerInfoException(
            f"The target group {name} does not exist in {region}; create it (elbv2 "
            "create_target_group) or fix loadBalancerInfo.targetGroupInfoList.")
    return found


def agent_for(deployment):
    """The agent class a host of this deployment runs: traffic events with traffic control."""
    settings = deployment.group.settings
    if with_traffic_control(settings) and target_group_names(settings):
        return functools.partial(TrafficAgent, group_names=target_group_names(settings))
    return HostAgent


# --- moving a host in and out of its target groups ---------------------------------------------

def block(runtime, account_id: str, region: str, names: list[str], instance_id: str, note) -> None:
    """Deregister the instance from each target group and wait until its requests have drained."""
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account_id][region]
    registry = runtime.service("elbv2")
    for name in names:
        group = target_group(account_id, region, name)
        if instance_id not in group.targets:
            note(f"{instance_id} is not registered with target group {name}; nothing to block.")
            continue
        delay = float(group.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)
        backend.deregister_targets(group.arn, [dict(group.targets[instance_id])])
        note(f"Deregistered {instance_id} from target group {name}; waiting up to {delay:.0f}s "
             "(the deregistration delay) for its in-flight requests.")
        deadline = time.monotonic() + delay + 5
        while registry.is_draining(group.arn, instance_id) and time.monotonic() < deadline:
            if runtime.stopping.wait(POLL):
                return


def allow(runtime, account_id: str, region: str, names: list[str], instance_id: str, note,
          stop_requested) -> None:
    """Register the instance with each target group and wait until its health checks pass."""
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account_id][region]
    registry = runtime.service("elbv2")
    for name in names:
        group = target_group(account_id, region, name)
        backend.register_targets(group.arn, [{"Id": instance_id, "Port": int(group.port)}])
        interval = float(group.health_check_interval_seconds or 30)
        checks = int(group.healthy_threshold_count or 5) + int(group.unhealthy_threshold_count or 2)
        limit = interval * (checks + 1) + float(group.health_check_timeout_seconds or 5)
        note(f"Registered {instance_id} with target group {name} on port {group.port}; waiting "
             f"for it to pass health checks (up to {limit:.0f}s).")
        deadline = time.monotonic() + limit
        while True:
            state = registry.target_state(group.arn, instance_id)
            if state in ROUTABLE:
                note(f"{instance_id} is {state} in target group {name}.")
                break
            if time.monotonic() > deadline or stop_requested():
                raise StepFailed(Diagnostics(
                    "UnknownError", "", f"The instance {instance_id} did not become healthy in target "
                    f"group {name} (state: {state}); its service did not pass the health checks on "
                    f"{group.health_check_path or '/'}.", ""))
            if runtime.stopping.wait(POLL):
                raise StepFailed(Diagnostics("UnknownError", "", "The emulator is stopping.", ""))


class TrafficAgent(HostAgent):
    """The in-place lifecycle with traffic control; `phases` picks the parts a blue/green host runs."""

    def __init__(self, *args, group_names: list[str], phases=("block", "install", "allow"),
                 finish: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.group_names, self.phases, self.finish = group_names, phases, finish

    def run(self) -> bool:
        if self.finish:
            return super().run()
        # A green host between install and traffic: its record stays InProgress, events Pending.
        with self.host.lock:
            with self.lock:
                self.target.set_status("InProgress")
            try:
                ok = self._run_events()
            except Exception as exc:  # a bug must fail this host, never the worker thread
                self._fail_current(Diagnostics("UnknownError", "", f"labkit agent error: {exc}", ""))
                ok = False
            if not ok:
                with self.lock:
                    self.target.skip_pending()
                    self.target.set_status("Failed")
            return ok

    def _run_events(self) -> bool:
        if "block" in self.phases and not self._block_phase():
            return False
        if "install" in self.phases and not super()._run_events():
            return False
        return "allow" not in self.phases or self._allow_phase()

    def _block_phase(self) -> bool:
        last = self._last_successful_archive()
        previous = None
        if last is not None:
            try:
                previous = load_appspec(last)
            except AppSpecError as exc:
                self._note(f"The previous revision's appspec cannot be read ({exc}); its "
                           "block-traffic hooks are not run.")
        job = self.job
        return self._steps([
            ("BeforeBlockTraffic", lambda: previous and self._run_hooks("BeforeBlockTraffic", previous, last)),
            ("BlockTraffic", lambda: block(self.runtime, job.account_id, job.region, self.group_names,
                                           self.host.instance_id, self._note)),
            ("AfterBlockTraffic", lambda: previous and self._run_hooks("AfterBlockTraffic", previous, last)),
        ])

    def _allow_phase(self) -> bool:
        job = self.job
        appspec = self._load_appspec if self.archive.is_dir() else (lambda: None)
        return self._steps([
            ("BeforeAllowTraffic", lambda: self._hooks_of("BeforeAllowTraffic", appspec())),
            ("AllowTraffic", lambda: allow(self.runtime, job.account_id, job.region, self.group_names,
                                           self.host.instance_id, self._note,
                                           job.stop_requested.is_set)),
            ("AfterAllowTraffic", lambda: self._hooks_of("AfterAllowTraffic", appspec())),
        ])

    def _hooks_of(self, event: str, appspec) -> None:
        if appspec is not None:
            self._run_hooks(event, appspec, self.archive)

    def _steps(self, steps) -> bool:
        for name, action in steps:
            if self.job.stop_requested.is_set() or self.runtime.stopping.is_set():
                self._note("The deployment was stopped; the remaining events are skipped.")
                return False
            self._start_event(name)
            try:
                try:
                    action()
                except (AWSError, ServiceException, HTTPException) as refused:  # a deleted target group, a stopped instance
                    message = getattr(refused, "message", None) or str(refused)
                    raise StepFailed(Diagnostics("UnknownError", "", message, "")) from None
            except StepFailed as failure:
                self._end_event(name, "Failed", failure.diagnostics)
                return False
            self._end_event(name, "Succeeded", Diagnostics())
        return True
