"""Local hosts: each running moto EC2 instance is backed by a folder (its root file system) and a port."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger("labkit.emulator.codedeploy.hosts")

# EC2 states in which an instance's processes keep running; any other state ends them.
LIVE_STATES = ("pending", "running")
RECONCILE_INTERVAL = 1.0


@dataclass
class Host:
    instance_id: str
    account_id: str
    region: str
    root: Path
    port: int
    state: str = "running"
    tags: dict[str, str] = field(default_factory=dict)
    # One deployment at a time may change a host's files (as the agent runs one command at a time).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def owner(self) -> str:
        """The process-registry owner of everything started on this host."""
        return f"host:{self.instance_id}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    def listening(self) -> bool:
        """True when something accepts connections on the host's port (its service is up)."""
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0


class HostRegistry:
    """Keeps one Host per live EC2 instance in moto, and ends a host's processes when it stops."""

    def __init__(self, runtime):
        self.runtime = runtime
        self._hosts: dict[str, Host] = {}
        self._lock = threading.RLock()
        self._poller: threading.Thread | None = None

    # --- discovery ---------------------------------------------------------------------
    def reconcile(self) -> list[Host]:
        """Match hosts to moto's EC2 instances: back new ones, end processes of stopped ones."""
        from moto.ec2.models import ec2_backends

        seen: dict[str, tuple[str, str, object, dict]] = {}
        for account_id, per_region in list(ec2_backends.items()):
            for region, backend in list(per_region.items()):
                for instance in backend.all_instances():
                    tags = dict(backend.tags.get(instance.id, {}))
                    seen[instance.id] = (account_id, region, instance.state, tags)
        with self._lock:
            for instance_id, (account_id, region, state, tags) in seen.items():
                host = self._hosts.get(instance_id)
                if host is None:
                    if state not in LIVE_STATES:
                        continue
                    host = self._back(instance_id, account_id, region)
                was_live = host.is_live
                host.state, host.tags = state, tags
                if was_live and not host.is_live:
                    self._end_processes(host, f"instance {state}")
                if state == "terminated":
                    del self._hosts[instance_id]
            for instance_id in [i for i in self._hosts if i not in seen]:
                # Gone from moto altogether (e.g. a reset): nothing may keep running for it.
                self._end_processes(self._hosts.pop(instance_id), "instance no longer exists")
            return list(self._hosts.values())

    def get(self, instance_id: str) -> Host | None:
        with self._lock:
            return self._hosts.get(instance_id)

    def live_hosts(self, account_id: str, region: str) -> list[Host]:
        return [h for h in self.reconcile()
                if h.account_id == account_id and h.region == region and h.is_live]

    def describe(self) -> dict:
        """The answer of GET /_labkit/hosts."""
        hosts = sorted(self.reconcile(), key=lambda h: h.instance_id)
        return {"hosts": [{
            "instanceId": h.instance_id,
            "state": h.state,
            "root": str(h.root),
            "port": h.port,
            "url": h.url,
            "accountId": h.account_id,
            "region": h.region,
            "tags": h.tags,
            "listening": h.is_live and h.listening(),
            "processes": len(self.alive_pids(h)),
        } for h in hosts]}

    def alive_pids(self, host: Host) -> list[int]:
        """The host's tracked processes that still run; the registry forgets the ones that ended."""
        from labkit.procs import pid_alive

        alive = []
        for pid in self.runtime.processes.pids(host.owner):
            if pid_alive(pid):
                alive.append(pid)
            else:  # forgetting twice is harmless, so a hook its agent is finishing may go too
                self.runtime.processes.forget(pid)
        return alive

    # --- processes -----------------------------------------------------------------------
    def adopt_session(self, host: Host, session_id: int) -> list[int]:
        """Track the processes a hook left running (its background services), by session id."""
        adopted = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid != session_id and _session_of(proc.pid) == session_id:
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                    self.runtime.processes.adopt(proc.pid, host.owner)
                    adopted.append(proc.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
                continue
        return adopted

    def _end_processes(self, host: Host, why: str) -> None:
        ended = self.runtime.processes.end(host.owner)
        if ended:
            log.info("host %s: %s; ended %d process(es)", host.instance_id, why, ended)

    # --- lifecycle -----------------------------------------------------------------------
    def _back(self, instance_id: str, account_id: str, region: str) -> Host:
        root = self.runtime.dir("hosts") / instance_id
        for folder in ("home/ec2-user", "opt/codedeploy-agent/deployment-root", "tmp"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        taken = {h.port for h in self._hosts.values()} | {self.runtime.port}
        host = Host(instance_id, account_id, region, root, _free_port(taken))
        self._hosts[instance_id] = host
        log.info("host %s backed by %s, port %d", instance_id, root, host.port)
        return host

    def start_poller(self) -> None:
        """Watch moto's instances in the background (moto tells nobody when one is terminated)."""
        with self._lock:
            if self._poller is not None:
                return
            self._poller = threading.Thread(target=self._poll, name="codedeploy-hosts", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        while not self.runtime.stopping.wait(RECONCILE_INTERVAL):
            try:
                self.reconcile()
            except Exception:  # moto state changing under us: try again next round
                log.debug("host reconcile failed", exc_info=True)

    def reset(self) -> None:
        with self._lock:
            for host in self._hosts.values():
                self._end_processes(host, "emulator reset")
            self._hosts.clear()


def _session_of(pid: int) -> int:
    import os

    return os.getsid(pid)


def _free_port(taken: set[int]) -> int:
    """A loopback port nobody listens on, kept by the host for the instance's life."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
