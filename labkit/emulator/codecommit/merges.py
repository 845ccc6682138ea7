"""Merging a pull request: fast-forward, squash or three-way, with conflicts found by `git merge-tree`."""

from __future__ import annotations

import base64
import binascii

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.git_repo import MODE_BITS
from labkit.emulator.codecommit.identity import user_name
from labkit.emulator.codecommit.pullrequests import PullRequest, PullRequestBook

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
        if option == "FAST_FORWARD_MERGE":
            if not repo.git.is_ancestor(destination, source):
                raise exc.ManualMergeRequiredException(
                    "The pull request cannot be merged by fast-forward: the destination branch has "
                    "commits that the source branch does not have. Use a squash or three-way merge.")
            new = source
        else:
            tree = _merged_tree(repo, destination, source, pr.merge_base, params)
            parents = [destination] if option == "SQUASH_MERGE" else [destination, source]
            message = params.get("commitMessage") or (
                f"Merge pull request {pr.pull_request_id}: {pr.title}")
            new = repo.git.commit_tree(tree, parents, message,
                                       params.get("authorName") or user_name(caller),
                                       params.get("email") or "")
        if not repo.git.update_ref(pr.destination_ref, new, destination):
            raise exc.ConcurrentReferenceUpdateException(
                "The destination branch changed while the merge was being made; try again.")
        book.mark_merged(pr, caller, new, option)
        backend.reference_changed(repo, [(pr.destination_ref, destination, new)], caller)
    return pr


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


def conflicting_files(repo, destination: str, source: str) -> list[str]:
    """Paths that a merge of `source` into `destination` cannot combine on its own."""
    return repo.git.merge_trees(destination, source)[1]
