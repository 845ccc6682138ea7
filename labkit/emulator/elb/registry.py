"""Keeps a local proxy per moto ELBv2 listener, health-checks registered targets, drains deregistered ones."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass

from labkit.emulator.elb.health import CheckSettings, HealthChecker
from labkit.emulator.elb.proxy import ListenerProxy

log = logging.getLogger("labkit.emulator.elb")
SYNC_INTERVAL = 0.25
NOT_IN_USE = ("unused", "Target.NotInUse",
              "Target group is not configured to receive traffic from the load balancer")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")


@dataclass
class Lease:
    """A request's hold on a target: while held, the target counts the request as in flight."""

    registry: LoadBalancerRegistry
    key: tuple[str, str]
    port: int | None

    def release(self) -> None:
        with self.registry.lock:
            self.registry.in_flight[self.key] -= 1


@dataclass
class Decision:
    lease: Lease | None = None
    fixed: tuple[int, str, str] | None = None  # a fixed-response action: status, type, body


@dataclass
class Draining:
    until: float  # when the deregistration delay ends, in-flight requests or not


class LoadBalancerRegistry:
    def __init__(self, runtime):
        self.runtime = runtime
        self.lock = threading.RLock()
        self.health = HealthChecker(runtime.stopping)
        self.proxies: dict[str, ListenerProxy] = {}
        self.listeners: dict[str, tuple[object, object]] = {}  # listener ARN -> (backend, listener)
        self.in_flight: dict[tuple[str, str], int] = {}
        self.draining: dict[tuple[str, str], Draining] = {}
        self._turn = itertools.count()
        self._poller: threading.Thread | None = None

    # --- the moto side ------------------------------------------------------------------------
    def _backends(self):
        from moto.elbv2.models import elbv2_backends

        for _account, per_region in list(elbv2_backends.items()):
            for _region, backend in list(per_region.items()):
                yield backend

    def forwarded_groups(self) -> dict[str, list[str]]:
        """Target group ARN -> listener ARNs that forward to it."""
        groups: dict[str, list[str]] = {}
        for arn, (_backend, listener) in list(self.listeners.items()):
            for group_arn, _weight in _forward_targets(listener):
                groups.setdefault(group_arn, []).append(arn)
        return groups

    def local_port(self, group, target: dict) -> int | None:
        """The real loopback port behind a registered target (None: nothing can answer there)."""
        target_id, port = target["Id"], int(target.get("Port") or group.port or 0)
        if not target_id.startswith("i-"):  # an IP target: only loopback is reachable here
            return port if target_id in ("127.0.0.1", "localhost") else None
        hosts = self.runtime.service("codedeploy").hosts
        host = hosts.get(target_id)
        if host is None:
            hosts.reconcile()
            host = hosts.get(target_id)
        if host is None or not host.is_live:
            return None
        # A local host has one service port, which stands for the target group's port.
        return host.port if port == int(group.port or 0) else None

    def _health_port(self, group, target: dict, traffic_port: int | None) -> int | None:
        setting = str(group.health_check_port or "traffic-port")
        if setting == "traffic-port" or int(setting) == int(target.get("Port") or group.port or 0):
            return traffic_port
        return self.local_port(group, {**target, "Port": int(setting)})

    # --- syncing --------------------------------------------------------------------------------
    def sync(self) -> None:
        seen: dict[str, tuple[object, object, object]] = {}
        for backend in self._backends():
            for balancer in list(backend.load_balancers.values()):
                for listener in list(balancer.listeners.values()):
                    seen[listener.arn] = (backend, listener, balancer)
        with self.lock:
            for arn in [a for a in self.proxies if a not in seen]:
                self.proxies.pop(arn).close()
                self.listeners.pop(arn, None)
                log.info("load balancer listener %s gone; its proxy stopped", arn)
            for arn, (backend, listener, balancer) in seen.items():
                self.listeners[arn] = (backend, listener)
                if arn not in self.proxies:
                    proxy = ListenerProxy(self, arn, balancer.arn, int(listener.port or 80))
                    proxy.start()
                    self.proxies[arn] = proxy
                    log.info("listener %s (port %s) served on %s", arn, listener.port, proxy.url)
        self._check_targets()
        self._end_finished_draining()

    def _check_targets(self) -> None:
        keep = set()
        forwarded = self.forwarded_groups()
        for backend in self._backends():
            for group in list(backend.target_groups.values()):
                if group.arn not in forwarded:
                    continue
                settings = CheckSettings.of(group)
                for target in list(group.targets.values()):
                    port = self.local_port(group, target)
                    key = (group.arn, target["Id"], int(target.get("Port") or group.port or 0))
                    keep.add(key)
                    self.health.run_due(key, self._health_port(group, target, port), settings)
        self.health.forget_except(keep)

    def _end_finished_draining(self) -> None:
        now = time.monotonic()
        with self.lock:
            for key in list(self.draining):
                if self.in_flight.get(key, 0) <= 0 or now >= self.draining[key].until:
                    del self.draining[key]

    # --- routing ----------------------------------------------------------------------------------
    def route(self, listener_arn: str) -> Decision:
        with self.lock:
            found = self.listeners.get(listener_arn)
            if found is None:
                return Decision()
            backend, listener = found
            actions = sorted(listener.default_actions, key=lambda a: int(a.data.get("Order") or 0))
            action = actions[0].data if actions else {}
            if action.get("Type") == "fixed-response":
                config = action.get("FixedResponseConfig") or {}
                return Decision(fixed=(int(config.get("StatusCode") or 200),
                                       config.get("ContentType") or "text/plain",
                                       config.get("MessageBody") or ""))
            choices = _forward_targets(listener)
            if not choices:
                return Decision()
            group_arn = random.choices([a for a, _ in choices], [w for _, w in choices])[0]
            group = backend.target_groups.get(group_arn)
            if group is None:
                return Decision()
            lease, target = self._lease(group)
        if lease is not None:  # outside the lock: finding the host may have to look at EC2
            lease.port = self.local_port(group, target)
        return Decision(lease=lease)

    def _lease(self, group) -> tuple[Lease | None, dict | None]:
        """Round robin over healthy targets; with none healthy, over all (ELB fails open)."""
        registered = list(group.targets.values())
        if not registered:
            return None, None
        routable = []
        for target in registered:
            key = (group.arn, target["Id"], int(target.get("Port") or group.port or 0))
            state = self.health.state_of(key)
            if state and state[0] in ("healthy", "unavailable"):
                routable.append(target)
        target = (routable or registered)[next(self._turn) % len(routable or registered)]
        key = (group.arn, target["Id"])
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return Lease(self, key, None), target

    # --- hooks on moto's target groups -----------------------------------------------------------
    def registered(self, group, targets: list[dict]) -> None:
        for target in targets:
            port = int(target.get("Port") or group.port or 0)
            self.health.restart((group.arn, target["Id"], port))
            self.draining.pop((group.arn, target["Id"]), None)

    def deregistered(self, group, targets: list[dict]) -> None:
        delay = float(group.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)
        for target in targets:
            key = (group.arn, target["Id"])
            if self.in_flight.get(key, 0) > 0 and delay > 0:
                self.draining[key] = Draining(time.monotonic() + delay)

    def is_draining(self, group_arn: str, target_id: str) -> bool:
        with self.lock:
            entry = self.draining.get((group_arn, target_id))
            if entry is None:
                return False
            if self.in_flight.get((group_arn, target_id), 0) <= 0 or time.monotonic() >= entry.until:
                del self.draining[(group_arn, target_id)]
                return False
            return True

    def health_of(self, group, target: dict, ec2_backend):
        """DescribeTargetHealth's answer for one target, from the checks really performed."""
        from moto.elbv2.models import FakeHealthStatus

        target_id = target["Id"]
        registered = group.targets.get(target_id)
        port = (registered or target).get("Port") or group.port
        if registered is None:
            if self.is_draining(group.arn, target_id):
                return FakeHealthStatus(target_id, port, group.health_check_port, *DRAINING)
            return FakeHealthStatus(target_id, port, group.health_check_port, "unused",
                                    "Target.NotRegistered", "Target is not registered to the target group")
        if target_id.startswith("i-"):
            instance = ec2_backend.get_instance_by_id(target_id)
            if instance is not None and instance.state != "running":
                return FakeHealthStatus(target_id, port, group.health_check_port, "unused",
                                        "Target.InvalidState", f"Target is in the {instance.state} state")
        if group.arn not in self.forwarded_groups():
            return FakeHealthStatus(target_id, port, group.health_check_port, *NOT_IN_USE)
        state = self.health.state_of((group.arn, target_id, int(port or 0)))
        if state is None:  # registered a moment ago: the first check has not been scheduled yet
            state = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
        return FakeHealthStatus(target_id, port, group.health_check_port, *state)

    def target_state(self, group_arn: str, target_id: str) -> str:
        """The state DescribeTargetHealth would give (for CodeDeploy's traffic events)."""
        for backend in self._backends():
            group = backend.target_groups.get(group_arn)
            if group is not None:
                return self.health_of(group, {"Id": target_id}, backend.ec2_backend).status
        return "unused"

    # --- discovery, lifecycle ----------------------------------------------------------------------
    def describe(self) -> dict:
        """The answer of GET /_labkit/load-balancers."""
        self.sync()
        found = []
        with self.lock:
            for arn, proxy in sorted(self.proxies.items(), key=lambda item: item[1].port):
                _backend, listener = self.listeners[arn]
                groups = [a for a, _ in _forward_targets(listener)]
                found.append({"loadBalancerArn": proxy.load_balancer_arn, "listenerArn": arn,
                              "targetGroupArn": groups[0] if groups else None,
                              "port": proxy.port, "url": proxy.url})
        return {"loadBalancers": found}

    def start(self) -> None:
        install_moto_hooks(self)
        with self.lock:
            if self._poller is not None:
                return
            self._poller = threading.Thread(target=self._poll, name="elb-registry", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        while not self.runtime.stopping.wait(SYNC_INTERVAL):
            try:
                self.sync()
            except Exception:  # moto's state changing under us: next round sees it settled
                log.debug("load balancer sync failed", exc_info=True)
        self.close_all()

    def close_all(self) -> None:
        with self.lock:
            for proxy in self.proxies.values():
                proxy.close()
            self.proxies.clear()
            self.listeners.clear()
            self.draining.clear()
        self.health.forget_except(set())

    def reset(self) -> None:
        self.close_all()


def _forward_targets(listener) -> list[tuple[str, int]]:
    """(target group ARN, weight) of a listener's default forward action."""
    for action in listener.default_actions:
        data = action.data
        if data.get("Type") != "forward":
            continue
        config = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if config:
            return [(g["TargetGroupArn"], int(g.get("Weight", 1) or 0)) for g in config
                    if int(g.get("Weight", 1) or 0) > 0] or [(config[0]["TargetGroupArn"], 1)]
        if data.get("TargetGroupArn"):
            return [(data["TargetGroupArn"], 1)]
    return []


# --- patches to moto, installed once per process --------------------------------------------------

_hooked: dict[str, LoadBalancerRegistry] = {}


def install_moto_hooks(registry: LoadBalancerRegistry) -> None:
    """Route moto's RegisterTargets/DeregisterTargets/DescribeTargetHealth through the registry,
    so health is the checks' truth and a deregistered target drains its in-flight requests."""
    first = "registry" not in _hooked
    _hooked["registry"] = registry
    if not first:
        return
    from moto.elbv2.models import FakeTargetGroup

    register, deregister = FakeTargetGroup.register, FakeTargetGroup.deregister

    def register_and_check(group, targets):
        current = _hooked["registry"]
        with current.lock:
            # Registering a registered target changes nothing on AWS: its health carries on.
            new = [t for t in targets if t["Id"] not in group.targets
                   or int(group.targets[t["Id"]].get("Port") or 0) != int(t.get("Port") or group.port or 0)]
            register(group, targets)  # moto validates first (a stopped instance is refused)
            current.registered(group, new)

    def deregister_and_drain(group, targets):
        current = _hooked["registry"]
        with current.lock:
            deregister(group, targets)
            current.deregistered(group, targets)

    def health_from_checks(group, target, ec2_backend):
        return _hooked["registry"].health_of(group, target, ec2_backend)

    FakeTargetGroup.register = register_and_check
    FakeTargetGroup.deregister = deregister_and_drain
    FakeTargetGroup.health_for = health_from_checks
