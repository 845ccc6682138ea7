"""How stacks are created, updated and deleted: resource by resource in dependency order, with
CloudFormation's events, rollback of a failed create, and deletions that fail as AWS's do.

moto parses templates and holds stacks; these functions replace the few methods of moto's Stack
and backend that create, update or delete resources (moto makes everything at once, records only
stack events, and reports success when a resource could not be made or deleted)."""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.ec2.models.core import TaggedEC2Resource

from labkit.emulator.cloudformation.providers import HandlerFailed

log = logging.getLogger("labkit.emulator.cloudformation")
PSEUDO = re.compile(r"^AWS::")
SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")


# --- template checks (before a stack exists, as CreateStack's ValidationError) ---------------
def check_template(template: dict | None, region: str) -> None:
    if template is None:
        return
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise ValidationError(message="Template format error: At least one Resources member "
                                      "must be defined.")
    known = aws_resource_types(region)
    unknown = sorted({r.get("Type") for r in resources.values() if isinstance(r, dict)
                      and known and not _known_type(r.get("Type", ""), known)})
    if unknown:
        raise ValidationError(message="Template format error: Unrecognized resource types: "
                                      f"[{', '.join(unknown)}]")
    _check_attributes(resources)
    cycle = find_cycle(resources)
    if cycle:
        raise ValidationError(message=f"Circular dependency between resources: [{', '.join(cycle)}]")


def _check_attributes(resources: dict) -> None:
    """Fn::GetAtt of an attribute a labkit type does not have: refused before anything is made."""
    from labkit.emulator.cloudformation.providers import LabkitResource

    types = {cls.TYPE: cls for cls in parsing.get_model_list()
             if issubclass(cls, LabkitResource)}
    wanted: list[tuple[str, str]] = []
    _get_atts(resources, wanted)
    for target, attribute in wanted:
        body = resources.get(target)
        cls = types.get(body.get("Type")) if isinstance(body, dict) else None
        if cls is not None and not cls.has_cfn_attr(attribute):
            raise ValidationError(message=f"Template error: resource {target} does not support "
                                          f"attribute type {attribute} in Fn::GetAtt")


def _get_atts(node, found: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                parts = value.split(".", 1) if isinstance(value, str) else value
                if len(parts) == 2 and all(isinstance(p, str) for p in parts):
                    found.append((parts[0], parts[1]))
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.extend(tuple(n.split(".", 1)) for n in SUB_NAME.findall(text) if "." in n)
            else:
                _get_atts(value, found)
    elif isinstance(node, list):
        for item in node:
            _get_atts(item, found)


def _known_type(resource_type: str, known: frozenset[str]) -> bool:
    return resource_type in known or resource_type.startswith(("Custom::", "AWS::CloudFormation::"))


@lru_cache(maxsize=8)
def aws_resource_types(region: str) -> frozenset[str]:
    """Every type CloudFormation knows in a region, from the schemas cfn-lint ships (empty: unknown)."""
    try:
        import cfnlint
    except ImportError:
        return frozenset()
    folder = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    for name in (f"{region}.json", "us-east-1.json"):
        if (folder / name).exists():
            return frozenset(json.loads((folder / name).read_text()))
    return frozenset()


def dependencies(resources: dict) -> dict[str, set[str]]:
    """Which resources each one needs first: Ref, Fn::GetAtt, Fn::Sub names and DependsOn."""
    graph = {}
    for logical_id, body in resources.items():
        body = body if isinstance(body, dict) else {}
        found: set[str] = set()
        _references(body.get("Properties"), found)
        depends = body.get("DependsOn") or []
        found.update([depends] if isinstance(depends, str) else depends)
        graph[logical_id] = {name for name in found if name in resources and name != logical_id}
        if logical_id in found and logical_id in resources:
            graph[logical_id].add(logical_id)  # a resource that refers to itself is a cycle too
    return graph


def _references(node, found: set[str]) -> None:
    """The parameters and resources a template value names (conditions of Fn::If left out)."""
    names: dict[str, str] = {}
    _names_in(node, names)
    found.update(name for name, how in names.items() if how != "If")


def find_cycle(resources: dict) -> list[str]:
    """The resources caught in a dependency cycle (sorted), or [] when there is none."""
    graph = dependencies(resources)
    remaining = {k: set(v) for k, v in graph.items()}
    changed = True
    while changed:  # peel off resources nothing cyclic depends on, both ways
        changed = False
        for name in [n for n, deps in remaining.items() if not deps]:
            del remaining[name]
            for deps in remaining.values():
                deps.discard(name)
            changed = True
    return sorted(remaining)


def creation_order(resources: dict) -> list[str]:
    graph = dependencies(resources)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(graph):
        for name in graph:  # template order among resources that are ready
            if name not in placed and graph[name] <= placed:
                order.append(name)
                placed.add(name)
                break
        else:
            raise ValidationError(message="Circular dependency between resources: "
                                          f"[{', '.join(find_cycle(resources))}]")
    return order


# --- events -------------------------------------------------------------------------------
def resource_event(stack, logical_id: str, resource_type: str, status: str,
                   physical_id: str | None = None, reason: str | None = None,
                   properties: dict | None = None) -> None:
    event = cfn_models.Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id or "", resource_type=resource_type,
        resource_status=status, resource_status_reason=reason,
        resource_properties=json.dumps(properties) if properties is not None else None)
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)
    # Each resource's own latest status, for DescribeStackResources (moto shows the stack's).
    if not hasattr(stack, "resource_states"):
        stack.resource_states = {}
    stack.resource_states[logical_id] = (status, reason, event.timestamp)


