"""What follows a reference change: the EventBridge event AWS sends, triggers, pull request updates."""

from __future__ import annotations

import logging

from labkit.emulator.codecommit.models import Repository
from labkit.emulator.codecommit.triggers import fire_triggers

log = logging.getLogger("labkit.emulator.codecommit")
SOURCE = "aws.codecommit"
DETAIL_TYPE = "CodeCommit Repository State Change"


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
