"""Pull requests: creation, updates from pushes, approval rules and approvals, comments."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.approvals import (
    TemplateBook,
    content_sha256,
    parse_rule_content,
    rule_satisfied,
)
from labkit.emulator.codecommit.models import Repository, now

MAX_OPEN_PULL_REQUESTS = 1000
MAX_RULES = 25


@dataclass
class ApprovalRule:
    name: str
    content: str
    last_modified_user: str
    template: dict | None = None  # originApprovalRuleTemplate
    rule_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)

    def to_dict(self) -> dict:
        return {"approvalRuleId": self.rule_id, "approvalRuleName": self.name,
                "approvalRuleContent": self.content, "ruleContentSha256": content_sha256(self.content),
                "lastModifiedDate": self.modified, "creationDate": self.created,
                "lastModifiedUser": self.last_modified_user,
                "originApprovalRuleTemplate": self.template}


@dataclass
class PullRequest:
    pull_request_id: str
    title: str
    description: str | None
    author: str
    repository: Repository
    source_ref: str
    destination_ref: str
    source_commit: str
    destination_commit: str
    merge_base: str | None
    client_token: str | None
    status: str = "OPEN"
    created: datetime = field(default_factory=now)
    last_activity: datetime = field(default_factory=now)
    revision_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    merge: dict = field(default_factory=lambda: {"isMerged": False})
    rules: list[ApprovalRule] = field(default_factory=list)
    approvals: dict[str, dict[str, str]] = field(default_factory=dict)  # revision -> {arn: state}
    overrides: dict[str, str] = field(default_factory=dict)  # revision -> overrider's arn
    events: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "pullRequestId": self.pull_request_id, "title": self.title,
            "description": self.description, "lastActivityDate": self.last_activity,
            "creationDate": self.created, "pullRequestStatus": self.status, "authorArn": self.author,
            "pullRequestTargets": [{
                "repositoryName": self.repository.name, "sourceReference": self.source_ref,
                "destinationReference": self.destination_ref,
                "destinationCommit": self.destination_commit, "sourceCommit": self.source_commit,
                "mergeBase": self.merge_base, "mergeMetadata": self.merge}],
            "clientRequestToken": self.client_token, "revisionId": self.revision_id,
            "approvalRules": [r.to_dict() for r in self.rules],
        }

    def record(self, kind: str, actor: str, **metadata) -> None:
        self.last_activity = now()
        self.events.append({"pullRequestId": self.pull_request_id, "eventDate": self.last_activity,
                            "pullRequestEventType": kind, "actorArn": actor, **metadata})

    def approvers(self, revision: str) -> list[str]:
        return [arn for arn, state in self.approvals.get(revision, {}).items() if state == "APPROVE"]

    def evaluation(self, revision: str) -> dict:
        approvers = self.approvers(revision)
        satisfied = [r.name for r in self.rules if rule_satisfied(json.loads(r.content), approvers)]
        unsatisfied = [r.name for r in self.rules if r.name not in satisfied]
        overridden = revision in self.overrides
        return {"approved": overridden or not unsatisfied, "overridden": overridden,
                "approvalRulesSatisfied": satisfied, "approvalRulesNotSatisfied": unsatisfied}


def full_branch_ref(name: str) -> str:
    return name if name.startswith("refs/") else f"refs/heads/{name}"


class PullRequestBook:
    """An account and region's pull requests (ids count up from 1, as on AWS)."""

    def __init__(self, backend):
        self.backend = backend
        self.templates = TemplateBook(backend)
        self._ids = itertools.count(1)
        self.lock = threading.RLock()

    @property
    def requests(self) -> dict[str, PullRequest]:
        return self.backend.pull_requests

    def _record(self, pr: PullRequest, kind: str, caller: str, announce: bool = True, **metadata) -> None:
        """Add to the pull request's events and send AWS's EventBridge event for it."""
        pr.record(kind, caller, **metadata)
        announcer = getattr(self.backend.notifier, "pull_request_changed", None)
        if announce and announcer is not None:
            announcer(pr, kind, caller)

    # --- creating and reading -------------------------------------------------------
    def create(self, title: str, description: str | None, targets: list[dict], token: str | None,
               caller: str) -> PullRequest:
        if not title.strip() or len(title) > 150:
            raise exc.InvalidTitleException("The title must be 1 to 150 characters and not blank.")
        if description is not None and len(description) > 10240:
            raise exc.InvalidDescriptionException("The description can be at most 10,240 characters.")
        if len(targets) != 1:
            if len(targets) > 1:
                raise exc.MultipleRepositoriesInPullRequestException(
                    "A pull request can target only one repository.")
            raise exc.InvalidTargetsException("A pull request needs exactly one target.")
        target = targets[0]
        with self.lock:
            if token:
                existing = next((p for p in self.requests.values() if p.client_token == token), None)
                if existing is not None:
                    if existing.title != title or existing.repository.name != target["repositoryName"]:
                        raise exc.IdempotencyParameterMismatchException(
                            f"The client request token {token} was used with different parameters.")
                    return existing
            repo = self.backend.get_repository(target["repositoryName"])
            source_ref = full_branch_ref(target["sourceReference"])
            destination_ref = full_branch_ref(target.get("destinationReference") or
                                              (repo.default_branch or "main"))
            for ref in (source_ref, destination_ref):
                if not ref.startswith("refs/heads/"):
                    raise exc.ReferenceTypeNotSupportedException(
                        f"The reference {ref} is not a branch; pull requests are between branches.")
            if source_ref == destination_ref:
                raise exc.SourceAndDestinationAreSameException(
                    "The source branch and destination branch are the same; choose two branches.")
            refs = repo.git.refs("refs/heads/")
            for ref in (source_ref, destination_ref):
                if ref not in refs:
                    raise exc.ReferenceDoesNotExistException(
                        f"The branch {ref[len('refs/heads/'):]} does not exist in repository {repo.name}.")
            open_count = sum(1 for p in self.requests.values()
                             if p.repository is repo and p.status == "OPEN")
            if open_count >= MAX_OPEN_PULL_REQUESTS:
                raise exc.InvalidTargetsException(
                    f"The repository already has {MAX_OPEN_PULL_REQUESTS} open pull requests.")
            source, destination = refs[source_ref], refs[destination_ref]
            pr = PullRequest(str(next(self._ids)), title, description, caller, repo, source_ref,
                             destination_ref, source, destination,
                             repo.git.merge_base(source, destination), token)
            for template in self.templates.for_pull_request(repo, destination_ref):
                pr.rules.append(ApprovalRule(
                    template.name, template.content, caller,
                    {"approvalRuleTemplateId": template.template_id,
                     "approvalRuleTemplateName": template.name}))
            self._record(pr, "PULL_REQUEST_CREATED", caller, pullRequestCreatedEventMetadata={
                "repositoryName": repo.name, "sourceCommitId": source,
                "destinationCommitId": destination, "mergeBase": pr.merge_base})
            self.requests[pr.pull_request_id] = pr
        return pr

    def get(self, pull_request_id: str) -> PullRequest:
        if not pull_request_id:
            raise exc.PullRequestIdRequiredException("A pull request ID is required.")
        if not pull_request_id.isdigit():
            raise exc.InvalidPullRequestIdException(
                f"The pull request ID {pull_request_id} is not valid: IDs are numbers such as 1.")
        pr = self.requests.get(pull_request_id)
        if pr is None:
            raise exc.PullRequestDoesNotExistException(
                f"The pull request {pull_request_id} does not exist.")
        return pr

    def open_request(self, pull_request_id: str) -> PullRequest:
        pr = self.get(pull_request_id)
        if pr.status != "OPEN":
            raise exc.PullRequestAlreadyClosedException(
                f"The pull request {pull_request_id} is already closed.")
        return pr

    def list_ids(self, repo: Repository, author: str | None, status: str | None) -> list[str]:
        if author and not author.startswith("arn:"):
            raise exc.InvalidAuthorArnException(f"The author ARN {author} is not valid.")
        found = [p for p in self.requests.values() if p.repository is repo
                 and (not author or p.author == author) and (not status or p.status == status)]
        return [p.pull_request_id for p in sorted(found, key=lambda p: -int(p.pull_request_id))]

    # --- updating -------------------------------------------------------------------
    def set_status(self, pull_request_id: str, status: str, caller: str) -> PullRequest:
        pr = self.get(pull_request_id)
        if pr.status == status:
            return pr
        if pr.merge.get("isMerged"):
            raise exc.InvalidPullRequestStatusUpdateException(
                f"The pull request {pull_request_id} was merged; it cannot be reopened.")
        if status == "OPEN":
            self._refresh_commits(pr, caller)
        pr.status = status
        self._record(pr, "PULL_REQUEST_STATUS_CHANGED", caller,
                     pullRequestStatusChangedEventMetadata={"pullRequestStatus": status})
        return pr

    def set_title(self, pull_request_id: str, title: str, caller: str) -> PullRequest:
        pr = self.open_request(pull_request_id)
        if not title.strip() or len(title) > 150:
            raise exc.InvalidTitleException("The title must be 1 to 150 characters and not blank.")
        pr.title = title
        pr.last_activity = now()
        return pr

    def set_description(self, pull_request_id: str, description: str, caller: str) -> PullRequest:
        pr = self.open_request(pull_request_id)
        if len(description) > 10240:
            raise exc.InvalidDescriptionException("The description can be at most 10,240 characters.")
        pr.description = description
        pr.last_activity = now()
        return pr

    def references_moved(self, repo: Repository, changes, caller: str) -> None:
        """After a push or API write: move open pull requests' commits; close merged ones."""
        moved = {ref for ref, _old, _new in changes}
        for pr in [p for p in self.requests.values() if p.repository is repo and p.status == "OPEN"]:
            if pr.source_ref in moved or pr.destination_ref in moved:
                self._refresh_commits(pr, caller)

    def _refresh_commits(self, pr: PullRequest, caller: str) -> None:
        refs = pr.repository.git.refs("refs/heads/")
        source, destination = refs.get(pr.source_ref), refs.get(pr.destination_ref)
        if source and source != pr.source_commit:
            before = pr.source_commit
            pr.source_commit = source
            pr.revision_id = uuid.uuid4().hex  # approvals belong to a revision: they start over
            pr.merge_base = pr.repository.git.merge_base(source, destination) if destination else None
            self._record(pr, "PULL_REQUEST_SOURCE_REFERENCE_UPDATED", caller,
                         pullRequestSourceReferenceUpdatedEventMetadata={
                             "repositoryName": pr.repository.name, "beforeCommitId": before,
                             "afterCommitId": source, "mergeBase": pr.merge_base})
        if destination:
            pr.destination_commit = destination
        # Merged outside the pull request (e.g. a push of the source into the destination).
        if source and destination and pr.repository.git.is_ancestor(source, destination):
            self.mark_merged(pr, caller, None, None)

    def mark_merged(self, pr: PullRequest, caller: str, merge_commit: str | None, option: str | None) -> None:
        merge = {"isMerged": True, "mergedBy": caller, "mergeCommitId": merge_commit, "mergeOption": option}
        pr.merge = {k: v for k, v in merge.items() if v is not None}
        pr.status = "CLOSED"
        self._record(pr, "PULL_REQUEST_MERGE_STATE_CHANGED", caller,
                     pullRequestMergedStateChangedEventMetadata={
                         "repositoryName": pr.repository.name, "destinationReference": pr.destination_ref,
                         "mergeMetadata": pr.merge})
        # AWS announces a merge with one EventBridge event (pullRequestMergeStatusUpdated).
        self._record(pr, "PULL_REQUEST_STATUS_CHANGED", caller, announce=False,
                     pullRequestStatusChangedEventMetadata={"pullRequestStatus": "CLOSED"})

    # --- approval rules and approvals -----------------------------------------------
    def create_rule(self, pull_request_id: str, name: str, content: str, caller: str) -> ApprovalRule:
        pr = self.open_request(pull_request_id)
        if not 1 <= len(name) <= 100:
            raise exc.InvalidApprovalRuleNameException("An approval rule name has 1 to 100 characters.")
        parse_rule_content(content, exc.InvalidApprovalRuleContentException, allow_destinations=False)
        if any(r.name == name for r in pr.rules):
            raise exc.ApprovalRuleNameAlreadyExistsException(
                f"The pull request already has an approval rule named {name}.")
        if len(pr.rules) >= MAX_RULES:
            raise exc.NumberOfRulesExceededException(f"A pull request can have at most {MAX_RULES} rules.")
        rule = ApprovalRule(name, content, caller)
        pr.rules.append(rule)
        self._record(pr, "PULL_REQUEST_APPROVAL_RULE_CREATED", caller, approvalRuleEventMetadata={
            "approvalRuleName": name, "approvalRuleId": rule.rule_id, "approvalRuleContent": content})
        return rule

    def update_rule(self, pull_request_id: str, name: str, content: str, expected_sha: str | None,
                    caller: str) -> ApprovalRule:
        pr = self.open_request(pull_request_id)
        rule = next((r for r in pr.rules if r.name == name), None)
        if rule is None:
            raise exc.ApprovalRuleDoesNotExistException(
                f"The pull request {pull_request_id} has no approval rule named {name}.")
        if rule.template is not None:
            raise exc.CannotModifyApprovalRuleFromTemplateException(
                f"The approval rule {name} comes from a template; change the template instead.")
        if expected_sha and expected_sha != content_sha256(rule.content):
            raise exc.InvalidRuleContentSha256Exception(
                "existingRuleContentSha256 does not match the rule's current content; get the pull "
                "request again and retry.")
        parse_rule_content(content, exc.InvalidApprovalRuleContentException, allow_destinations=False)
        rule.content, rule.modified, rule.last_modified_user = content, now(), caller
        self._record(pr, "PULL_REQUEST_APPROVAL_RULE_UPDATED", caller, approvalRuleEventMetadata={
            "approvalRuleName": name, "approvalRuleId": rule.rule_id, "approvalRuleContent": content})
        return rule

    def delete_rule(self, pull_request_id: str, name: str, caller: str) -> str:
        pr = self.open_request(pull_request_id)
        rule = next((r for r in pr.rules if r.name == name), None)
        if rule is None:
            return ""  # as AWS: deleting a rule that is not there is not an error
        if rule.template is not None:
            raise exc.CannotDeleteApprovalRuleFromTemplateException(
                f"The approval rule {name} comes from a template and cannot be deleted; "
                "override the approval rules instead.")
        pr.rules.remove(rule)
        self._record(pr, "PULL_REQUEST_APPROVAL_RULE_DELETED", caller, approvalRuleEventMetadata={
            "approvalRuleName": name, "approvalRuleId": rule.rule_id})
        return rule.rule_id

    def revision(self, pr: PullRequest, revision_id: str, must_be_current: bool) -> str:
        if not revision_id or len(revision_id) > 64:
            raise exc.InvalidRevisionIdException(f"The revision ID {revision_id!r} is not valid.")
        if must_be_current and revision_id != pr.revision_id:
            raise exc.RevisionNotCurrentException(
                f"The revision {revision_id} is not the current revision of pull request "
                f"{pr.pull_request_id} ({pr.revision_id}); the source branch has changed since.")
        return revision_id

    def set_approval(self, pull_request_id: str, revision_id: str, state: str, caller: str) -> None:
        pr = self.open_request(pull_request_id)
        self.revision(pr, revision_id, must_be_current=True)
        if caller == pr.author:
            raise exc.PullRequestCannotBeApprovedByAuthorException(
                "The pull request cannot be approved by its author; ask another user to approve it.")
        pr.approvals.setdefault(revision_id, {})[caller] = state
        self._record(pr, "PULL_REQUEST_APPROVAL_STATE_CHANGED", caller,
                     approvalStateChangedEventMetadata={"revisionId": revision_id, "approvalStatus": state})

    def set_override(self, pull_request_id: str, revision_id: str, status: str, caller: str) -> None:
        pr = self.open_request(pull_request_id)
        self.revision(pr, revision_id, must_be_current=True)
        if status == "OVERRIDE":
            pr.overrides[revision_id] = caller
        else:
            pr.overrides.pop(revision_id, None)
        self._record(pr, "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN", caller,
                     approvalRuleOverriddenEventMetadata={"revisionId": revision_id, "overrideStatus": status})
