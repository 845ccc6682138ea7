"""Service roles: an engine's action is allowed only if the policies of the role it runs as allow it.

Uses moto's IAM state (inline and attached managed policies, AWS managed policies included) and
moto's statement matcher (actions and resources with wildcards, the conditions it supports).
An explicit Deny wins over any Allow; no Allow at all is an implicit deny, as in AWS.
`LABKIT_ENFORCE_IAM=0` turns checking off for quick experiments.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

ENFORCE_ENV = "LABKIT_ENFORCE_IAM"
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def enforcing() -> bool:
    return os.environ.get(ENFORCE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class RoleNotFound(Exception):
    """The role an engine should act as does not exist (any more)."""

    def __init__(self, role_arn: str):
        super().__init__(f"The role {role_arn} does not exist.")
        self.role_arn = role_arn


@dataclass
class AccessDenied(Exception):
    """What AWS answers when the role's policies do not allow the action."""

    principal: str
    action: str
    resource: str
    explicit: bool = False

    def __post_init__(self):
        super().__init__(self.message)

    @property
    def message(self) -> str:
        why = ("with an explicit deny in an identity-based policy" if self.explicit
               else f"because no identity-based policy allows the {self.action} action")
        return (f"User: {self.principal} is not authorized to perform: {self.action} on "
                f"resource: {self.resource} {why}")


def role_name(role_arn: str) -> str:
    match = ROLE_ARN.match(role_arn or "")
    if not match:
        raise RoleNotFound(role_arn)
    return match.group(2)


def session_principal(account_id: str, role_arn: str, session: str) -> str:
    """The assumed-role ARN AWS names in its AccessDenied messages."""
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name(role_arn)}/{session}"


def find_role(account_id: str, role_arn: str):
    from moto.iam.models import iam_backends

    match = ROLE_ARN.match(role_arn or "")
    if not match:
        raise RoleNotFound(role_arn)
    try:
        return iam_backends[match.group(1)]["aws"].get_role(match.group(2))
    except Exception:
        raise RoleNotFound(role_arn) from None


def policy_documents(role) -> list[dict]:
    """The role's inline policies and the default versions of its attached managed policies."""
    documents = []
    for text in role.policies.values():
        documents.append(_load(text))
    for managed in role.managed_policies.values():
        default = next((v for v in managed.versions if v.is_default), None)
        documents.append(_load(default.document if default else managed.document))
    return documents


def _load(document) -> dict:
    if isinstance(document, dict):
        return document
    from urllib.parse import unquote

    try:
        return json.loads(document)
    except ValueError:
        return json.loads(unquote(document))


def decide(documents: list[dict], action: str, resource: str) -> str:
    """'allow', 'explicit-deny' or 'implicit-deny' for `action` on `resource`."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    for document in documents:
        result = IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return "explicit-deny"
        if result == PermissionResult.PERMITTED:
            allowed = True
    return "allow" if allowed else "implicit-deny"


def authorize(account_id: str, role_arn: str, action: str, resource: str,
              session: str = "labkit") -> None:
    """Raise AccessDenied unless `role_arn`'s policies allow `action` on `resource`."""
    if not enforcing():
        return
    role = find_role(account_id, role_arn)
    decision = decide(policy_documents(role), action, resource)
    if decision != "allow":
        raise AccessDenied(session_principal(account_id, role_arn, session), action, resource,
                           explicit=decision == "explicit-deny")


def trusts_service(trust_policy, service: str) -> bool:
    """Whether a role's trust policy lets `service` assume it (Principal.Service a string or a list)."""
    try:
        document = _load(trust_policy) if trust_policy else {}
    except ValueError:
        return False
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if service in services or principal == "*":
            return True
    return False
