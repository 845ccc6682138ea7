"""Merging a pull request: fast-forward, squash or three-way, with conflicts found by `git merge-tree`."""

from __future__ import annotations

import base64
import binascii

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.git_repo import MODE_BITS, MODE_NAMES
from labkit.emulator.codecommit.pullrequests import PullRequest, PullRequestBook
from labkit.emulator.identity import user_name

OPTIONS = {"FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"}


def merge_pull_request(book: PullRequestBook, params: dict, option: str, caller: str) -> PullRequest:
    """Merge as AWS does: only an open, approved pull request whose source tip is as expected."""
    backend = book.backend
    pr = book.open_request(params["pullRequestId"])
    repo = backend.get_repository(params["repositoryName"])
    if pr.repository is not repo:
        raise exc.RepositoryNotAssociatedWithPullRequestException(
            f"The repository {repo.name} is not the repository of pull request {pr.pull_request_id}.")
    with repo.lock:
        book._refresh_commits(pr, caller)
        if pr.status != "OPEN":
            raise exc.PullRequestAlreadyClosedException(
                f"The pull request {pr.pull_request_id} is already closed (its source was merged).")
        refs = repo.git.refs("refs/heads/")
        source, destination = refs.get(pr.source_ref), refs.get(pr.destination_ref)
        for ref, tip in ((pr.source_ref, source), (pr.destination_ref, destination)):
            if tip is None:
                raise exc.ReferenceDoesNotExistException(
                    f"The branch {ref[len('refs/heads/'):]} no longer exists in {repo.name}.")
        expected = params.get("sourceCommitId")
        if expected and expected != source:
            raise exc.TipOfSourceReferenceIsDifferentException(
                f"The tip of the source branch is {source}, not {expected}; the branch has changed. "
                "Review the new commits and merge again.")
        evaluation = pr.evaluation(pr.revision_id)
        if not evaluation["approved"]:
            raise exc.PullRequestApprovalRulesNotSatisfiedException(
                f"The pull request {pr.pull_request_id} cannot be merged because one or more approval "
                f"rules have not been satisfied: {', '.join(evaluation['approvalRulesNotSatisfied'])}.")
        new = merge_commit(repo, destination, source, option, params, caller,
                           f"Merge pull request {pr.pull_request_id}: {pr.title}")
        if not repo.git.update_ref(pr.destination_ref, new, destination):
            raise exc.ConcurrentReferenceUpdateException(
                "The destination branch changed while the merge was being made; try again.")
        book.mark_merged(pr, caller, new, option)
        backend.reference_changed(repo, [(pr.destination_ref, destination, new)], caller)
    return pr


def merge_commit(repo, destination: str, source: str, option: str, params: dict, caller: str,
                 default_message: str) -> str:
    """The commit the destination moves to: the source itself (fast-forward) or a new commit."""
    if option == "FAST_FORWARD_MERGE":
        if not repo.git.is_ancestor(destination, source):
            raise exc.ManualMergeRequiredException(
                "The merge cannot be done by fast-forward: the destination has commits that the "
                "source does not have. Use a squash or three-way merge.")
        return source
    base = repo.git.merge_base(destination, source)
    tree = _merged_tree(repo, destination, source, base, params)
    parents = [destination] if option == "SQUASH_MERGE" else [destination, source]
    return repo.git.commit_tree(tree, parents, params.get("commitMessage") or default_message,
                                params.get("authorName") or user_name(caller), params.get("email") or "")


def merge_branches(backend, params: dict, option: str, caller: str) -> dict:
    """MergeBranchesBy*: merge two commits or branches and move the target branch."""
    repo = backend.get_repository(params["repositoryName"])
    with repo.lock:
        source = backend.resolve_specifier(repo, params["sourceCommitSpecifier"])
        destination = backend.resolve_specifier(repo, params["destinationCommitSpecifier"])
        target = params.get("targetBranch") or params["destinationCommitSpecifier"]
        branches = repo.git.branches()
        if target.startswith("refs/heads/"):
            target = target[len("refs/heads/"):]
        if target not in branches:
            raise exc.InvalidTargetBranchException(
                f"The target branch {target} is not a branch of {repo.name}. Name the branch to "
                "update in targetBranch, or give a branch as destinationCommitSpecifier.")
        new = merge_commit(repo, destination, source, option, params, caller,
                           f"Merge {params['sourceCommitSpecifier']} into {target}")
        old = branches[target]
        if new != old:
            if not repo.git.update_ref(f"refs/heads/{target}", new, old):
                raise exc.ConcurrentReferenceUpdateException(
                    f"The branch {target} changed while the merge was being made; try again.")
            backend.reference_changed(repo, [(f"refs/heads/{target}", old, new)], caller)
    tree = repo.git.commit_info(new).tree_id
    return {"commitId": new, "treeId": tree}


