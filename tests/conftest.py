"""Shared fixtures: a fresh emulator on a free loopback port per test session, and clients for it."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from shapes import attach_shape_checker

from labkit import emulator_control
from labkit.emulator_control import free_port
from labkit.procs import pid_alive

# Tests never touch a real account: dummy credentials, no profile, headless widgets.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "labkit-test",
    "AWS_SECRET_ACCESS_KEY": "labkit-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LABKIT_HEADLESS": "1",
    "LABKIT_ALARM_INTERVAL": "0.5",  # alarms react within a second in tests
    "LABKIT_PIPELINE_POLL_INTERVAL": "0.5",  # PollForSourceChanges notices changes quickly
})
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "LABKIT_CONFIG"):
    os.environ.pop(_name, None)

REPO_ROOT = Path(__file__).resolve().parent.parent
_REGION_ENV = {name: os.environ.get(name) for name in (
    "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE", "LABKIT_CLI_GUARD", "LABKIT_USER_AWS_CONFIG_FILE")}


@pytest.fixture(autouse=True)
def _restore_region_env():
    """connect(backend="aws") exports AWS_DEFAULT_REGION and switches the AWS CLI's sandbox guard
    on (for the kernel's `!aws` cells); undo that after each test, so a later test's connect()
    does not land in another region and its `aws` commands are not checked against a sandbox."""
    yield
    for name, value in _REGION_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """A running emulator for the whole session; stopped (and proven gone) at the end."""
    state_dir = tmp_path_factory.mktemp("labkit-state")
    info = emulator_control.start(state_dir, free_port())
    yield info
    emulator_control.stop(state_dir)
    assert not pid_alive(info.pid), "the emulator process outlived stop()"
    assert emulator_control.port_is_free(info.port), "the emulator's port is still taken"
    leaked = processes_working_in(state_dir)
    assert not leaked, f"processes left running in the emulator's state dir: {leaked}"


def processes_working_in(folder: Path) -> list[str]:
    """Processes whose working directory is inside `folder` (builds, hook scripts, services)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(folder)):
            found.append(f"{proc.info['pid']} {proc.info['name']} in {cwd}")
    return found


@pytest.fixture(scope="session")
def aws(emulator):
    """`aws("codecommit")` → a boto3 client on the emulator, shape-checked for labkit's services."""
    cache: dict[str, object] = {}

    def make(service: str, region: str = "us-east-1", **kwargs):
        key = (service, region, tuple(sorted(kwargs.items())))
        if key not in cache:
            config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
            client = boto3.client(service, region_name=region, endpoint_url=emulator.url,
                                  config=config, **kwargs)
            attach_shape_checker(client)
            cache[key] = client
        return cache[key]

    return make


@pytest.fixture
def lab(emulator):
    """`labkit.connect()` to the session's emulator; its changes to os.environ are undone after."""
    import labkit

    saved = dict(os.environ)
    os.environ["LABKIT_STATE_DIR"] = str(emulator.state_dir)
    try:
        yield labkit.connect(backend="local", port=emulator.port, state_dir=emulator.state_dir)
    finally:
        os.environ.clear()
        os.environ.update(saved)
