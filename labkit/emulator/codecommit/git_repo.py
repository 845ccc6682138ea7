"""Git plumbing on a bare repository: read refs, trees and blobs, write commits without a working tree."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 60  # seconds; a git command that takes longer is broken, not slow
ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
MODE_NAMES = {"100644": "NORMAL", "100755": "EXECUTABLE", "120000": "SYMLINK"}
MODE_BITS = {name: bits for bits, name in MODE_NAMES.items()}


class GitError(Exception):
    """A git command failed; `stderr` says why."""

    def __init__(self, args, stderr: str):
        super().__init__(f"git {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # blob, tree or commit (a submodule)
    sha: str
    path: str


@dataclass(frozen=True)
class CommitInfo:
    commit_id: str
    tree_id: str
    parents: list[str]
    message: str
    author: dict
    committer: dict


@dataclass(frozen=True)
class Change:
    """One file changed between two trees (git diff-tree's raw output)."""

    status: str  # A, M or D
    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    path: str


class GitRepository:
    """A bare repository on disk; every method runs git with a timeout and raises GitError on failure."""

    def __init__(self, path: Path):
        self.path = path

    # --- creation ---------------------------------------------------------------------
    def create(self, head_branch: str = "main") -> None:
        """Write an empty bare repository directly (as `git init --bare` would, but faster)."""
        for folder in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info", "hooks"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        (self.path / "HEAD").write_text(f"ref: refs/heads/{head_branch}\n")
        (self.path / "description").write_text("labkit CodeCommit repository\n")
        # http.receivepack lets `git http-backend` accept pushes without an authenticated user.
        (self.path / "config").write_text(
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
            "[http]\n\treceivepack = true\n"
            # No background `git gc` after pushes: the emulator tracks every process it starts.
            "[receive]\n\tautogc = false\n[gc]\n\tauto = 0\n"
        )

    def set_head(self, branch: str) -> None:
        """Point HEAD at a branch, so clones check out the default branch."""
        (self.path / "HEAD").write_text(f"ref: refs/heads/{branch}\n")

    # --- running git ------------------------------------------------------------------
    def git(self, *args: str, input: bytes | None = None, env: dict | None = None,
            check: bool = True) -> bytes:
        full_env = {**os.environ, "GIT_DIR": str(self.path), "GIT_TERMINAL_PROMPT": "0",
                    "LC_ALL": "C", **(env or {})}
        try:
            done = subprocess.run(["git", *args], input=input, env=full_env, capture_output=True,
                                  timeout=GIT_TIMEOUT, cwd=self.path)
        except subprocess.TimeoutExpired:
            raise GitError(args, f"timed out after {GIT_TIMEOUT}s") from None
        if check and done.returncode != 0:
            raise GitError(args, done.stderr.decode("utf-8", "replace"))
        return done.stdout

    # --- reading ----------------------------------------------------------------------
    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = (line.split(" ", 1) for line in out.decode().splitlines() if line)
        return {name: sha for name, sha in pairs}

    def branches(self) -> dict[str, str]:
        return {ref[len("refs/heads/"):]: sha for ref, sha in self.refs("refs/heads/").items()}

    def resolve_commit(self, spec: str) -> str | None:
        """The commit a branch name, tag or commit id names, or None."""
        if not spec or spec.startswith("-"):
            return None
        out = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}",
                       check=False)
        sha = out.decode().strip()
        return sha if SHA_PATTERN.match(sha) else None

    def object_type(self, sha: str) -> str | None:
        if not SHA_PATTERN.match(sha or ""):
            return None
        out = self.git("cat-file", "-t", sha, check=False).decode().strip()
        return out or None

    def read_blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha)

    def blob_size(self, sha: str) -> int:
        return int(self.git("cat-file", "-s", sha).decode().strip())

    def commit_info(self, sha: str) -> CommitInfo:
        raw = self.git("cat-file", "commit", sha).decode("utf-8", "replace")
        header, _, message = raw.partition("\n\n")
        tree, parents, people = "", [], {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                people[key] = _parse_person(value)
        return CommitInfo(sha, tree, parents, message, people.get("author", {}),
                          people.get("committer", {}))

    def entry_at(self, commit: str, path: str) -> TreeEntry | None:
        """The tree entry at `path` in a commit (a file, a folder or a submodule), or None."""
        if not path:
            return TreeEntry("040000", "tree", self.git("rev-parse", f"{commit}^{{tree}}").decode().strip(), "")
        out = self.git("ls-tree", "-z", "--full-tree", commit, "--", path)
        for item in out.split(b"\0"):
            if item:
                entry = _parse_ls_tree(item)
                if entry.path == path:
                    return entry
        return None

    def list_tree(self, tree_ish: str, recursive: bool = False) -> list[TreeEntry]:
        args = ["ls-tree", "-z", "--full-tree"] + (["-r"] if recursive else []) + [tree_ish]
        return [_parse_ls_tree(item) for item in self.git(*args).split(b"\0") if item]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, descendant],
                             env={**os.environ, "GIT_DIR": str(self.path)}, capture_output=True,
                             timeout=GIT_TIMEOUT)
        return out.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        out = self.git("merge-base", a, b, check=False).decode().strip()
        return out or None

    def diff(self, before: str | None, after: str, paths: list[str] = ()) -> list[Change]:
        """Files added, modified or deleted from `before` (None: nothing) to `after`."""
        args = ["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", before or EMPTY_TREE, after]
        if paths:
            args += ["--", *paths]
        parts = self.git(*args).split(b"\0")
        changes = []
        for meta, path in zip(parts[0::2], parts[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            old_mode, new_mode, old_sha, new_sha, status = meta[1:].decode().split(" ")
            changes.append(Change(status[0], old_mode, new_mode, old_sha, new_sha,
                                  path.decode("utf-8", "replace")))
        return changes

    def commits_touching(self, commit: str, path: str) -> list[str]:
        """Commits reachable from `commit` that changed `path`, newest first."""
        return self.git("rev-list", commit, "--", path).decode().split()

    def commits_between(self, exclude: str, include: str) -> int:
        return int(self.git("rev-list", "--count", include, f"^{exclude}").decode().strip())

    # --- writing ----------------------------------------------------------------------
    def write_blob(self, content: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=content).decode().strip()

    def build_tree(self, base: str | None, puts: dict[str, tuple[str, str]], deletes: list[str]) -> str:
        """A new tree: `base` (a tree-ish or None) with `puts` {path: (mode bits, blob sha)} and `deletes`."""
        with tempfile.TemporaryDirectory(prefix="labkit-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base:
                self.git("read-tree", base, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            # --index-info works without a working tree; mode 0 removes an entry.
            lines = [f"0 {ZERO_SHA}\t{path}" for path in deletes]
            lines += [f"{mode} {sha}\t{path}" for path, (mode, sha) in puts.items()]
            if lines:
                self.git("update-index", "--add", "-z", "--index-info",
                         input=b"".join(line.encode() + b"\0" for line in lines), env=env)
            return self.git("write-tree", env=env).decode().strip()

    def commit_tree(self, tree: str, parents: list[str], message: str, author_name: str,
                    author_email: str) -> str:
        env = {"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
               "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email}
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, input=message.encode(), env=env).decode().strip()

    def update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Move `ref` from `old` (None: must not exist) to `new`; False if someone moved it first."""
        out = subprocess.run(["git", "update-ref", ref, new, old or ZERO_SHA],
                             env={**os.environ, "GIT_DIR": str(self.path)}, capture_output=True,
                             timeout=GIT_TIMEOUT)
        return out.returncode == 0

    def delete_ref(self, ref: str, old: str) -> bool:
        out = subprocess.run(["git", "update-ref", "-d", ref, old],
                             env={**os.environ, "GIT_DIR": str(self.path)}, capture_output=True,
                             timeout=GIT_TIMEOUT)
        return out.returncode == 0

    def merge_trees(self, ours: str, theirs: str) -> tuple[str, list[str]]:
        """Merge two commits without a working tree: (the merged tree, conflicting paths).

        With conflicts the tree holds the files with conflict markers, as `git merge` would.
        """
        out = self.git("merge-tree", "--write-tree", "-z", "--name-only", "--no-messages",
                       ours, theirs, check=False)
        parts = out.split(b"\0")
        tree = parts[0].decode().strip()
        if not SHA_PATTERN.match(tree):
            raise GitError(["merge-tree"], out.decode("utf-8", "replace"))
        conflicts = sorted({p.decode("utf-8", "replace") for p in parts[1:] if p})
        return tree, conflicts


def _parse_ls_tree(item: bytes) -> TreeEntry:
    meta, _, path = item.partition(b"\t")
    mode, kind, sha = meta.decode().split(" ")
    return TreeEntry(mode, kind, sha, path.decode("utf-8", "replace"))


def _parse_person(value: str) -> dict:
    # "Name <email> 1700000000 +0000": AWS shows the date as "<epoch> <tz>".
    match = re.match(r"^(.*?) <(.*?)> (\d+ [+-]\d{4})$", value)
    if not match:
        return {"name": value}
    return {"name": match.group(1), "email": match.group(2), "date": match.group(3)}
