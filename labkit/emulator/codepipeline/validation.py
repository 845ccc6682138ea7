"""Check a pipeline declaration as CodePipeline does and fill in AWS's defaults."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import unquote

from labkit.emulator.codepipeline import action_types
from labkit.emulator.codepipeline.exceptions import (
    InvalidActionDeclarationException,
    InvalidStageDeclarationException,
    InvalidStructureException,
    ValidationException,
)

NAME = re.compile(r"^[A-Za-z0-9.@\-_]+$")
SERVICE_PRINCIPAL = "codepipeline.amazonaws.com"


def normalise_and_validate(declaration: dict, account_id: str, region: str) -> dict:
    """The declaration as GetPipeline will return it, or the exception AWS would answer."""
    pipeline = copy.deepcopy(declaration)
    name = pipeline["name"]
    if not NAME.match(name) or len(name) > 100:
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'pipeline.name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+")
    pipeline.setdefault("pipelineType", "V1")
    pipeline.setdefault("executionMode", "SUPERSEDED")
    if pipeline["pipelineType"] == "V1":
        if pipeline["executionMode"] != "SUPERSEDED":
            raise ValidationException(
                f"Execution mode {pipeline['executionMode']} is supported only for pipelines of "
                "type V2. Set pipelineType to V2 or use SUPERSEDED.")
        for v2_only in ("variables", "triggers"):
            if pipeline.get(v2_only):
                raise ValidationException(
                    f"Pipeline {v2_only} are supported only for pipelines of type V2.")
    check_role(pipeline["roleArn"], account_id)
    check_artifact_store(pipeline, account_id)
    check_stages(pipeline)
    check_variables(pipeline)
    return pipeline


def check_role(role_arn: str, account_id: str) -> None:
    from moto.iam.models import iam_backends

    refusal = InvalidStructureException(
        f"CodePipeline is not authorized to perform AssumeRole on role {role_arn}")
    match = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$", role_arn)
    if not match:
        raise refusal
    try:
        role = iam_backends[match.group(1)]["aws"].get_role(match.group(2))
    except Exception:
        raise refusal from None
    if not trusts(role.assume_role_policy_document, SERVICE_PRINCIPAL):
        raise refusal


def trusts(policy_document, principal: str) -> bool:
    """Whether a role's trust policy lets `principal` (a service) assume it."""
    if isinstance(policy_document, str):
        try:
            policy_document = json.loads(unquote(policy_document))
        except ValueError:
            return False
    statements = policy_document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if (statement.get("Effect") == "Allow" and principal in services
                and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)):
            return True
    return False


def check_artifact_store(pipeline: dict, account_id: str) -> None:
    from moto.s3.models import s3_backends

    single, many = pipeline.get("artifactStore"), pipeline.get("artifactStores")
    if bool(single) == bool(many):
        raise InvalidStructureException(
            "A pipeline must have either an artifactStore or an artifactStores map, not both "
            "and not neither.")
    stores = [single] if single else list(many.values())
    buckets = s3_backends[account_id]["aws"].buckets
    for store in stores:
        if store.get("type") != "S3":
            raise InvalidStructureException("The artifact store type must be S3.")
        if store["location"] not in buckets:
            raise InvalidStructureException(
                f"The artifact store bucket '{store['location']}' does not exist. Create the S3 "
                "bucket first (with versioning) and use its name as the artifact store location.")


