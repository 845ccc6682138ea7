"""Approval rules: the JSON rule content, templates and their repository associations, evaluation."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.models import Repository, now

RULE_VERSION = "2018-11-08"
TEMPLATE_NAME = re.compile(r"^.{1,100}$")
MAX_TEMPLATES_PER_REPOSITORY = 25
MAX_TEMPLATES = 1000


def parse_rule_content(content: str, error, allow_destinations: bool) -> dict:
    """The rule as a dict, or `error` (the operation's exception type) saying what is wrong.

    Content is AWS's: {"Version": "2018-11-08", "DestinationReferences": ["refs/heads/main"],
    "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 2,
    "ApprovalPoolMembers": ["arn:aws:iam::123456789012:user/*"]}]}.
    """
    example = ('{"Version": "2018-11-08", "Statements": [{"Type": "Approvers", '
               '"NumberOfApprovalsNeeded": 2}]}')
    try:
        rule = json.loads(content)
    except ValueError:
        raise error(f"The content of the approval rule is not valid JSON. Example: {example}") from None
    if not isinstance(rule, dict):
        raise error(f"The content of the approval rule must be a JSON object. Example: {example}")
    if rule.get("Version") != RULE_VERSION:
        raise error(f'The approval rule content must have "Version": "{RULE_VERSION}".')
    statements = rule.get("Statements")
    if not isinstance(statements, list) or not statements:
        raise error(f"The approval rule content needs a non-empty Statements list. Example: {example}")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Type") != "Approvers":
            raise error('Each statement of an approval rule must have "Type": "Approvers".')
        needed = statement.get("NumberOfApprovalsNeeded")
        if not isinstance(needed, int) or isinstance(needed, bool) or needed < 1:
            raise error("NumberOfApprovalsNeeded must be a whole number of at least 1.")
        pool = statement.get("ApprovalPoolMembers", [])
        if not isinstance(pool, list) or not all(isinstance(m, str) and m for m in pool):
            raise error("ApprovalPoolMembers must be a list of ARNs (wildcards allowed).")
    destinations = rule.get("DestinationReferences")
    if destinations is not None:
        if not allow_destinations:
            raise error("DestinationReferences belongs in approval rule templates, not in the "
                        "approval rules of a pull request.")
        if not isinstance(destinations, list) or not all(
                isinstance(d, str) and d.startswith("refs/heads/") for d in destinations):
            raise error('DestinationReferences must list full branch names such as "refs/heads/main".')
    unknown = set(rule) - {"Version", "Statements", "DestinationReferences"}
    if unknown:
        raise error(f"The approval rule content has unknown keys: {', '.join(sorted(unknown))}.")
    return rule


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def approver_matches(member: str, arn: str) -> bool:
    """Does an ApprovalPoolMembers entry cover this caller?

    Entries are ARNs with optional wildcards, or the short form CodeCommitApprovers:<account>:<name>.
    """
    if member.startswith("CodeCommitApprovers:"):
        _, account, name = (member.split(":", 2) + ["", ""])[:3]
        arn_account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        return arn_account == account and fnmatchcase(arn.rsplit("/", 1)[-1], name)
    return fnmatchcase(arn, member)


def rule_satisfied(rule: dict, approvers: list[str]) -> bool:
    for statement in rule["Statements"]:
        pool = statement.get("ApprovalPoolMembers") or []
        counted = [a for a in approvers if not pool or any(approver_matches(m, a) for m in pool)]
        if len(counted) < statement["NumberOfApprovalsNeeded"]:
            return False
    return True


@dataclass
class ApprovalRuleTemplate:
    name: str
    content: str
    description: str
    last_modified_user: str
    template_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)

    @property
    def rule(self) -> dict:
        return json.loads(self.content)

    def applies_to(self, destination_ref: str) -> bool:
        destinations = self.rule.get("DestinationReferences")
        return not destinations or destination_ref in destinations

    def touch(self, caller: str) -> None:
        self.modified = now()
        self.last_modified_user = caller

    def to_dict(self) -> dict:
        return {"approvalRuleTemplateId": self.template_id, "approvalRuleTemplateName": self.name,
                "approvalRuleTemplateDescription": self.description,
                "approvalRuleTemplateContent": self.content,
                "ruleContentSha256": content_sha256(self.content), "lastModifiedDate": self.modified,
                "creationDate": self.created, "lastModifiedUser": self.last_modified_user}


class TemplateBook:
    """An account and region's approval rule templates and which repositories use them."""

    def __init__(self, backend):
        self.backend = backend
        self.templates: dict[str, ApprovalRuleTemplate] = {}

    def create(self, name: str, content: str, description: str | None, caller: str) -> ApprovalRuleTemplate:
        check_template_name(name)
        if description and len(description) > 1000:
            raise exc.InvalidApprovalRuleTemplateDescriptionException(
                "The description of an approval rule template can be at most 1,000 characters.")
        parse_rule_content(content, exc.InvalidApprovalRuleTemplateContentException, allow_destinations=True)
        if name in self.templates:
            raise exc.ApprovalRuleTemplateNameAlreadyExistsException(
                f"An approval rule template named {name} already exists in this AWS Region.")
        if len(self.templates) >= MAX_TEMPLATES:
            raise exc.NumberOfRuleTemplatesExceededException(
                f"An AWS Region can have at most {MAX_TEMPLATES} approval rule templates.")
        template = ApprovalRuleTemplate(name, content, description or "", caller)
        self.templates[name] = template
        return template

    def get(self, name: str) -> ApprovalRuleTemplate:
        check_template_name(name)
        template = self.templates.get(name)
        if template is None:
            raise exc.ApprovalRuleTemplateDoesNotExistException(
                f"The approval rule template {name} does not exist. Check its name with "
                "ListApprovalRuleTemplates.")
        return template

    def delete(self, name: str) -> str:
        check_template_name(name)
        template = self.templates.get(name)
        if template is None:
            return ""  # AWS answers an empty id for a template that does not exist
        in_use = [r.name for r in self.backend.repositories.values() if name in r.approval_templates]
        if in_use:
            raise exc.ApprovalRuleTemplateInUseException(
                f"The approval rule template {name} is associated with repositories "
                f"({', '.join(sorted(in_use))}); disassociate it first.")
        del self.templates[name]
        return template.template_id

    def update_content(self, name: str, content: str, expected_sha: str | None, caller: str) -> ApprovalRuleTemplate:
        template = self.get(name)
        if expected_sha and expected_sha != content_sha256(template.content):
            raise exc.InvalidRuleContentSha256Exception(
                "existingRuleContentSha256 does not match the template's current content; "
                "get the template again and retry.")
        parse_rule_content(content, exc.InvalidApprovalRuleTemplateContentException, allow_destinations=True)
        template.content = content
        template.touch(caller)
        return template

    def rename(self, old: str, new: str, caller: str) -> ApprovalRuleTemplate:
        template = self.get(old)
        check_template_name(new)
        if new != old and new in self.templates:
            raise exc.ApprovalRuleTemplateNameAlreadyExistsException(
                f"An approval rule template named {new} already exists in this AWS Region.")
        self.templates[new] = self.templates.pop(old)
        template.name = new
        for repo in self.backend.repositories.values():
            repo.approval_templates = [new if n == old else n for n in repo.approval_templates]
        template.touch(caller)
        return template

    def describe(self, name: str, description: str, caller: str) -> ApprovalRuleTemplate:
        template = self.get(name)
        if len(description) > 1000:
            raise exc.InvalidApprovalRuleTemplateDescriptionException(
                "The description of an approval rule template can be at most 1,000 characters.")
        template.description = description
        template.touch(caller)
        return template

    def associate(self, name: str, repo: Repository) -> None:
        self.get(name)
        if name in repo.approval_templates:
            return
        if len(repo.approval_templates) >= MAX_TEMPLATES_PER_REPOSITORY:
            raise exc.MaximumRuleTemplatesAssociatedWithRepositoryException(
                f"A repository can have at most {MAX_TEMPLATES_PER_REPOSITORY} approval rule templates.")
        repo.approval_templates.append(name)

    def disassociate(self, name: str, repo: Repository) -> None:
        self.get(name)
        if name in repo.approval_templates:
            repo.approval_templates.remove(name)

    def for_pull_request(self, repo: Repository, destination_ref: str) -> list[ApprovalRuleTemplate]:
        return [self.templates[n] for n in repo.approval_templates
                if n in self.templates and self.templates[n].applies_to(destination_ref)]


def check_template_name(name: str | None) -> None:
    if not name or not TEMPLATE_NAME.match(name):
        raise exc.InvalidApprovalRuleTemplateNameException(
            f"The approval rule template name {name!r} is not valid: use 1 to 100 characters.")
