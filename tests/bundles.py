"""Deployable CodeDeploy bundles for tests: the sample app assembled as its buildspec's post_build
does (tools/bundle.sh), variants of it, and small hand-made revisions; zipped and put into S3."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_SRC = REPO_ROOT / "sample-app"
# Installed or generated files that a clone of the app never holds.
NOT_SOURCE = ("node_modules", "reports", "dist", ".npm-cache", "build-info.json",
              "deploy-info.json", "app.log", "app.pid", "FAIL_HEALTH")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CODEBUILD_", "npm_", "NPM_", "LABKIT_HOST_ROOT"))}
    cache = os.environ.get("LABKIT_NPM_CACHE")
    if cache:
        env["npm_config_cache"] = cache
    env["npm_config_update_notifier"] = "false"
    return env


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{args} in {cwd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")


def build_sample_bundle(work: Path) -> Path:
    """The sample app's revision folder, made by tools/bundle.sh from a clean copy of the source."""
    source = work / "sample-app"
    shutil.copytree(APP_SRC, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    _run(["node", "tools/write-build-info.js"], source)
    _run(["bash", "tools/bundle.sh", "dist"], source)
    return source / "dist"


def variant(bundle: Path, dest: Path, *, version: str | None = None, patch: str | None = None) -> Path:
    """A copy of `bundle` with another package.json version and/or a failure switch applied."""
    shutil.copytree(bundle, dest, symlinks=True)
    if version:
        manifest = dest / "package.json"
        data = json.loads(manifest.read_text())
        data["version"] = version
        manifest.write_text(json.dumps(data, indent=2) + "\n")
    if patch:
        patch_file = APP_SRC / "failures" / f"{patch}.patch"
        _run(["git", "apply", str(patch_file)], dest)
    return dest


def zip_folder(folder: Path) -> bytes:
    """A zip of the folder's contents (not the folder itself), keeping Unix file modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(folder).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def tgz_files(files: dict[str, tuple[str, int]]) -> bytes:
    """A tgz of {relative path: (text, mode)}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_files(files: dict[str, tuple[str, int]]) -> bytes:
    """A zip of {relative path: (text, mode)}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def s3_revision(s3, bucket: str, key: str, data: bytes, bundle_type: str = "zip") -> dict:
    """Upload `data` and return the CodeDeploy revision that names it."""
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return {"revisionType": "S3",
            "s3Location": {"bucket": bucket, "key": key, "bundleType": bundle_type}}
