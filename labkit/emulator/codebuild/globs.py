"""Buildspec path globs (`**/*`, `dist/*.js`, `reports/`) matched against a folder's files."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern:
    glob = glob.strip().lstrip("./") if glob.strip().startswith("./") else glob.strip()
    if glob.endswith("/"):
        glob += "**/*"
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matching_files(root: Path, patterns: list[str], excludes: list[str] = ()) -> list[str]:
    """Relative POSIX paths of the files under `root` that a pattern matches and no exclude does.

    A pattern that names a folder takes everything inside it, as CodeBuild does.
    """
    found: list[str] = []
    if not root.is_dir():
        return found
    folders = {p.strip().rstrip("/") for p in patterns if (root / p.strip().rstrip("/")).is_dir()}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not (
                any(_pattern(p).match(rel) for p in patterns)
                or any(rel.startswith(f + "/") for f in folders if f not in ("", "."))
            ):
                continue
            if any(_pattern(x).match(rel) for x in excludes):
                continue
            if not os.path.isfile(os.path.join(dirpath, name)):
                continue  # a dangling symlink or a socket: nothing to put in an archive
            found.append(rel)
    return found
