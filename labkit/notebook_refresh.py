"""Re-execute the course's chapters in place, in order, against a fresh emulator (`make notebooks`).

The outputs written are nbval's reference: run this after changing a chapter, then commit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from labkit import emulator_control
from labkit.config import find_project_root
from labkit.emulator_control import free_port
from labkit.runner import find_chapters


def headless_environment(state_dir: Path, port: int) -> dict[str, str]:
    """What kernels need: the emulator's port and state dir, plain-text widgets, dummy credentials."""
    return {"LABKIT_PORT": str(port), "LABKIT_STATE_DIR": str(state_dir), "LABKIT_HEADLESS": "1",
            "AWS_ACCESS_KEY_ID": "labkit-local", "AWS_SECRET_ACCESS_KEY": "labkit-local-secret",
            "AWS_DEFAULT_REGION": "us-east-1", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def refresh(chapters: list[Path], timeout: int = 600) -> None:
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="labkit-notebooks-") as temp:
        state_dir = Path(temp) / "state"
        info = emulator_control.start(state_dir, free_port())
        saved = dict(os.environ)
        os.environ.update(headless_environment(state_dir, info.port))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "LABKIT_CONFIG"):
            os.environ.pop(name, None)
        try:
            for chapter in chapters:
                started = time.monotonic()
                notebook = nbformat.read(chapter, as_version=4)
                NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": str(chapter.parent)}}).execute()
                nbformat.write(notebook, chapter)
                print(f"{chapter.name}: {time.monotonic() - started:.0f} s", flush=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            emulator_control.stop(state_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook files (default: every numbered chapter)")
    args = parser.parse_args(argv)
    root = find_project_root() or Path.cwd()
    chapters = [Path(c).resolve() for c in args.chapters] or find_chapters(root / "notebooks")
    refresh(chapters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
