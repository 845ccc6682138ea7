"""UPLOAD_ARTIFACTS: gather a buildspec's artifact files, zip them, put them into S3."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.buildspec import ArtifactSpec
from labkit.emulator.codebuild.globs import matching_files


class ArtifactError(Exception):
    """The artifacts could not be made or stored; the message is CodeBuild's CLIENT_ERROR text."""


@dataclass
class ArtifactTarget:
    """Where one artifact goes: an S3 object (zip) or an S3 prefix (packaging NONE)."""

    bucket: str
    key: str
    zipped: bool = True

    @property
    def location(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}"


def collect(src_dir: Path, spec: ArtifactSpec) -> list[tuple[Path, str]]:
    """(file on disk, name in the artifact) pairs; raises when nothing matches, as CodeBuild does."""
    base = src_dir / spec.base_directory if spec.base_directory else src_dir
    if spec.base_directory and not base.is_dir():
        raise ArtifactError(f"no matching base directory path found for {spec.base_directory}")
    files = matching_files(base, spec.files, spec.exclude_paths)
    if not files:
        raise ArtifactError("no matching artifact paths found")
    return [(base / rel, os.path.basename(rel) if spec.discard_paths else rel) for rel in files]


def zip_bytes(files: list[tuple[Path, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            info = zipfile.ZipInfo.from_file(
                path, name
            )  # keeps the mode bits (scripts stay executable)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
    return buffer.getvalue()


def upload(
    identity: aws_actions.Identity, files: list[tuple[Path, str]], target: ArtifactTarget
) -> None:
    try:
        _upload(identity, files, target)
    except OSError as exc:  # a file vanished or is unreadable: the upload fails, the build goes on
        raise ArtifactError(f"unable to read {exc.filename}: {exc.strerror}") from None


def _upload(
    identity: aws_actions.Identity, files: list[tuple[Path, str]], target: ArtifactTarget
) -> None:
    if target.zipped:
        aws_actions.put_object(identity, target.bucket, target.key, zip_bytes(files))
        return
    prefix = target.key.rstrip("/")
    for path, name in files:
        aws_actions.put_object(
            identity, target.bucket, f"{prefix}/{name}" if prefix else name, path.read_bytes()
        )


def project_target(
    project_artifacts: dict, build_uuid: str, override_name: str | None
) -> ArtifactTarget | None:
    """Where a project's S3 artifacts go: location/path/[build id]/name (None for NO_ARTIFACTS)."""
    if project_artifacts.get("type") != "S3":
        return None
    location = project_artifacts.get("location", "")
    bucket, _, extra = location.partition("/")
    name = project_artifacts.get("name") or ""
    if override_name and project_artifacts.get("overrideArtifactName"):
        name = override_name
    parts = [extra, project_artifacts.get("path", "")]
    if project_artifacts.get("namespaceType") == "BUILD_ID":
        parts.append(build_uuid)
    parts.append(name or build_uuid)
    key = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return ArtifactTarget(bucket, key, zipped=project_artifacts.get("packaging") == "ZIP")