def _merged_tree(repo, destination: str, source: str, base: str | None, params: dict) -> str:
    git = repo.git
    tree, conflicts = git.merge_trees(destination, source)
    strategy = params.get("conflictResolutionStrategy") or "NONE"
    resolution = params.get("conflictResolution") or {}
    puts: dict[str, tuple[str, str]] = {}
    deletes: list[str] = []
    chosen = {"ACCEPT_SOURCE": source, "ACCEPT_DESTINATION": destination}.get(strategy)
    if chosen:
        for path in conflicts:
            _take(git, chosen, path, puts, deletes)
    for entry in resolution.get("replaceContents") or []:
        path = entry["filePath"].strip("/")
        kind = entry["replacementType"]
        if kind == "USE_NEW_CONTENT":
            try:
                content = base64.b64decode(entry.get("content") or "", validate=True)
            except (binascii.Error, ValueError):
                raise exc.InvalidConflictResolutionException(f"The content for {path} is not base64.") from None
            puts[path] = (MODE_BITS.get(entry.get("fileMode") or "NORMAL", "100644"), git.write_blob(content))
        else:
            side = {"KEEP_SOURCE": source, "KEEP_DESTINATION": destination, "KEEP_BASE": base}[kind]
            if side is None:
                raise exc.InvalidConflictResolutionException(f"There is no merge base to keep for {path}.")
            _take(git, side, path, puts, deletes)
    for entry in resolution.get("deleteFiles") or []:
        deletes.append(entry["filePath"].strip("/"))
    for entry in resolution.get("setFileModes") or []:
        path = entry["filePath"].strip("/")
        current = puts.get(path)
        sha = current[1] if current else (git.entry_at(source, path) or git.entry_at(destination, path)).sha
        puts[path] = (MODE_BITS[entry["fileMode"]], sha)
    unresolved = [p for p in conflicts if p not in puts and p not in deletes]
    if unresolved:
        raise exc.ManualMergeRequiredException(
            f"The pull request cannot be merged automatically: these files have conflicts: "
            f"{', '.join(unresolved)}. Resolve them (conflictResolution or a strategy such as "
            "ACCEPT_SOURCE), or merge locally with git and push.")
    if puts or deletes:
        tree = git.build_tree(tree, puts, deletes)
    return tree


def _take(git, commit: str, path: str, puts: dict, deletes: list) -> None:
    entry = git.entry_at(commit, path)
    if entry is None:
        deletes.append(path)
    else:
        puts[path] = (entry.mode, entry.sha)


def merge_options(backend, repo, source_spec: str, destination_spec: str, strategy: str | None) -> dict:
    """GetMergeOptions: which merge kinds would succeed for these two commits."""
    source = backend.resolve_specifier(repo, source_spec)
    destination = backend.resolve_specifier(repo, destination_spec)
    options = []
    if repo.git.is_ancestor(destination, source):
        options.append("FAST_FORWARD_MERGE")
    conflicts = repo.git.merge_trees(destination, source)[1]
    if not conflicts or strategy in ("ACCEPT_SOURCE", "ACCEPT_DESTINATION"):
        options += ["SQUASH_MERGE", "THREE_WAY_MERGE"]
    return {"mergeOptions": options, "sourceCommitId": source, "destinationCommitId": destination,
            "baseCommitId": repo.git.merge_base(source, destination) or ""}


def merge_conflicts(backend, repo, source_spec: str, destination_spec: str, option: str,
                    strategy: str | None) -> dict:
    """GetMergeConflicts at file level: whether the merge works, and each conflicting file."""
    if option not in OPTIONS:
        raise exc.InvalidMergeOptionException(f"The merge option {option} is not valid.")
    git = repo.git
    source = backend.resolve_specifier(repo, source_spec)
    destination = backend.resolve_specifier(repo, destination_spec)
    base = git.merge_base(source, destination)
    result = {"destinationCommitId": destination, "sourceCommitId": source, "baseCommitId": base,
              "conflictMetadataList": []}
    if option == "FAST_FORWARD_MERGE":
        result["mergeable"] = git.is_ancestor(destination, source)
        return result
    conflicts = git.merge_trees(destination, source)[1]
    if strategy in ("ACCEPT_SOURCE", "ACCEPT_DESTINATION"):
        conflicts = []
    result["mergeable"] = not conflicts
    for path in conflicts:
        sides = {"source": source, "destination": destination, "base": base}
        entries = {side: git.entry_at(commit, path) if commit else None for side, commit in sides.items()}
        present = {side: e for side, e in entries.items() if e is not None}
        result["conflictMetadataList"].append({
            "filePath": path,
            "fileSizes": {side: git.blob_size(e.sha) for side, e in present.items() if e.kind == "blob"},
            "fileModes": {side: MODE_NAMES.get(e.mode, "NORMAL") for side, e in present.items()},
            "objectTypes": {side: _object_type(e) for side, e in present.items()},
            "numberOfConflicts": 1,
            "contentConflict": True,
            "fileModeConflict": len({e.mode for e in present.values()}) > 1,
            "objectTypeConflict": len({e.kind for e in present.values()}) > 1,
            "mergeOperations": {side: _operation(entries["base"], entries[side])
                                for side in ("source", "destination")},
        })
    return result


def _object_type(entry) -> str:
    if entry.kind == "tree":
        return "DIRECTORY"
    if entry.kind == "commit":
        return "GIT_LINK"
    return "SYMBOLIC_LINK" if entry.mode == "120000" else "FILE"


def _operation(base_entry, side_entry) -> str:
    if base_entry is None:
        return "A"
    return "D" if side_entry is None else "M"
