"""Revisions in S3: find the bundle in moto's S3 and unpack a zip, tar or tgz safely."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

BUNDLE_TYPES = ("zip", "tar", "tgz")


class RevisionError(Exception):
    """The bundle cannot be fetched or unpacked; the message is what the agent would report."""


def bundle_type_of(s3_location: dict) -> str | None:
    """The bundle type given, or the one the key's extension names."""
    if s3_location.get("bundleType"):
        return s3_location["bundleType"]
    key = s3_location.get("key", "").lower()
    for suffix, kind in ((".zip", "zip"), (".tar.gz", "tgz"), (".tgz", "tgz"), (".tar", "tar")):
        if key.endswith(suffix):
            return kind
    return None


def s3_object(account_id: str, s3_location: dict):
    """moto's object for the location, or None when the bucket, key or version is missing."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    try:
        return backend.get_object(s3_location["bucket"], s3_location["key"],
                                  version_id=s3_location.get("version"))
    except Exception:  # NoSuchBucket and friends: the same answer as a missing key
        return None


def fetch_bundle(account_id: str, s3_location: dict) -> bytes:
    obj = s3_object(account_id, s3_location)
    if obj is None:
        raise RevisionError(
            f"The specified key does not exist. (s3://{s3_location.get('bucket')}/"
            f"{s3_location.get('key')}) Upload the revision to S3 first, or check the bucket "
            "and key of the deployment's revision.")
    return bytes(obj.value)


def unpack(data: bytes, bundle_type: str, dest: Path) -> None:
    """Unpack into `dest`; members that would land outside it are refused."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if bundle_type == "zip":
            _unzip(data, dest)
        elif bundle_type in ("tar", "tgz"):
            mode = "r:gz" if bundle_type == "tgz" else "r:"
            root = str(dest.resolve())
            with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as archive:
                for member in archive.getmembers():
                    _inside(root, member.name)
                archive.extractall(dest, filter="tar")
        else:
            raise RevisionError(f"Bundle type {bundle_type!r} cannot be deployed to EC2 instances; "
                                f"use one of {', '.join(BUNDLE_TYPES)}.")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise RevisionError(f"The revision is not a valid {bundle_type} archive: {exc}") from None


def _unzip(data: bytes, dest: Path) -> None:
    # Per-member work kept small (a bundle's node_modules has hundreds of files): the folder is
    # resolved once and each parent folder made once.
    root = str(dest.resolve())
    made: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            target = _inside(root, info.filename)
            folder = target if info.is_dir() else os.path.dirname(target)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            if info.is_dir():
                continue
            with archive.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            # Unix modes travel in the high bits of external_attr (zip -X, Python's zipfile).
            mode = (info.external_attr >> 16) & 0o7777
            if mode and stat.S_IFMT(info.external_attr >> 16) in (0, stat.S_IFREG):
                os.chmod(target, mode)


def _inside(root: str, name: str) -> str:
    """`name` joined to the resolved folder `root`, refused when it would leave it. Lexical is
    enough: the folder starts empty, and no link is in it when a member is checked (a zip's
    members are written as plain files; a tar's are all checked before it is extracted)."""
    target = os.path.normpath(os.path.join(root, name))
    if target != root and not target.startswith(root + os.sep):
        raise RevisionError(f"The archive member {name!r} would be unpacked outside the revision folder.")
    return target
