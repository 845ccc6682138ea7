"""Install: copy an appspec's files into a host's file system and apply its permission modes."""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

from labkit.emulator.codedeploy.appspec import AppSpec


class InstallError(Exception):
    """Install cannot finish; the message is what the agent reports."""


class Installer:
    """Copies files the way the agent does, remembering what it made for the cleanup list."""

    def __init__(self, root: Path, bundle: Path, behavior: str, note):
        self.root, self.bundle, self.behavior, self.note = root, bundle, behavior, note
        self.installed: list[str] = []
        self._root = root.resolve()  # resolved once: every installed path is reported against it

    def install(self, appspec: AppSpec) -> list[str]:
        for mapping in appspec.files:
            source = self._bundle_path(mapping.source)
            destination = self._host_path(mapping.destination)
            if source.is_dir():
                for folder, dirs, names in os.walk(source):
                    dirs.sort()
                    rel = Path(folder).relative_to(source)
                    self._make_dir(destination / rel)
                    for name in sorted(names):
                        self._copy(Path(folder, name), destination / rel / name)
            else:
                self._make_dir(destination)
                self._copy(source, destination / source.name)
        for permission in appspec.permissions:
            self._apply(permission)
        return self.installed

    def _bundle_path(self, source: str) -> Path:
        path = (self.bundle / source.lstrip("/")).resolve()
        if not path.is_relative_to(self.bundle.resolve()):
            raise InstallError(f"The source {source!r} in the AppSpec file's 'files' is outside the revision.")
        if not path.exists():
            raise InstallError(f"The deployment failed because the source {source!r} named in the "
                               "AppSpec file's 'files' section does not exist in the revision.")
        return path

    def _host_path(self, destination: str) -> Path:
        path = (self.root / destination.lstrip("/")).resolve()
        if not path.is_relative_to(self._root):
            raise InstallError(f"The destination {destination!r} in the AppSpec file resolves outside "
                               "the instance's file system.")
        return path

    def _instance_path(self, path: Path) -> str:
        return "/" + path.relative_to(self._root).as_posix()

    def _make_dir(self, path: Path) -> None:
        missing = []
        probe = path
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise InstallError(f"The deployment failed because a file exists where a folder is needed: "
                               f"{self._instance_path(probe)}")
        for folder in reversed(missing):
            folder.mkdir()
            self.installed.append(self._instance_path(folder))

    def _copy(self, source: Path, target: Path) -> None:
        if target.exists() or target.is_symlink():
            where = self._instance_path(target)
            if self.behavior == "DISALLOW":
                raise InstallError(f"The deployment failed because a specified file already exists at "
                                   f"this location: {where}")
            if self.behavior == "RETAIN":
                self.note(f"Kept the existing {where} (file_exists_behavior RETAIN).")
                return
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        shutil.copy2(source, target, follow_symlinks=False)
        self.installed.append(self._instance_path(target))

    def _apply(self, permission) -> None:
        base = self._host_path(permission.object)
        if permission.owner or permission.group:
            self.note(f"permissions: owner {permission.owner} / group {permission.group} for "
                      f"{permission.object} recorded, not applied (labkit's hosts have no such users).")
        if permission.mode is None or not base.exists():
            return
        candidates = [base] if base.is_file() else [p for p in base.rglob("*")]
        for path in candidates:
            rel = path.relative_to(base).as_posix() if path != base else path.name
            kind = "directory" if path.is_dir() else "file"
            if kind not in permission.types:
                continue
            if not fnmatch.fnmatch(rel, permission.pattern) and permission.pattern != "**":
                continue
            if any(fnmatch.fnmatch(rel, e) for e in permission.excepts):
                continue
            os.chmod(path, permission.mode)
