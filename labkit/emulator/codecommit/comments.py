"""Comments on pull requests and on compared commits, with replies, edits and deletion."""

from __future__ import annotations

import json
import uuid

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.models import CodeCommitBackend, Repository, now

MAX_COMMENT = 10240


class CommentBook:
    """An account and region's comments. Each posted comment sits in a container (a pull request's
    list, or the compared-commit list); a reply joins its parent's container and location."""

    def __init__(self, backend: CodeCommitBackend):
        self.backend = backend
        self.compared: list[dict] = []
        self.by_id: dict[str, tuple[list, dict]] = {}

    def post(self, container: list, repo: Repository, before: str | None, after: str,
             location: dict | None, content: str, token: str | None, caller: str,
             pull_request_id: str | None = None) -> dict:
        _check_content(content)
        if token:
            for existing in container:
                if existing["comment"].get("clientRequestToken") == token:
                    if existing["comment"]["content"] != content:
                        raise exc.IdempotencyParameterMismatchException(
                            f"The client request token {token} was used with different content.")
                    return existing
        after_commit = self.backend.resolve_commit_id(repo, after)
        before_commit = self.backend.resolve_commit_id(repo, before) if before else None
        if before_commit == after_commit:
            raise exc.BeforeCommitIdAndAfterCommitIdAreSameException(
                "The before and after commit IDs are the same; comment on two different commits.")
        posted = {"repositoryName": repo.name, "beforeCommitId": before_commit, "afterCommitId": after_commit}
        if pull_request_id:
            posted = {"pullRequestId": pull_request_id, **posted}
        if location:
            path = (location.get("filePath") or "").strip("/")
            before_entry = repo.git.entry_at(before_commit, path) if path and before_commit else None
            after_entry = repo.git.entry_at(after_commit, path) if path else None
            if not path or (before_entry is None and after_entry is None):
                raise exc.PathDoesNotExistException(
                    f"The file {location.get('filePath')} does not exist in the compared commits.")
            posted["location"] = location
            if before_entry is not None:
                posted["beforeBlobId"] = before_entry.sha
            if after_entry is not None:
                posted["afterBlobId"] = after_entry.sha
        posted["comment"] = _new_comment(content, caller, token, None)
        container.append(posted)
        self.by_id[posted["comment"]["commentId"]] = (container, posted)
        return posted

    def reply(self, in_reply_to: str, content: str, token: str | None, caller: str) -> dict:
        container, parent = self._find(in_reply_to)
        _check_content(content)
        if token:
            for existing in container:
                if existing["comment"].get("clientRequestToken") == token:
                    return existing["comment"]
        posted = {k: v for k, v in parent.items() if k != "comment"}
        posted["comment"] = _new_comment(content, caller, token, in_reply_to)
        container.append(posted)
        self.by_id[posted["comment"]["commentId"]] = (container, posted)
        return posted["comment"]

    def get(self, comment_id: str) -> dict:
        comment = self._find(comment_id)[1]["comment"]
        if comment["deleted"]:
            raise exc.CommentDeletedException(f"The comment {comment_id} has been deleted.")
        return comment

    def update(self, comment_id: str, content: str, caller: str) -> dict:
        comment = self.get(comment_id)
        if comment["authorArn"] != caller:
            raise exc.CommentNotCreatedByCallerException(
                "You cannot edit a comment that someone else wrote.")
        _check_content(content)
        comment["content"], comment["lastModifiedDate"] = content, now()
        return comment

    def delete_content(self, comment_id: str) -> dict:
        comment = self.get(comment_id)
        comment["content"], comment["deleted"], comment["lastModifiedDate"] = "", True, now()
        return comment

    def threads(self, container: list, before: str | None, after: str | None) -> list[dict]:
        """Comments grouped by (before, after, location), oldest first, as AWS groups them."""
        threads: dict[str, dict] = {}
        for posted in container:
            if before and posted["beforeCommitId"] != before:
                continue
            if after and posted["afterCommitId"] != after:
                continue
            key = json.dumps([posted["beforeCommitId"], posted["afterCommitId"], posted.get("location")],
                             sort_keys=True)
            thread = threads.setdefault(key, {k: v for k, v in posted.items() if k != "comment"})
            thread.setdefault("comments", []).append(posted["comment"])
        return list(threads.values())

    def _find(self, comment_id: str) -> tuple[list, dict]:
        if not comment_id:
            raise exc.CommentIdRequiredException("A comment ID is required.")
        found = self.by_id.get(comment_id)
        if found is None:
            raise exc.CommentDoesNotExistException(f"The comment {comment_id} does not exist.")
        return found


def _check_content(content: str) -> None:
    if not content:
        raise exc.CommentContentRequiredException("The comment has no content.")
    if len(content) > MAX_COMMENT:
        raise exc.CommentContentSizeLimitExceededException(
            f"A comment can be at most {MAX_COMMENT} characters.")


def _new_comment(content: str, caller: str, token: str | None, in_reply_to: str | None) -> dict:
    moment = now()
    return {"commentId": uuid.uuid4().hex, "content": content, "inReplyTo": in_reply_to,
            "creationDate": moment, "lastModifiedDate": moment, "authorArn": caller, "deleted": False,
            "clientRequestToken": token, "callerReactions": [], "reactionCounts": {}}
