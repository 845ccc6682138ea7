"""The sample app: copy it into a work folder, and switch its failures on and off with `git apply`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import labkit

# Made by tools and builds; never part of what a learner commits.
UNTRACKED = {"node_modules", ".npm-cache", "dist", "reports", "build-info.json", ".git"}


def sample_app_dir() -> Path:
    """The `sample-app/` folder shipped beside the labkit package."""
    folder = Path(labkit.__file__).resolve().parent.parent / "sample-app"
    if not (folder / "package.json").is_file():
        raise FileNotFoundError(f"The sample app is missing: expected it in {folder}.")
    return folder


def failure_switches() -> list[str]:
    """Names of the failure switches, e.g. `failing-test` (from sample-app/failures/*.patch)."""
    return sorted(p.stem for p in (sample_app_dir() / "failures").glob("*.patch"))


def copy_sample_app(destination: Path) -> Path:
    """Copy the app's source files (no node_modules, caches or build output) into `destination`."""
    source = sample_app_dir()
    destination.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in UNTRACKED:
            continue
        target = destination / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(*UNTRACKED))
        else:
            shutil.copy2(item, target)
    return destination


def _patch(name: str) -> Path:
    patch = sample_app_dir() / "failures" / f"{name}.patch"
    if not patch.is_file():
        raise ValueError(f"Unknown failure switch {name!r}; the switches are: "
                         f"{', '.join(failure_switches())}.")
    return patch


def _git_apply(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "apply", *args], cwd=workdir, capture_output=True, text=True)


def is_applied(workdir: Path, name: str) -> bool:
    """True when the switch is on in `workdir` (its reverse applies cleanly)."""
    return _git_apply(workdir, "--check", "-R", str(_patch(name))).returncode == 0


def apply_failure(workdir: Path, name: str) -> bool:
    """Switch a failure on in a clone of the app (its root is `workdir`); False if it already was."""
    if is_applied(workdir, name):
        return False
    done = _git_apply(workdir, str(_patch(name)))
    if done.returncode:
        raise RuntimeError(f"Could not apply {name}.patch in {workdir}: {done.stderr.strip()}")
    return True


def revert_failure(workdir: Path, name: str) -> bool:
    """Switch a failure off again; False if it was not on."""
    if not is_applied(workdir, name):
        return False
    done = _git_apply(workdir, "-R", str(_patch(name)))
    if done.returncode:
        raise RuntimeError(f"Could not revert {name}.patch in {workdir}: {done.stderr.strip()}")
    return True


def rebundle(bundle: bytes, *, version: str | None = None, failure: str | None = None) -> bytes:
    """A new revision made from a built one (the zip CodeBuild wrote): `version` rewrites
    package.json's version (the greeting shows it); `failure` switches one of the app's failures
    on in the bundle, as the same patch does in the source. File modes are kept."""
    import io
    import json
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="labkit-rebundle-") as temp:
        folder = Path(temp)
        with zipfile.ZipFile(io.BytesIO(bundle)) as original:
            infos = original.infolist()
            original.extractall(folder)
        if version:
            manifest = folder / "package.json"
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data["version"] = version
            manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if failure:
            apply_failure(folder, failure)
        out = io.BytesIO()
        known = set()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as made:
            for info in infos:  # the same entries with the same modes, possibly new contents
                known.add(info.filename.rstrip("/"))
                if info.is_dir():
                    made.writestr(info, b"")
                else:
                    made.writestr(info, (folder / info.filename).read_bytes())
            for path in sorted(folder.rglob("*")):  # files a failure switch added
                name = path.relative_to(folder).as_posix()
                if path.is_file() and name not in known:
                    entry = zipfile.ZipInfo(name)
                    entry.external_attr = 0o100644 << 16
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    made.writestr(entry, path.read_bytes())
        return out.getvalue()
