"""A reset of the emulator ends running builds (on an emulator of its own: a reset forgets everything)."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from conftest import free_port
from pipeline_helpers import make_role
from test_codebuild import environment

from labkit import emulator_control
from labkit.procs import pid_alive


@pytest.fixture
def own_emulator(tmp_path):
    info = emulator_control.start(tmp_path / "state", free_port())
    yield info
    emulator_control.stop(tmp_path / "state")


def test_reset_ends_running_builds(own_emulator, tmp_path):
    def client(service):
        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=own_emulator.url,
            config=Config(retries={"max_attempts": 1}),
        )

    role = make_role(client, "cb-reset", service="codebuild.amazonaws.com")
    pid_file = tmp_path / "build.pid"
    spec = f"version: 0.2\nphases:\n  build:\n    commands: ['echo $$ > {pid_file}', sleep 60]\n"
    cb = client("codebuild")
    cb.create_project(
        name="reset-me",
        source={"type": "NO_SOURCE", "buildspec": spec},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role,
    )
    cb.start_build(projectName="reset-me")
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the build never ran its first command"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    emulator_control.request(own_emulator.url, "/_labkit/reset", method="POST")
    deadline = time.monotonic() + 20
    while pid_alive(pid):
        assert time.monotonic() < deadline, "the build's shell outlived the reset"
        time.sleep(0.05)
    assert cb.list_projects()["projects"] == []
    assert emulator_control.request(own_emulator.url, "/_labkit/health")["status"] == "ok"