def stack_event(stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if message.startswith(("Resource handler", "Properties validation", "CloudFormation",
                           "The bucket", "labkit")):
        return message
    # The handler's error code, as CloudFormation names it, from the service's error.
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None) or type(exc).__name__
    handler_code = "AlreadyExists" if "AlreadyExists" in str(code) else "InvalidRequest"
    return f'Resource handler returned message: "{message}" (HandlerErrorCode: {handler_code})'


def _physical(resource) -> str | None:
    return getattr(resource, "physical_resource_id", None)


def _wanted(resource_map, body: dict) -> bool:
    condition = body.get("Condition")
    return not condition or bool(resource_map.lazy_condition_map[condition])


# --- create --------------------------------------------------------------------------------
def create_resources(stack) -> None:
    """Stack.create_resources: each resource in order; the first failure rolls back the rest."""
    stack.status = "CREATE_IN_PROGRESS"
    resource_map = stack.resource_map
    resources = stack.template_dict.get("Resources", {})
    resource_map._template = stack.template_dict
    resource_map._resource_json_map = resources
    resource_map.tags.update({"aws:cloudformation:stack-name": stack.name,
                              "aws:cloudformation:stack-id": stack.stack_id})
    stack.description = stack.template_dict.get("Description")
    created: list[str] = []
    for logical_id in creation_order(resources):
        body = resources[logical_id]
        if not _wanted(resource_map, body):
            continue
        failure = _create_one(stack, logical_id, body)
        if failure:
            _roll_back(stack, created, logical_id, failure)
            return
        created.append(logical_id)
    settle(stack)  # resources whose condition is false are not part of the stack
    stack_event(stack, "CREATE_COMPLETE")


