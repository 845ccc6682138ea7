"""A build's environment variables: buildspec < project < StartBuild, Parameter Store and Secrets
Manager resolved from moto, and the CODEBUILD_* variables CodeBuild sets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild.aws_actions import ActionError


class VariableError(Exception):
    """A variable could not be resolved; (status_code, message) go into the phase context."""

    def __init__(self, status_code: str, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class ResolvedVariables:
    values: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # values to mask as *** in the log


def resolve(identity: aws_actions.Identity, variables: list[dict]) -> ResolvedVariables:
    """Resolve [{name, value, type}] (the API's EnvironmentVariable list) in order."""
    out = ResolvedVariables()
    for variable in variables:
        kind = variable.get("type") or "PLAINTEXT"
        name, value = variable["name"], variable.get("value", "")
        if kind == "PARAMETER_STORE":
            value = parameter_value(identity, value)
            out.secrets.append(value)
        elif kind == "SECRETS_MANAGER":
            value = secret_value(identity, value)
            out.secrets.append(value)
        out.values[name] = value
    return out


def buildspec_variables(spec) -> list[dict]:
    """A buildspec's env section as the API's variable list (same precedence order inside)."""
    return (
        [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in spec.variables.items()]
        + [
            {"name": k, "value": v, "type": "PARAMETER_STORE"}
            for k, v in spec.parameter_store.items()
        ]
        + [
            {"name": k, "value": v, "type": "SECRETS_MANAGER"}
            for k, v in spec.secrets_manager.items()
        ]
    )


def parameter_value(identity: aws_actions.Identity, name: str) -> str:
    try:
        return aws_actions.get_parameter(identity, name)
    except ActionError as exc:
        if exc.denied:
            raise VariableError("Decrypted Variables Error", f"{exc.code}: {exc.message}") from None
        raise VariableError(
            "Decrypted Variables Error", f"parameter does not exist: {name}"
        ) from None


def secret_value(identity: aws_actions.Identity, reference: str) -> str:
    """`secret-id:json-key:version-stage:version-id`; the secret id may itself be an ARN."""
    parts = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (3 - len(rest))
    json_key, stage, version_id = rest[0], rest[1], rest[2]
    try:
        text = aws_actions.get_secret_value(
            identity,
            secret_id,
            stage or (None if version_id else "AWSCURRENT"),
            version_id or None,
        )
    except ActionError as exc:
        raise VariableError("Secrets Manager Error", f"{exc.code}: {exc.message}") from None
    if not json_key:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise VariableError(
            "Secrets Manager Error",
            f"Secrets Manager secret {secret_id} is not JSON, so it has no key {json_key}",
        ) from None
    if not isinstance(document, dict) or json_key not in document:
        raise VariableError(
            "Secrets Manager Error",
            f"Secrets Manager secret {secret_id} has no JSON key {json_key}",
        )
    value = document[json_key]
    return value if isinstance(value, str) else json.dumps(value)


def mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
