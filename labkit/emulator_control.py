"""Start, find and stop the local emulator process; used by the CLI and by connect()."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import EmulatorError
from labkit.procs import end_process_tree, pid_alive
from labkit.statedir import CHILDREN_FILE, INFO_FILE, LOG_FILE, ensure_writable, read_json

START_TIMEOUT = 60.0
# Popen objects of emulators this process started, so they are reaped (no zombies).
_spawned: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class EmulatorInfo:
    pid: int
    port: int
    url: str
    started: str
    state_dir: Path

    @property
    def log_file(self) -> Path:
        return self.state_dir / LOG_FILE


def health(url: str, timeout: float = 2.0) -> dict | None:
    """The emulator's health document, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_labkit/health", timeout=timeout) as resp:
            return json.loads(resp.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return None


def find_running(state_dir: Path) -> EmulatorInfo | None:
    """The emulator recorded in the state dir, if its process is alive; clears a stale record."""
    info_path = state_dir / INFO_FILE
    data = read_json(info_path)
    if not data:
        return None
    _reap(data.get("pid"))
    if not pid_alive(data.get("pid")):
        # The emulator died without cleaning up: end what it had started, forget the record.
        _end_recorded_children(state_dir)
        info_path.unlink(missing_ok=True)
        return None
    return EmulatorInfo(
        pid=data["pid"], port=data["port"], url=data["url"], started=data["started"],
        state_dir=state_dir,
    )


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (closed connections in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(state_dir: Path, port: int, timeout: float = START_TIMEOUT) -> EmulatorInfo:
    """Start the emulator (or reuse the one running for this state dir) and wait until it answers."""
    ensure_writable(state_dir)
    running = find_running(state_dir)
    if running:
        if health(running.url):
            return running
        raise EmulatorError(
            f"An emulator process (pid {running.pid}) is recorded in {state_dir} but does not "
            "answer. Run `labkit emulator stop` and start it again."
        )
    if not port_is_free(port):
        raise EmulatorError(
            f"Port {port} on 127.0.0.1 is already in use by another program. "
            f"Start the emulator on another port: `labkit emulator start --port {port + 1}` "
            "(or set LABKIT_PORT)."
        )
    environment = emulator_environment()
    log = open(state_dir / LOG_FILE, "ab")
    command = [sys.executable, "-m", "labkit", "emulator", "serve",
               "--port", str(port), "--state-dir", str(state_dir)]
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, close_fds=True, env=environment,
    )
    log.close()
    _spawned[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(
                f"The emulator exited at start (code {proc.returncode}). "
                f"Last lines of {state_dir / LOG_FILE}:\n{tail_log(state_dir, 15)}"
            )
        info = find_running(state_dir)
        if info and info.pid == proc.pid and health(info.url, timeout=1.0):
            return info
        time.sleep(0.1)
    end_process_tree(proc.pid)
    _reap(proc.pid)
    raise EmulatorError(
        f"The emulator did not answer within {timeout:.0f} s; see {state_dir / LOG_FILE}."
    )


def emulator_environment() -> dict[str, str]:
    """The emulator's environment: ours, plus `enforce_iam` from labkit.toml unless the env sets it."""
    from labkit.config import config_file_path, read_config_file

    environment = dict(os.environ)
    if "LABKIT_ENFORCE_IAM" not in environment:
        setting = read_config_file(config_file_path()).get("enforce_iam")
        if setting is not None:
            # TOML booleans or strings ("0", "off"): the emulator reads LABKIT_ENFORCE_IAM.
            environment["LABKIT_ENFORCE_IAM"] = str(setting).lower()
    return environment


def stop(state_dir: Path, timeout: float = 15.0) -> EmulatorInfo:
    """Stop the emulator and every process it started; return what was stopped."""
    info = find_running(state_dir)
    if info is None:
        raise EmulatorError(f"No emulator is running for the state dir {state_dir}.")
    end_process_tree(info.pid, grace=timeout)
    _reap(info.pid)
    _end_recorded_children(state_dir)
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    while not port_is_free(info.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    return info


def _end_recorded_children(state_dir: Path) -> None:
    """Processes the emulator started (builds, services on hosts) that outlived it."""
    for entry in (read_json(state_dir / CHILDREN_FILE) or {}).get("children", []):
        if pid_alive(entry.get("pid")):
            end_process_tree(entry["pid"], grace=2.0)
    (state_dir / CHILDREN_FILE).unlink(missing_ok=True)


def _reap(pid: int | None) -> None:
    proc = _spawned.get(pid) if pid else None
    if proc is not None and proc.poll() is not None:
        _spawned.pop(pid, None)


def tail_log(state_dir: Path, lines: int = 50) -> str:
    path = state_dir / LOG_FILE
    if not path.is_file():
        return "(no log yet)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def request(url: str, path: str, method: str = "GET", timeout: float = 30.0) -> dict:
    """Call one of the emulator's own /_labkit endpoints."""
    req = urllib.request.Request(f"{url}{path}", method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode() or "{}")
    except urllib.error.HTTPError as exc:
        raise EmulatorError(f"The emulator refused {method} {path}: {exc.read().decode()}") from None
    except OSError as exc:
        raise EmulatorError(f"The emulator at {url} did not answer ({exc}).") from None