def _create_one(stack, logical_id: str, body: dict) -> str | None:
    resource_map = stack.resource_map
    resource_type = body.get("Type", "")
    resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        resource = resource_map[logical_id]
        if resource is None:
            raise NotEmulated(resource_type)
    except Exception as exc:  # any failure of one resource is that resource's CREATE_FAILED
        resource_map._parsed_resources.pop(logical_id, None)
        reason = _reason(exc)
        log.info("stack %s: %s CREATE_FAILED: %s", stack.name, logical_id, reason)
        resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason=reason)
        return reason
    if isinstance(resource, TaggedEC2Resource):  # as moto does: stack tags on EC2 resources
        tags = dict(resource_map.tags, **{"aws:cloudformation:logical-id": logical_id})
        from moto.ec2.models import ec2_backends
        ec2_backends[stack.account_id][stack.region_name].create_tags(
            [resource.physical_resource_id], tags)
    resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", _physical(resource))
    return None


class NotEmulated(Exception):
    def __init__(self, resource_type: str):
        super().__init__(f"labkit's emulator cannot create {resource_type} resources (moto's "
                         f"CloudFormation does not know the type and labkit does not provide "
                         f"it); see docs/emulator.md, CloudFormation.")


def _roll_back(stack, created: list[str], failed: str, reason: str) -> None:
    stack_event(stack, "ROLLBACK_IN_PROGRESS",
                f"The following resource(s) failed to create: [{failed}]. "
                "Rollback requested by user.")
    resources = stack.template_dict["Resources"]
    resource_event(stack, failed, resources[failed].get("Type", ""), "DELETE_COMPLETE")
    left = _delete_in_reverse(stack, created, resources)
    settle(stack, outputs=False)
    stack_event(stack, "ROLLBACK_FAILED" if left else "ROLLBACK_COMPLETE",
                _failed_to_delete(left) if left else None)


def settle(stack, outputs: bool = True) -> None:
    """moto's resource map creates any resource it is asked for and has not made: after a
    rollback, a deletion or a failed update, let it know only the resources that exist, so
    describing the stack never makes them again."""
    resource_map = stack.resource_map
    resource_map._resource_json_map = {
        k: v for k, v in (resource_map._resource_json_map or {}).items()
        if k in resource_map._parsed_resources}
    if not outputs:
        stack.output_map = parsing.OutputMap(resource_map, {}, stack.stack_id)


# --- delete --------------------------------------------------------------------------------
def _delete_in_reverse(stack, logical_ids: list[str], resources: dict) -> list[str]:
    """Delete in reverse creation order; keep what a resource that failed to go depends on."""
    graph = dependencies(resources)
    failed: list[str] = []
    kept: set[str] = set()
    for logical_id in reversed(logical_ids):
        body = resources.get(logical_id, {})
        resource = stack.resource_map._parsed_resources.get(logical_id)
        if resource is None or isinstance(resource, (str, int, float, list, dict)):
            continue
        if logical_id in kept:
            continue
        resource_type = body.get("Type", "")
        if body.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate") and \
                stack.status.startswith("DELETE"):
            resource_event(stack, logical_id, resource_type, "DELETE_SKIPPED", _physical(resource))
            stack.resource_map._parsed_resources.pop(logical_id, None)
            continue
        resource_event(stack, logical_id, resource_type, "DELETE_IN_PROGRESS", _physical(resource))
        try:
            delete_resource(stack, resource, body)
        except Exception as exc:
            reason = _reason(exc)
            log.info("stack %s: %s DELETE_FAILED: %s", stack.name, logical_id, reason)
            resource_event(stack, logical_id, resource_type, "DELETE_FAILED", _physical(resource),
                           reason)
            failed.append(logical_id)
            kept |= _needed_by(logical_id, graph)
            continue
        stack.resource_map._parsed_resources.pop(logical_id, None)
        resource_event(stack, logical_id, resource_type, "DELETE_COMPLETE", _physical(resource))
    return failed


def _needed_by(logical_id: str, graph: dict[str, set[str]]) -> set[str]:
    """Everything a resource depends on, directly or not."""
    needed, todo = set(), list(graph.get(logical_id, ()))
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(graph.get(name, ()))
    return needed


