"""What follows a reference change: the EventBridge event AWS sends, triggers, pull request updates."""

from __future__ import annotations

import logging

from labkit.emulator.codecommit.models import Repository
from labkit.emulator.codecommit.triggers import fire_triggers

log = logging.getLogger("labkit.emulator.codecommit")
SOURCE = "aws.codecommit"
DETAIL_TYPE = "CodeCommit Repository State Change"
PULL_REQUEST_DETAIL_TYPE = "CodeCommit Pull Request State Change"
# Pull request event types (DescribePullRequestEvents) -> the `event` of AWS's EventBridge detail.
PULL_REQUEST_EVENTS = {
    "PULL_REQUEST_CREATED": "pullRequestCreated",
    "PULL_REQUEST_SOURCE_REFERENCE_UPDATED": "pullRequestSourceBranchUpdated",
    "PULL_REQUEST_STATUS_CHANGED": "pullRequestStatusChanged",
    "PULL_REQUEST_MERGE_STATE_CHANGED": "pullRequestMergeStatusUpdated",
    "PULL_REQUEST_APPROVAL_RULE_CREATED": "pullRequestApprovalRuleCreated",
    "PULL_REQUEST_APPROVAL_STATE_CHANGED": "pullRequestApprovalStateChanged",
    "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN": "pullRequestApprovalRuleOverridden",
}


class ReferenceNotifier:
    """Called by a backend after refs move (API writes and git pushes alike)."""

    def __init__(self, runtime):
        self.runtime = runtime

    def __call__(self, repo: Repository, changes, caller: str) -> None:
        for ref, old, new in changes:
            try:
                self.runtime.events.put_event(repo.account_id, repo.region, SOURCE, DETAIL_TYPE,
                                              reference_event_detail(repo, ref, old, new, caller),
                                              [repo.arn])
            except Exception:  # the change happened; a failed delivery must not undo or hide it
                log.exception("could not send the event for %s %s", repo.name, ref)
        fire_triggers(repo, changes, caller)
        pull_requests = getattr(repo.owner, "pull_request_book", None)
        if pull_requests is not None:
            pull_requests.references_moved(repo, changes, caller)

    def pull_request_changed(self, pr, kind: str, caller: str) -> None:
        event = PULL_REQUEST_EVENTS.get(kind)
        if event is None:
            return
        repo = pr.repository
        try:
            self.runtime.events.put_event(repo.account_id, repo.region, SOURCE, PULL_REQUEST_DETAIL_TYPE,
                                          pull_request_event_detail(pr, event, caller),
                                          [repo.arn])
        except Exception:  # the change happened; a failed delivery must not undo or hide it
            log.exception("could not send the event for pull request %s", pr.pull_request_id)


def pull_request_event_detail(pr, event: str, caller: str) -> dict:
    """AWS's detail for pull request events (strings such as "Open" and "True", as AWS sends them)."""
    def when(moment) -> str:
        return moment.strftime("%a %b %d %Y %I:%M:%S %p")

    return {
        "author": pr.author,
        "callerUserArn": caller,
        "creationDate": when(pr.created),
        "description": pr.description or "",
        "destinationCommit": pr.destination_commit,
        "destinationReference": pr.destination_ref,
        "event": event,
        "isMerged": "True" if pr.merge.get("isMerged") else "False",
        "lastModifiedDate": when(pr.last_activity),
        "notificationBody": (f"A pull request event occurred in the following AWS CodeCommit "
                             f"repository: {pr.repository.name}. Pull request {pr.pull_request_id}: "
                             f"{pr.title} ({event})."),
        "pullRequestId": pr.pull_request_id,
        "pullRequestStatus": pr.status.capitalize(),
        "repositoryNames": [pr.repository.name],
        "revisionId": pr.revision_id,
        "sourceCommit": pr.source_commit,
        "sourceReference": pr.source_ref,
        "title": pr.title,
    }


def reference_event_detail(repo: Repository, ref: str, old: str | None, new: str | None,
                           caller: str) -> dict:
    """The `detail` of AWS's event: created events carry no oldCommitId, deleted ones no commitId."""
    if ref.startswith("refs/heads/"):
        kind, name = "branch", ref[len("refs/heads/"):]
    elif ref.startswith("refs/tags/"):
        kind, name = "tag", ref[len("refs/tags/"):]
    else:
        kind, name = "reference", ref
    event = "referenceCreated" if old is None else "referenceDeleted" if new is None else "referenceUpdated"
    detail = {
        "callerUserArn": caller,
        "event": event,
        "referenceFullName": ref,
        "referenceName": name,
        "referenceType": kind,
        "repositoryId": repo.repository_id,
        "repositoryName": repo.name,
    }
    if new is not None:
        detail["commitId"] = new
    if old is not None:
        detail["oldCommitId"] = old
    return detail
