"""The state dir's layout, shared by the emulator process and the code that starts and stops it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from labkit.errors import EmulatorError

INFO_FILE = "emulator.json"
LOG_FILE = "emulator.log"
CHILDREN_FILE = "children.json"
# Folders that belong to one run of the emulator; a (re)started emulator empties them,
# because the in-memory state that described them is gone.
RUN_DIRS = ("git", "hosts", "codebuild", "codedeploy", "codepipeline", "tmp")


def ensure_writable(state_dir: Path) -> Path:
    """Create the state dir if needed and prove we can write into it."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise EmulatorError(
            f"The state dir {state_dir} is not writable ({exc.strerror}). "
            "Point LABKIT_STATE_DIR at a folder you can write to."
        ) from None
    return state_dir


def clear_run_dirs(state_dir: Path) -> None:
    for name in RUN_DIRS:
        shutil.rmtree(state_dir / name, ignore_errors=True)
        (state_dir / name).mkdir(parents=True, exist_ok=True)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    """Write atomically so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