def delete_resource(stack, resource, body: dict) -> None:
    if body.get("Type") == "AWS::S3::Bucket":
        _refuse_non_empty_bucket(stack, _physical(resource))
    if hasattr(resource, "replaces") and hasattr(resource, "logical_id"):
        try:
            resource.delete()  # labkit's providers delete themselves
        except HandlerFailed as failed:
            # Already gone (deleted by hand): CloudFormation counts that as deleted.
            if failed.handler_code != "NotFound":
                raise
        return
    stack.resource_map._delete_resource(resource, body)


def _refuse_non_empty_bucket(stack, name: str | None) -> None:
    """moto keeps a non-empty bucket and says nothing; S3 refuses with 409 BucketNotEmpty."""
    from moto.s3.models import s3_backends

    bucket = s3_backends[stack.account_id]["aws"].buckets.get(name or "")
    if bucket is not None and len(bucket.keys) > 0:
        raise BucketNotEmpty()


class BucketNotEmpty(Exception):
    def __init__(self):
        super().__init__('Resource handler returned message: "The bucket you tried to delete is '
                         'not empty. You must delete all versions in the bucket. (Service: S3, '
                         'Status Code: 409, Request ID: labkit)" (HandlerErrorCode: '
                         'GeneralServiceException)')


def _failed_to_delete(names: list[str]) -> str:
    return f"The following resource(s) failed to delete: [{', '.join(sorted(names))}]. "


def delete_stack_resources(stack) -> bool:
    """Stack.delete: every resource in reverse order; False (DELETE_FAILED) when one stays."""
    stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
    resources = stack.resource_map._resource_json_map or {}
    try:
        order = creation_order(resources)
    except ValidationError:
        order = list(resources)
    left = _delete_in_reverse(stack, order, resources)
    settle(stack, outputs=False)
    if left:
        stack_event(stack, "DELETE_FAILED", _failed_to_delete(left))
        return False
    stack_event(stack, "DELETE_COMPLETE")
    return True


# --- update -------------------------------------------------------------------------------
def update_stack_resources(stack, template: str, role_arn=None, parameters=None, tags=None) -> None:
    """Stack.update: add, modify (in place or by replacement), then clean up what went away;
    the first failure rolls every change back, as CloudFormation does by default."""
    stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
    resource_map = stack.resource_map
    before = {"template": stack.template, "resources": dict(resource_map._resource_json_map or {}),
              "parameters": dict(resource_map.input_parameters or {})}
    old_resources, old_parameters = before["resources"], before["parameters"]
    changed_parameters = {k for k in set(old_parameters) | set(parameters or {})
                          if (parameters or {}).get(k) != old_parameters.get(k)} if parameters \
        is not None else set()
    _load_template(stack, template, parameters)
    new_resources = stack.template_dict["Resources"]
    created: list[str] = []
    updated: list[str] = []  # in place or by replacement, in the order they changed
    replaced: list = []
    for logical_id in creation_order(new_resources):
        body = new_resources[logical_id]
        if not _wanted(resource_map, body):
            continue
        if logical_id not in resource_map._parsed_resources:
            failure, verb = _create_one(stack, logical_id, body), "create"
            changed = created
        elif body != old_resources.get(logical_id) or _mentions(body, changed_parameters):
            moved = changed_parameters | {lid for lid, _ in replaced}
            failure, verb = _update_one(stack, logical_id, body, replaced,
                                        _replaced_by_change(stack, old_resources[logical_id],
                                                            body, moved)), "update"
            changed = updated
        else:
            continue
        if failure:
            if verb == "update":
                updated.append(logical_id)  # a failed update may have changed part of it
            _roll_back_update(stack, before, created, updated, replaced,
                              f"The following resource(s) failed to {verb}: [{logical_id}]. ")
            return
        changed.append(logical_id)
    stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    gone = [k for k in old_resources if k not in new_resources or
            not _wanted(resource_map, new_resources[k])]
    _delete_in_reverse(stack, [k for k in creation_order(old_resources) if k in gone],
                       old_resources)
    _delete_replaced(stack, [(lid, old, old_resources[lid]) for lid, old in replaced])
    settle(stack)
    stack.output_map = stack._create_output_map()
    stack.role_arn = role_arn
    if parameters:
        stack.parameters = parameters
    if tags is not None:
        stack.tags = tags
    stack_event(stack, "UPDATE_COMPLETE")


