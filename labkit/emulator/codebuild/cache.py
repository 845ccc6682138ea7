"""Build cache: the buildspec's cache.paths kept between builds, in a local folder or an S3 tarball."""

from __future__ import annotations

import io
import tarfile
import threading
from pathlib import Path

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.aws_actions import ActionError
from labkit.emulator.codebuild.globs import matching_files

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def lock_for(key: str) -> threading.Lock:
    """One lock per cache, so two builds of a project never read and write it at once."""
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class BuildCache:
    """Restore before INSTALL and save after a successful build, for cache type LOCAL or S3."""

    def __init__(
        self, cache_config: dict, *, identity: aws_actions.Identity, project: str, local_dir: Path
    ):
        self.type = (cache_config or {}).get("type", "NO_CACHE")
        self.identity = identity
        location = (cache_config or {}).get("location", "")
        self.bucket, _, prefix = location.partition("/")
        namespace = (cache_config or {}).get("cacheNamespace") or project
        self.key = "/".join(p for p in (prefix.strip("/"), f"{namespace}-cache.tar.gz") if p)
        self.local_file = local_dir / "cache.tar.gz"
        self.lock = lock_for(
            f"{identity.account_id}:{self.type}:{self.bucket}/{self.key}"
            if self.type == "S3"
            else str(self.local_file)
        )

    @property
    def enabled(self) -> bool:
        return self.type in ("LOCAL", "S3")

    def restore(self, src_dir: Path) -> str:
        """Unpack the cache into the source folder; return a line for the build log."""
        with self.lock:
            data = self._read()
        if data is None:
            return "No cache found; the first build of this cache fills it"
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(src_dir, filter=_safe_member)
        return f"Restored cache ({len(data)} bytes) from {self.describe()}"

    def save(self, src_dir: Path, paths: list[str]) -> str:
        files = matching_files(src_dir, paths)
        if not files:
            return "No files matched cache.paths; nothing cached"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
            for rel in files:
                archive.add(src_dir / rel, arcname=rel, recursive=False)
        data = buffer.getvalue()
        with self.lock:
            if self.type == "S3":
                aws_actions.put_object(self.identity, self.bucket, self.key, data)
            else:
                self.local_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.local_file.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(self.local_file)
        return f"Saved {len(files)} cached file(s) ({len(data)} bytes) to {self.describe()}"

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.type == "S3" else "the local cache"

    def _read(self) -> bytes | None:
        if self.type == "S3":
            try:
                return aws_actions.get_object(self.identity, self.bucket, self.key)
            except ActionError as exc:
                if exc.denied:
                    raise  # the build log says why the cache could not be restored
                return None
        return self.local_file.read_bytes() if self.local_file.exists() else None


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, but an unsafe entry (a link out of the folder) is skipped, not fatal."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None
