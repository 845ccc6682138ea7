"""Files and commits through the API: PutFile, DeleteFile, CreateCommit, and reading trees and blobs."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.git_repo import MODE_BITS, MODE_NAMES, SHA_PATTERN, CommitInfo
from labkit.emulator.codecommit.models import CodeCommitBackend, Repository, check_branch_name

MAX_FILE_SIZE = 6 * 1024 * 1024  # AWS's limit for a file added through the API
MAX_FILE_ENTRIES = 100
MAX_NAME_LENGTH = 1024
MAX_MESSAGE_LENGTH = 100 * 1024


@dataclass
class CommitRequest:
    """What a commit through the API changes, before it is checked against the parent's tree."""

    branch: str
    parent: str | None
    author: str
    email: str
    message: str
    puts: dict[str, tuple[str, bytes | None, str | None]] = field(default_factory=dict)
    # puts: path -> (mode name or None, content, or None with a source path to copy)
    deletes: list[str] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)
    keep_empty_folders: bool = False  # AWS then leaves a .gitkeep file in a folder it empties


def normalise_path(path: str | None, *, allow_root: bool = False) -> str:
    """A repository path without leading or trailing slashes; AWS's errors for bad ones."""
    if path is None or (not path.strip("/") and not allow_root):
        raise exc.PathRequiredException("A file path is required.")
    clean = path.strip("/")
    parts = clean.split("/") if clean else []
    if any(p in ("", ".", "..", ".git") for p in parts) or "\0" in clean:
        raise exc.InvalidPathException(
            f"The path {path} is not valid. Use a relative path without '.', '..', '.git' or empty "
            "segments, such as src/app.js.")
    return clean