def _load_template(stack, template: str, parameters: dict | None) -> None:
    """Point moto's stack and resource map at `template` (and `parameters` when given)."""
    resource_map = stack.resource_map
    stack.template = template
    stack._parse_template()
    resource_map._template = stack.template_dict
    if parameters is not None:
        resource_map.input_parameters = parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = stack.template_dict["Resources"]


def _delete_replaced(stack, replaced: list[tuple[str, object, dict]]) -> list[str]:
    """Delete resources an update replaced (dependents first, as at deletion)."""
    failed = []
    for logical_id, resource, body in reversed(replaced):
        resource_type = body.get("Type", "")
        resource_event(stack, logical_id, resource_type, "DELETE_IN_PROGRESS", _physical(resource))
        try:
            delete_resource(stack, resource, body)
            resource_event(stack, logical_id, resource_type, "DELETE_COMPLETE", _physical(resource))
        except Exception as exc:
            resource_event(stack, logical_id, resource_type, "DELETE_FAILED", _physical(resource),
                           _reason(exc))
            failed.append(logical_id)
    return failed


def _roll_back_update(stack, before: dict, created: list[str], updated: list[str],
                      replaced: list, reason: str) -> None:
    """Return the stack to its last good template: updated resources get their old settings
    back (a replaced one is pointed back at the original), then what the update created or
    made as replacements is deleted. The stack ends UPDATE_ROLLBACK_COMPLETE."""
    stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    resource_map = stack.resource_map
    new_resources = dict(resource_map._resource_json_map or {})
    originals = dict(replaced)
    _load_template(stack, before["template"], before["parameters"])
    old_resources = before["resources"]
    replacements, stuck = [], []
    for logical_id in reversed(updated):
        body = old_resources[logical_id]
        resource_type = body.get("Type", "")
        if logical_id in originals:  # the original still exists: point back at it
            replacements.append((logical_id, resource_map._parsed_resources[logical_id],
                                 new_resources[logical_id]))
            resource_map._parsed_resources[logical_id] = originals[logical_id]
            resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE",
                           _physical(originals[logical_id]))
            continue
        current = resource_map._parsed_resources.get(logical_id)
        resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS", _physical(current))
        try:
            restored = parsing.parse_and_update_resource(
                logical_id, body, resource_map, account_id=stack.account_id,
                region_name=stack.region_name)
        except Exception as exc:
            resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", _physical(current),
                           _reason(exc))
            stuck.append(logical_id)
            continue
        if restored is not None:
            resource_map._parsed_resources[logical_id] = restored
        resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE",
                       _physical(restored or current))
    if stuck:
        settle(stack, outputs=False)
        stack_event(stack, "UPDATE_ROLLBACK_FAILED",
                    f"The following resource(s) failed to update: [{', '.join(stuck)}]. ")
        return
    stack.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    # The created resources are not in the old template: delete them by their new bodies.
    left = _delete_in_reverse(stack, created, new_resources)
    left += _delete_replaced(stack, replacements)
    settle(stack)
    stack.output_map = stack._create_output_map()
    stack_event(stack, "UPDATE_ROLLBACK_FAILED" if left else "UPDATE_ROLLBACK_COMPLETE",
                _failed_to_delete(left) if left else None)


def _mentions(body, names: set[str]) -> bool:
    if not names:
        return False
    found: set[str] = set()
    _references(body, found)
    return bool(found & names)


