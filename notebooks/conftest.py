"""nbval set-up: a fresh emulator on a free port with a temp state dir, exported to the kernels before they start."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from labkit import emulator_control
from labkit.emulator_control import free_port
from labkit.notebook_refresh import headless_environment

_session: dict = {}


def pytest_configure(config) -> None:
    if not config.getoption("nbval", default=False) and not config.getoption("nbval_lax", default=False):
        return
    temp = Path(tempfile.mkdtemp(prefix="labkit-nbval-"))
    state_dir = temp / "state"
    info = emulator_control.start(state_dir, free_port())
    _session.update(temp=temp, state_dir=state_dir, saved=dict(os.environ))
    # Kernels inherit this process's environment: set before nbval starts any of them.
    os.environ.update(headless_environment(state_dir, info.port))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "LABKIT_CONFIG", "LABKIT_LEARNER"):
        os.environ.pop(name, None)


def pytest_unconfigure(config) -> None:
    if not _session:
        return
    if os.environ.get("LABKIT_KEEP_EMULATOR") != "1":  # debugging: keep it running for a post-mortem
        emulator_control.stop(_session["state_dir"])
    os.environ.clear()
    os.environ.update(_session["saved"])
    if not os.environ.get("LABKIT_KEEP_STATE"):  # kept for a post-mortem when asked
        shutil.rmtree(_session["temp"], ignore_errors=True)
    _session.clear()