class FileStore:
    """Writes and reads a repository's files with git plumbing; every write is one commit."""

    def __init__(self, backend: CodeCommitBackend):
        self.backend = backend

    # --- writing --------------------------------------------------------------------
    def commit(self, repo: Repository, request: CommitRequest, caller: str,
               same_content_error: bool = False) -> dict:
        """Make one commit on `request.branch`; returns commitId, treeId and the files touched."""
        _check_identity(request)
        with repo.lock:
            git = repo.git
            base = self._base_commit(repo, request.branch, request.parent)
            base_entries = {e.path: e for e in git.list_tree(base, recursive=True)} if base else {}
            folders = _folders_of(base_entries)
            puts, added, updated, deleted = {}, [], [], []
            for path, (mode_name, content, source) in request.puts.items():
                if source is not None:
                    source_entry = base_entries.get(source)
                    if source_entry is None:
                        raise exc.FileDoesNotExistException(
                            f"The source file {source} does not exist in the parent commit.")
                    sha, bits = source_entry.sha, MODE_BITS.get(mode_name or "", source_entry.mode)
                else:
                    sha = git.write_blob(content or b"")
                    existing = base_entries.get(path)
                    bits = MODE_BITS.get(mode_name or "", existing.mode if existing else "100644")
                existing = base_entries.get(path)
                if path in folders:
                    raise exc.FileNameConflictsWithDirectoryNameException(
                        f"The file name {path} conflicts with a folder of the same name.")
                for parent_dir in _parents(path):
                    if parent_dir in base_entries:
                        raise exc.DirectoryNameConflictsWithFileNameException(
                            f"The folder {parent_dir} in {path} conflicts with a file of that name.")
                if existing and existing.sha == sha and existing.mode == bits:
                    if same_content_error:
                        raise exc.SameFileContentException(
                            f"The file {path} could not be added because the provided file content "
                            "is the same as the content of that file in the specified branch.")
                    continue
                puts[path] = (bits, sha)
                meta = {"absolutePath": path, "blobId": sha, "fileMode": MODE_NAMES.get(bits, "NORMAL")}
                (updated if existing else added).append(meta)
            for path, mode_name in request.modes.items():
                existing = base_entries.get(path)
                if existing is None:
                    raise exc.FileDoesNotExistException(f"The file {path} does not exist in the parent commit.")
                if existing.mode != MODE_BITS[mode_name]:
                    puts[path] = (MODE_BITS[mode_name], existing.sha)
                    updated.append({"absolutePath": path, "blobId": existing.sha, "fileMode": mode_name})
            for path in request.deletes:
                existing = base_entries.get(path)
                if existing is None:
                    raise exc.FileDoesNotExistException(
                        f"The file {path} does not exist in branch {request.branch}, so it cannot be deleted.")
                deleted.append({"absolutePath": path, "blobId": existing.sha,
                                "fileMode": MODE_NAMES.get(existing.mode, "NORMAL")})
            if request.keep_empty_folders and request.deletes:
                self._keep_folders(git, base_entries, puts, request.deletes, added)
            if not (added or updated or deleted):
                raise exc.NoChangeException(
                    "The commit cannot be created because no changes will be made to the repository "
                    "as a result of this commit. A commit must contain at least one change.")
            tree = git.build_tree(base, puts, request.deletes)
            commit = git.commit_tree(tree, [base] if base else [], request.message,
                                     request.author, request.email)
            ref = f"refs/heads/{request.branch}"
            old = git.branches().get(request.branch)
            if not git.update_ref(ref, commit, old):
                raise exc.ParentCommitIdOutdatedException(
                    f"The branch {request.branch} moved while the commit was being made; "
                    "get its new tip and try again.")
            self.backend.reference_changed(repo, [(ref, old, commit)], caller)
        return {"commitId": commit, "treeId": tree, "filesAdded": added,
                "filesUpdated": updated, "filesDeleted": deleted}

    def _keep_folders(self, git, base_entries: dict, puts: dict, deletes: list[str], added: list) -> None:
        remaining = (set(base_entries) - set(deletes)) | set(puts)
        for folder in sorted({f for path in deletes for f in _parents(path)}):
            if not any(p.startswith(folder + "/") for p in remaining):
                keep = f"{folder}/.gitkeep"
                puts[keep] = ("100644", git.write_blob(b""))
                remaining.add(keep)
                added.append({"absolutePath": keep, "blobId": puts[keep][1], "fileMode": "NORMAL"})

    def _base_commit(self, repo: Repository, branch: str, parent: str | None) -> str | None:
        """The commit the new one builds on, enforcing AWS's parent commit rules."""
        check_branch_name(branch)
        branches = repo.git.branches()
        tip = branches.get(branch)
        if (repo.git.path / "refs" / "tags" / branch).exists():
            raise exc.InvalidBranchNameException(f"{branch} is a tag name, not a branch name.")
        if parent is None:
            if tip is not None or branches:
                raise exc.ParentCommitIdRequiredException(
                    "A parent commit ID is required. Use GetBranch to get the commit ID of the "
                    f"tip of {branch}" + ("" if tip else " or of the branch to start from") + ".")
            return None
        if not SHA_PATTERN.match(parent.lower()):
            raise exc.InvalidParentCommitIdException(
                f"The parent commit ID {parent} is not valid: use a full 40-character commit ID.")
        if repo.git.object_type(parent.lower()) != "commit":
            raise exc.ParentCommitDoesNotExistException(
                f"The parent commit ID {parent} does not exist in repository {repo.name}.")
        if tip is not None and parent.lower() != tip:
            raise exc.ParentCommitIdOutdatedException(
                f"The parent commit ID {parent} is not the tip of branch {branch} ({tip}). "
                "Get the branch's latest commit ID and try again.")
        return parent.lower()

    # --- reading --------------------------------------------------------------------
    def get_file(self, repo: Repository, specifier: str | None, path: str) -> dict:
        clean = normalise_path(path)
        commit = self.backend.resolve_specifier(repo, specifier)
        entry = repo.git.entry_at(commit, clean)
        if entry is None or entry.kind != "blob":
            raise exc.FileDoesNotExistException(
                f"The file {path} does not exist in commit {commit} of repository {repo.name}.")
        size = repo.git.blob_size(entry.sha)
        if size > MAX_FILE_SIZE:
            raise exc.FileTooLargeException(
                f"The file {path} is {size} bytes, more than the 6 MB GetFile can return. Use git.")
        return {"commitId": commit, "blobId": entry.sha, "filePath": clean,
                "fileMode": MODE_NAMES.get(entry.mode, "NORMAL"), "fileSize": size,
                "fileContent": repo.git.read_blob(entry.sha)}

    def get_folder(self, repo: Repository, specifier: str | None, path: str) -> dict:
        clean = normalise_path(path, allow_root=True)
        commit = self.backend.resolve_specifier(repo, specifier)
        entry = repo.git.entry_at(commit, clean)
        if entry is None or entry.kind != "tree":
            raise exc.FolderDoesNotExistException(
                f"The folder {path} does not exist in commit {commit} of repository {repo.name}.")
        result = {"commitId": commit, "folderPath": path, "treeId": entry.sha, "subFolders": [],
                  "files": [], "symbolicLinks": [], "subModules": []}
        for item in repo.git.list_tree(entry.sha):
            absolute = posixpath.join(clean, item.path) if clean else item.path
            names = {"absolutePath": absolute, "relativePath": item.path}
            if item.kind == "tree":
                result["subFolders"].append({"treeId": item.sha, **names})
            elif item.kind == "commit":
                result["subModules"].append({"commitId": item.sha, **names})
            elif item.mode == "120000":
                result["symbolicLinks"].append({"blobId": item.sha, "fileMode": "SYMLINK", **names})
            else:
                result["files"].append({"blobId": item.sha, "fileMode": MODE_NAMES.get(item.mode, "NORMAL"),
                                        **names})
        return result

    def get_blob(self, repo: Repository, blob_id: str) -> bytes:
        if not SHA_PATTERN.match(blob_id or ""):
            raise exc.InvalidBlobIdException(f"The specified blob ID is not valid: {blob_id}")
        if repo.git.object_type(blob_id) != "blob":
            raise exc.BlobIdDoesNotExistException(
                f"Blob {blob_id} does not exist in repository {repo.name}.")
        if repo.git.blob_size(blob_id) > MAX_FILE_SIZE:
            raise exc.FileTooLargeException(f"The blob {blob_id} is larger than 6 MB. Use git.")
        return repo.git.read_blob(blob_id)

    def get_commit(self, repo: Repository, commit_id: str) -> dict:
        if not commit_id:
            raise exc.CommitIdRequiredException("A commit ID is required.")
        if not SHA_PATTERN.match(commit_id.lower()):
            raise exc.InvalidCommitIdException(
                f"The specified commit ID is not valid: {commit_id}. Use a full 40-character commit ID.")
        if repo.git.object_type(commit_id.lower()) != "commit":
            raise exc.CommitIdDoesNotExistException(
                f"Commit {commit_id} does not exist in repository {repo.name}.")
        return commit_shape(repo.git.commit_info(commit_id.lower()))

    def differences(self, repo: Repository, before: str | None, after: str, before_path: str | None,
                    after_path: str | None) -> list[dict]:
        after_commit = self.backend.resolve_specifier(repo, after) if after else None
        if after_commit is None:
            raise exc.CommitDoesNotExistException("An after commit specifier is required.")
        before_commit = self.backend.resolve_specifier(repo, before) if before else None
        paths = []
        for path, commit in ((before_path, before_commit), (after_path, after_commit)):
            if path:
                clean = normalise_path(path, allow_root=True)
                if clean and (commit is None or repo.git.entry_at(commit, clean) is None):
                    raise exc.PathDoesNotExistException(f"The path {path} does not exist in the commit.")
                if clean:
                    paths.append(clean)
        found = []
        for change in repo.git.diff(before_commit, after_commit, sorted(set(paths))):
            item = {"changeType": change.status}
            if change.status != "A":
                item["beforeBlob"] = {"blobId": change.old_sha, "path": change.path, "mode": change.old_mode}
            if change.status != "D":
                item["afterBlob"] = {"blobId": change.new_sha, "path": change.path, "mode": change.new_mode}
            found.append(item)
        return found

    def file_history(self, repo: Repository, specifier: str | None, path: str) -> list[dict]:
        """ListFileCommitHistory: the commits that changed a file, each with its children among them."""
        clean = normalise_path(path)
        commit = self.backend.resolve_specifier(repo, specifier)
        history = repo.git.commits_touching(commit, clean)
        infos = {sha: repo.git.commit_info(sha) for sha in history}
        children: dict[str, list[str]] = {sha: [] for sha in history}
        for sha, info in infos.items():
            for parent in info.parents:
                if parent in children:
                    children[parent].append(sha)
        versions = []
        for sha in history:
            entry = repo.git.entry_at(sha, clean)
            version = {"commit": commit_shape(infos[sha]), "path": clean, "revisionChildren": children[sha]}
            if entry is not None:
                version["blobId"] = entry.sha
            versions.append(version)
        return versions


def commit_shape(info: CommitInfo) -> dict:
    return {"commitId": info.commit_id, "treeId": info.tree_id, "parents": info.parents,
            "message": info.message, "author": info.author, "committer": info.committer,
            "additionalData": ""}


def _check_identity(request: CommitRequest) -> None:
    if len(request.author) > MAX_NAME_LENGTH:
        raise exc.NameLengthExceededException("The author name is longer than 1,024 characters.")
    if request.email and ("@" not in request.email or any(c in request.email for c in "<>\n")):
        raise exc.InvalidEmailException(f"The email address {request.email} is not valid.")
    if len(request.message) > MAX_MESSAGE_LENGTH:
        raise exc.CommitMessageLengthExceededException("The commit message is longer than 100 KB.")


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _folders_of(entries: dict) -> set[str]:
    folders = set()
    for path in entries:
        folders.update(_parents(path))
    return folders