def _replaced_by_change(stack, old_body: dict, body: dict, moved: set[str]) -> bool:
    """True when a create-only property (cfn-lint's schema) changes: written differently, or
    naming a parameter whose value changed or a resource being replaced."""
    create_only = create_only_properties(body.get("Type", ""), stack.region_name)
    old_props, new_props = old_body.get("Properties") or {}, body.get("Properties") or {}
    return any(old_props.get(prop) != new_props.get(prop) or _mentions(new_props.get(prop), moved)
               for prop in create_only & (set(old_props) | set(new_props)))


def _moto_cannot_update(resource) -> bool:
    update = getattr(type(resource), "update_from_cloudformation_json", None)
    return update is None or hasattr(update, "__isabstractmethod__")


def _update_one(stack, logical_id: str, body: dict, replaced: list,
                needs_replacement: bool = False) -> str | None:
    resource_type = body.get("Type", "")
    resource_map = stack.resource_map
    old = resource_map._parsed_resources[logical_id]
    resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS", _physical(old))
    try:
        if needs_replacement and _moto_cannot_update(old):
            # moto would leave the resource as it was: make the replacement (the old one is
            # deleted in the cleanup phase, or kept if the update rolls back).
            resource_map._parsed_resources.pop(logical_id)
            try:
                new = resource_map[logical_id]
            except BaseException:
                resource_map._parsed_resources[logical_id] = old
                raise
            if _physical(new) != _physical(old):  # same name: moto changed it where it was
                replaced.append((logical_id, old))
            resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", _physical(new))
            return None
        new = parsing.parse_and_update_resource(logical_id, body, resource_map,
                                                account_id=stack.account_id,
                                                region_name=stack.region_name)
    except Exception as exc:
        reason = _reason(exc)
        resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", _physical(old), reason)
        return reason
    if new is None:  # moto has no update for the type: it stays as it was
        resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", _physical(old))
        return None
    resource_map._parsed_resources[logical_id] = new
    if getattr(new, "replaces", None) is old:
        replaced.append((logical_id, old))
        new.replaces = None
    resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", _physical(new))
    return None