def check_stages(pipeline: dict) -> None:
    stages = pipeline["stages"]
    if len(stages) < 2:
        raise InvalidStructureException(
            f"Pipeline has only {len(stages)} stage(s). There should be a minimum of 2 stages "
            "in a pipeline")
    seen_stages: set[str] = set()
    produced: set[str] = set()
    namespaces: set[str] = set()
    for index, stage in enumerate(stages):
        if stage["name"] in seen_stages:
            raise InvalidStageDeclarationException(
                f"Stage name '{stage['name']}' is used more than once; stage names must be unique.")
        seen_stages.add(stage["name"])
        if not stage["actions"]:
            raise InvalidStageDeclarationException(
                f"Stage '{stage['name']}' has no actions; a stage needs at least one action.")
        seen_actions: set[str] = set()
        made_in_stage: dict[str, int] = {}
        for action in sorted(stage["actions"], key=lambda a: a.get("runOrder", 1)):
            action.setdefault("runOrder", 1)
            action.setdefault("configuration", {})
            action.setdefault("inputArtifacts", [])
            action.setdefault("outputArtifacts", [])
            where = f"action '{action['name']}' in stage '{stage['name']}'"
            if action["name"] in seen_actions:
                raise InvalidActionDeclarationException(
                    f"Action name '{action['name']}' is used more than once in stage "
                    f"'{stage['name']}'; action names must be unique within a stage.")
            seen_actions.add(action["name"])
            kind = check_action(action, where)
            is_source = kind.category == "Source"
            if index == 0 and not is_source:
                raise InvalidStructureException(
                    f"The first stage '{stage['name']}' may contain only source actions, but "
                    f"{where} is a {kind.category} action.")
            if index > 0 and is_source:
                raise InvalidStructureException(
                    f"Source actions may only be in the first stage, but {where} is a source "
                    "action.")
            for artifact in action["inputArtifacts"]:
                name = artifact["name"]
                earlier_in_stage = made_in_stage.get(name, action["runOrder"]) < action["runOrder"]
                if name not in produced and not earlier_in_stage:
                    raise InvalidStructureException(
                        f"Input artifact '{name}' of {where} is not the output of any earlier "
                        "action; name an artifact produced by an earlier stage or a lower runOrder.")
            for artifact in action["outputArtifacts"]:
                name = artifact["name"]
                if name in produced or name in made_in_stage:
                    raise InvalidStructureException(
                        f"Output artifact '{name}' is declared more than once; output artifact "
                        "names must be unique in a pipeline.")
                made_in_stage[name] = action["runOrder"]
            if action.get("namespace"):
                if action["namespace"] in namespaces:
                    raise InvalidActionDeclarationException(
                        f"Namespace '{action['namespace']}' of {where} is already used by another "
                        "action.")
                namespaces.add(action["namespace"])
        produced.update(made_in_stage)


def check_action(action: dict, where: str) -> action_types.ActionType:
    type_id = action["actionTypeId"]
    kind = action_types.find(type_id)
    if kind is None:
        raise InvalidActionDeclarationException(
            f"ActionType (Category: '{type_id['category']}', Provider: '{type_id['provider']}', "
            f"Owner: '{type_id['owner']}', Version: '{type_id['version']}') in {where} is not "
            "available")
    config = action["configuration"]
    for key in kind.required:
        if key not in config:
            raise InvalidActionDeclarationException(
                f"Action configuration for {where} is missing required configuration '{key}'")
    for key in config:
        if key not in kind.required and key not in kind.optional:
            raise InvalidActionDeclarationException(
                f"Action configuration for {where} contains unknown configuration '{key}'")
    for label, artifacts, (low, high) in (("input", action["inputArtifacts"], kind.inputs),
                                          ("output", action["outputArtifacts"], kind.outputs)):
        if len(artifacts) < low:
            raise InvalidActionDeclarationException(
                f"Action '{action['name']}' declares {len(artifacts)} {label} artifacts which is "
                f"less than the minimum count ({low})")
        if len(artifacts) > high:
            raise InvalidActionDeclarationException(
                f"Action '{action['name']}' declares {len(artifacts)} {label} artifacts which is "
                f"greater than the maximum count ({high})")
    if kind.provider == "S3" and kind.category == "Deploy":
        if str(config.get("Extract")).lower() == "false" and not config.get("ObjectKey"):
            raise InvalidActionDeclarationException(
                f"Action configuration for {where} needs 'ObjectKey' when 'Extract' is false")
    return kind


def check_variables(pipeline: dict) -> None:
    names = [v["name"] for v in pipeline.get("variables", [])]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValidationException(f"Pipeline variable names must be unique: {sorted(duplicates)}")
