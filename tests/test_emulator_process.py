"""`labkit emulator start|stop|status|reset` as a learner runs them, and the processes they leave."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port

from labkit import emulator_control
from labkit.procs import end_process_tree, pid_alive

BIN = Path(sys.executable).parent


def labkit_cli(*args, state_dir, port=None, check=False):
    env = {**os.environ, "LABKIT_STATE_DIR": str(state_dir)}
    if port:
        env["LABKIT_PORT"] = str(port)
    return subprocess.run([str(BIN / "labkit"), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=check)


def aws_cli(url, *args):
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([str(BIN / "aws"), *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def state_dir(tmp_path):
    yield tmp_path
    # Whatever a test did, leave no emulator behind.
    if emulator_control.find_running(tmp_path):
        emulator_control.stop(tmp_path)


def test_start_serve_stop_with_the_cli_and_the_aws_cli(state_dir):
    port = free_port()
    started = labkit_cli("emulator", "start", state_dir=state_dir, port=port)
    assert started.returncode == 0, started.stderr
    info = json.loads((state_dir / "emulator.json").read_text())
    assert info["port"] == port and info["url"] == f"http://127.0.0.1:{port}"
    assert pid_alive(info["pid"])

    # moto's route, then labkit's own route, through the real AWS CLI.
    assert aws_cli(info["url"], "s3", "mb", "s3://labkit-cli-test").returncode == 0
    listing = aws_cli(info["url"], "s3", "ls")
    assert "labkit-cli-test" in listing.stdout
    pipelines = aws_cli(info["url"], "codepipeline", "list-pipelines")
    assert pipelines.returncode == 0 and json.loads(pipelines.stdout) == {"pipelines": []}

    status = labkit_cli("emulator", "status", "--json", state_dir=state_dir)
    assert status.returncode == 0 and json.loads(status.stdout)["running"] is True

    again = labkit_cli("emulator", "start", state_dir=state_dir, port=port)
    assert again.returncode == 0 and "already running" in again.stdout
    assert json.loads((state_dir / "emulator.json").read_text())["pid"] == info["pid"]

    stopped = labkit_cli("emulator", "stop", state_dir=state_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(info["pid"])
    assert emulator_control.port_is_free(port)
    assert not (state_dir / "emulator.json").exists()
    assert labkit_cli("emulator", "status", state_dir=state_dir).returncode == 1


def test_emulator_listens_on_loopback_only(state_dir):
    import psutil

    info = emulator_control.start(state_dir, free_port())
    listening = [c.laddr for c in psutil.Process(info.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def test_reset_forgets_moto_and_labkit_state(state_dir):
    info = emulator_control.start(state_dir, free_port())
    assert aws_cli(info.url, "s3", "mb", "s3://labkit-reset-test").returncode == 0
    reset = labkit_cli("emulator", "reset", state_dir=state_dir)
    assert reset.returncode == 0, reset.stderr
    assert "labkit-reset-test" not in aws_cli(info.url, "s3", "ls").stdout
    assert emulator_control.find_running(state_dir).pid == info.pid  # same process, empty state


def test_stop_when_none_runs_is_a_one_line_error(state_dir):
    result = labkit_cli("emulator", "stop", state_dir=state_dir)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "No emulator is running" in result.stderr and "Traceback" not in result.stderr


def test_port_taken_is_a_clear_error(state_dir):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = labkit_cli("emulator", "start", state_dir=state_dir, port=port)
    assert result.returncode == 1
    assert "already in use" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (state_dir / "emulator.json").exists()


def test_state_dir_not_writable_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = labkit_cli("emulator", "start", state_dir=blocker / "state", port=free_port())
    assert result.returncode == 1
    assert "not writable" in result.stderr and "LABKIT_STATE_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_port_is_a_clear_error(state_dir):
    result = labkit_cli("emulator", "start", "--port", "99", state_dir=state_dir)
    assert result.returncode == 1 and "Invalid port 99" in result.stderr


def test_stale_record_is_cleaned_and_its_children_ended(state_dir):
    info = emulator_control.start(state_dir, free_port())
    # A process the emulator had started (e.g. a service on a host), recorded by pid.
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        os.kill(info.pid, signal.SIGKILL)  # the emulator dies without cleaning up
        deadline = time.monotonic() + 10
        while pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (state_dir / "children.json").write_text(
            json.dumps({"children": [{"pid": orphan.pid, "owner": "test", "since": 0}]}))

        restarted = emulator_control.start(state_dir, free_port())
        assert restarted.pid != info.pid
        orphan.wait(timeout=10)  # ended by the stale-record clean-up, by pid
        assert orphan.returncode is not None
    finally:
        if orphan.poll() is None:
            end_process_tree(orphan.pid)


def test_restart_starts_empty_and_clears_run_folders(state_dir):
    emulator_control.start(state_dir, free_port())
    leftover = state_dir / "git" / "old.git"
    leftover.mkdir(parents=True)
    emulator_control.stop(state_dir)
    emulator_control.start(state_dir, free_port())
    assert not leftover.exists()
    assert (state_dir / "git").is_dir()
