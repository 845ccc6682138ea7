"""DOWNLOAD_SOURCE: put a build's source into its source folder (CodeCommit git, S3 zip, pipeline)."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.aws_actions import ActionError

_CODECOMMIT_URL = re.compile(r"^(?:https?://[^/]+)?/v1/repos/([^/?#]+?)(?:\.git)?/?$")


class SourceError(Exception):
    """The source could not be downloaded; the message is CodeBuild's CLIENT_ERROR text."""


def codecommit_repo_name(location: str) -> str | None:
    """The repository name in a CodeCommit clone URL (AWS's or the emulator's), or None."""
    match = _CODECOMMIT_URL.match(location.strip())
    return match.group(1) if match else None


def download_codecommit(
    identity: aws_actions.Identity, state_dir: Path, location: str, version: str | None, dest: Path
) -> str:
    """Clone the emulator's bare repo and check out `version`; return the commit id."""
    name = codecommit_repo_name(location)
    bare = state_dir / "git" / f"{name}.git" if name else None
    if bare is None or not bare.is_dir():
        raise SourceError(
            f"repository not found for primary source and source version "
            f"{version or 'refs/heads/main'}: {location}"
        )
    try:
        aws_actions.git_pull(identity, bare, dest)  # codecommit:GitPull, as the build's role
    except ActionError as exc:
        if exc.denied:
            raise SourceError(f"{exc.code}: {exc.message}") from None
        raise SourceError(f"git clone failed: {exc.message}") from None
    wanted = (version or "HEAD").strip()
    candidates = [wanted]
    if wanted.startswith("refs/heads/"):
        candidates = [f"origin/{wanted.removeprefix('refs/heads/')}"]
    elif wanted.startswith("refs/tags/"):
        candidates = [wanted.removeprefix("refs/tags/")]
    elif wanted != "HEAD" and not re.fullmatch(r"[0-9a-f]{7,40}", wanted):
        candidates = [f"origin/{wanted}", wanted]
    for candidate in candidates:
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"],
            cwd=dest,
            capture_output=True,
            text=True,
        )
        if found.returncode == 0:
            commit = found.stdout.strip()
            _git(["checkout", "--quiet", "--detach", commit], dest)
            return commit
    raise SourceError(f"reference not found for primary source and source version {wanted}")


def download_s3_zip(
    identity: aws_actions.Identity, location: str, version_id: str | None, dest: Path
) -> str | None:
    """Fetch `bucket/key.zip` from S3 and unzip it; return the object's version id if any."""
    bucket, _, key = location.partition("/")
    if not bucket or not key:
        raise SourceError(
            f"Invalid S3 source location {location}: use bucket-name/path/to/source.zip"
        )
    try:
        data = aws_actions.get_object(identity, bucket, key, version_id)
    except ActionError as exc:
        raise SourceError(
            f"{exc.code}: {exc.message} for primary source and source version "
            f"{version_id or ''}".rstrip()
        ) from None
    unzip(data, dest)
    return version_id or aws_actions.object_version(identity, bucket, key)


def unzip(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                target = (dest / info.filename).resolve()
                if not str(target).startswith(str(dest.resolve())):
                    continue  # a zip entry that climbs out of the folder is skipped
                archive.extract(info, dest)
                mode = info.external_attr >> 16
                if mode and not info.is_dir():
                    target.chmod(mode & 0o777)
    except zipfile.BadZipFile:
        raise SourceError("the source is not a valid zip file") from None


def _git(args: list[str], cwd: Path) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SourceError(f"git {args[0]} failed: {done.stderr.strip()[:500]}")