# --- change sets ----------------------------------------------------------------------------
def execute_change_set(backend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = backend.change_sets.get(change_set_name) or next(
        (c for c in backend.change_sets.values() if c.change_set_name == change_set_name
         and (stack_name is None or stack_name in (c.stack_name, c.stack_id))), None)
    if change_set is None:
        raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(message=f"ChangeSet [{change_set.change_set_id}] cannot be executed "
                                      f"in its current execution status of "
                                      f"[{change_set.execution_status}]")
    stack = backend.stacks[change_set.stack_id]
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    if change_set.change_set_type == "CREATE":
        stack.template = change_set.template
        stack.parameters = change_set.parameters
        stack._parse_template()
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
        stack.create_resources()
    else:
        parameters = dict(stack.parameters or {})
        parameters.update(change_set.parameters or {})
        stack.update(change_set.template, change_set.role_arn, parameters=parameters,
                     tags=change_set.tags or None)
    change_set.execution_status = "EXECUTE_COMPLETE"
    # As on AWS: the stack's other change sets no longer apply to it and are deleted.
    for change_set_id, other in list(backend.change_sets.items()):
        if other is not change_set and other.stack_id == change_set.stack_id:
            del backend.change_sets[change_set_id]


# --- change sets: what an update would do, before it is executed ---------------------------
class ResourceChange:
    """One `Changes[].ResourceChange` of DescribeChangeSet (moto's Change knows only Action,
    LogicalResourceId and ResourceType, and misses changes made through parameters)."""

    def __init__(self, action: str, logical_id: str, resource_type: str,
                 physical_id: str | None = None, replacement: str | None = None,
                 details: list[dict] | None = None, policy_action: str | None = None):
        self.action = action
        self.logical_resource_id = logical_id
        self.resource_type = resource_type
        self.physical_resource_id = physical_id
        self.replacement = replacement
        self.details = details or []
        self.scope = sorted({d["Target"]["Attribute"] for d in self.details})
        self.policy_action = policy_action


@lru_cache(maxsize=64)
def create_only_properties(resource_type: str, region: str) -> frozenset[str]:
    """Top-level properties whose change makes CloudFormation replace the resource, from the
    resource schemas cfn-lint ships (labkit's own REPLACE_ON when the schema is not there)."""
    names: set[str] = set()
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
        names = {p.split("/")[2] for p in schema.get("createOnlyProperties", [])
                 if p.startswith("/properties/")}
    except Exception:  # no cfn-lint, or a type it does not know
        from labkit.emulator.cloudformation.providers import LabkitResource

        for cls in parsing.get_model_list():
            if issubclass(cls, LabkitResource) and cls.TYPE == resource_type:
                names = set(cls.REPLACE_ON)
    return frozenset(names)


def _names_in(node, found: dict[str, str]) -> None:
    """Parameters, resources and conditions a property value mentions: name -> how
    ('Ref', 'GetAtt' with the attribute as 'Name.Attr', or 'If')."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.setdefault(value, "Ref")
            elif key == "Fn::GetAtt":
                parts = value.split(".", 1) if isinstance(value, str) else value
                if parts and isinstance(parts[0], str):
                    found.setdefault(parts[0], "GetAtt:" + ".".join(map(str, parts)))
            elif key == "Fn::Sub":
                text, names = (value, {}) if isinstance(value, str) else (value[0], value[1])
                for name in SUB_NAME.findall(text):
                    if name in names:
                        continue
                    if "." in name:
                        found.setdefault(name.split(".")[0], "GetAtt:" + name)
                    else:
                        found.setdefault(name, "Ref")
                _names_in(names, found)
            elif key == "Fn::If" and isinstance(value, list) and value:
                found.setdefault(str(value[0]), "If")
                _names_in(value[1:], found)
            else:
                _names_in(value, found)
    elif isinstance(node, list):
        for item in node:
            _names_in(item, found)


def _detail(name: str, recreation: str, evaluation: str, source: str,
            causing: str | None = None) -> dict:
    detail = {"Target": {"Attribute": "Properties", "Name": name,
                         "RequiresRecreation": recreation},
              "Evaluation": evaluation, "ChangeSource": source}
    if causing:
        detail["CausingEntity"] = causing
    return detail


def _proposed_map(change_set):
    """The change set's template with its parameters, loaded far enough to evaluate conditions."""
    stack = change_set.stack
    parameters = dict(stack.parameters or {}) if change_set.change_set_type == "UPDATE" else {}
    parameters.update(change_set.parameters or {})
    proposed = parsing.ResourceMap(stack.stack_id, stack.name, parameters, {},
                                   region_name=stack.region_name, account_id=stack.account_id,
                                   template=change_set.template_dict, cross_stack_resources={})
    proposed.load_mapping()
    proposed.load_parameters()
    proposed.load_conditions()
    return proposed


def _conditions(resource_map) -> dict[str, bool]:
    conditions = getattr(resource_map, "lazy_condition_map", None) or {}
    return {name: bool(conditions[name]) for name in conditions}


def change_set_changes(change_set) -> list[ResourceChange]:
    """ChangeSet.diff: Add / Modify / Remove per resource, with Replacement (True, False or
    Conditional) and the Details that explain it, as CloudFormation computes them: a property
    whose text changed or that mentions a changed parameter or condition is a static change; a
    property that refers to a resource being replaced is a dynamic one. A create-only property
    (from the type's schema) requires recreation."""
    stack = change_set.stack
    proposed = _proposed_map(change_set)
    new_resources = (change_set.template_dict or {}).get("Resources") or {}
    current = stack.resource_map if change_set.change_set_type == "UPDATE" else None
    old_resources = dict(current._resource_json_map or {}) if current is not None else {}
    changed: set[str] = set()
    if current is not None:
        old_values = dict(current.resolved_parameters or {})
        new_values = dict(proposed.resolved_parameters or {})
        changed = {k for k in set(old_values) | set(new_values)
                   if old_values.get(k) != new_values.get(k)}
        old_conditions, new_conditions = _conditions(current), _conditions(proposed)
        changed |= {k for k in set(old_conditions) | set(new_conditions)
                    if old_conditions.get(k) != new_conditions.get(k)}

    def physical(logical_id: str) -> str | None:
        resource = current._parsed_resources.get(logical_id) if current is not None else None
        return _physical(resource) if resource is not None else None

    changes: dict[str, ResourceChange] = {}
    wanted = [k for k, body in new_resources.items()
              if isinstance(body, dict) and _wanted(proposed, body)]
    for logical_id in wanted:
        body = new_resources[logical_id]
        resource_type = body.get("Type", "")
        if logical_id not in old_resources:
            changes[logical_id] = ResourceChange("Add", logical_id, resource_type)
            continue
        old_props = old_resources[logical_id].get("Properties") or {}
        new_props = body.get("Properties") or {}
        create_only = create_only_properties(resource_type, stack.region_name)
        details = []
        for prop in sorted(set(old_props) | set(new_props)):
            recreation = "Always" if prop in create_only else "Never"
            if old_props.get(prop) != new_props.get(prop):
                details.append(_detail(prop, recreation, "Static", "DirectModification"))
                continue
            mentioned: dict[str, str] = {}
            _names_in(new_props.get(prop), mentioned)
            for name in sorted(set(mentioned) & changed):
                source = "ParameterReference" if name in proposed.resolved_parameters else \
                    "DirectModification"
                details.append(_detail(prop, recreation, "Static", source, name))
        if details:
            replaced = any(d["Target"]["RequiresRecreation"] == "Always" for d in details)
            changes[logical_id] = ResourceChange(
                "Modify", logical_id, resource_type, physical(logical_id),
                "True" if replaced else "False", details,
                _replace_policy(body) if replaced else None)

    # Resources that refer to one being replaced get a new name or ARN: a dynamic change.
    replaced_ids = {k for k, c in changes.items() if c.replacement == "True"}
    for logical_id in wanted:
        if logical_id not in old_resources:
            continue
        body = new_resources[logical_id]
        create_only = create_only_properties(body.get("Type", ""), stack.region_name)
        dynamic = []
        for prop, value in sorted((body.get("Properties") or {}).items()):
            mentioned: dict[str, str] = {}
            _names_in(value, mentioned)
            for name in sorted(set(mentioned) & replaced_ids - {logical_id}):
                how = mentioned[name]
                dynamic.append(_detail(
                    prop, "Always" if prop in create_only else "Never", "Dynamic",
                    "ResourceReference" if how == "Ref" else "ResourceAttribute",
                    name if how == "Ref" else how.split(":", 1)[1]))
        if not dynamic:
            continue
        change = changes.get(logical_id) or ResourceChange(
            "Modify", logical_id, body.get("Type", ""), physical(logical_id), "False")
        change.details += dynamic
        change.scope = sorted({d["Target"]["Attribute"] for d in change.details})
        if change.replacement == "False" and any(
                d["Target"]["RequiresRecreation"] == "Always" for d in dynamic):
            change.replacement = "Conditional"
        changes[logical_id] = change

    ordered = [changes[k] for k in new_resources if k in changes]
    for logical_id, body in old_resources.items():
        if logical_id not in wanted:
            ordered.append(ResourceChange(
                "Remove", logical_id, body.get("Type", ""), physical(logical_id),
                policy_action="Retain" if body.get("DeletionPolicy") in
                ("Retain", "RetainExceptOnCreate") else "Delete"))
    return ordered


def _replace_policy(body: dict) -> str:
    policy = body.get("UpdateReplacePolicy", "Delete")
    return {"Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}.get(
        policy, "ReplaceAndDelete")
