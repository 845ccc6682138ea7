"""CloudFormation in the emulator: moto's stacks, with labkit's resource types and stack engine."""

from __future__ import annotations

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing

from labkit.emulator.cloudformation import providers, stacks

_installed = False


def install(runtime) -> None:
    """Register labkit's resource types with moto's parser and route stack operations through
    labkit's engine. Idempotent; the providers call the runtime's services in process."""
    global _installed
    providers.bind(runtime)
    if _installed:
        return
    from labkit.emulator.cloudformation import moto_extras  # noqa: F401  (defines the classes)

    # moto lists types once through CloudFormationModel.__subclasses__(); forget that list.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _patch_moto()
    _installed = True


def _parsed(template) -> dict | None:
    """A template body as moto reads it (YAML or JSON); None when there is none to check."""
    if isinstance(template, dict):
        return template
    if not template:
        return None
    try:
        parsed = cfn_models.Stack.parse_template(template)
    except ValueError:
        return None  # moto answers its own error for a body it cannot read
    return parsed if isinstance(parsed, dict) else None


def _patch_moto() -> None:
    Stack, Backend = cfn_models.Stack, cfn_models.CloudFormationBackend
    original_create_stack = Backend.create_stack
    original_update_stack = Backend.update_stack
    original_create_change_set = Backend.create_change_set

    def create_stack(self, name, template, parameters, *args, **kwargs):
        stacks.check_template(_parsed(template), self.region_name)
        return original_create_stack(self, name, template, parameters, *args, **kwargs)

    def update_stack(self, name, template, *args, **kwargs):
        stacks.check_template(_parsed(template), self.region_name)
        return original_update_stack(self, name, template, *args, **kwargs)

    def create_change_set(self, stack_name, change_set_name, template, *args, **kwargs):
        stacks.check_template(_parsed(template), self.region_name)
        return original_create_change_set(self, stack_name, change_set_name, template,
                                          *args, **kwargs)

    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return  # as AWS: deleting a stack that does not exist succeeds
        export_names = [export.name for export in stack.exports]  # before resources go
        if not stacks.delete_stack_resources(stack):
            return  # DELETE_FAILED: the stack stays, listing what is left
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for name in export_names:
            self.exports.pop(name, None)

    Backend.create_stack = create_stack
    Backend.update_stack = update_stack
    Backend.create_change_set = create_change_set
    Backend.delete_stack = delete_stack
    Backend.execute_change_set = lambda self, change_set_name, stack_name=None: \
        stacks.execute_change_set(self, change_set_name, stack_name)
    _patch_resource_listings()
    Stack.create_resources = stacks.create_resources
    Stack.update = stacks.update_stack_resources
    Stack.delete = stacks.delete_stack_resources


def _patch_resource_listings() -> None:
    """Describe/ListStackResources: each resource's own status, reason and time (moto answers
    the stack's status and a fixed 2010 timestamp for every resource)."""
    from moto.cloudformation import responses
    from moto.core.responses import ActionResult

    original_init = responses.StackResourceDTO.__init__

    def dto_init(self, stack, resource):
        original_init(self, stack, resource)
        state = getattr(stack, "resource_states", {}).get(self.logical_resource_id)
        if state:
            self.resource_status, self.resource_status_reason, self.timestamp = state
            self.last_updated_timestamp = state[2]

    def list_stack_resources(self):
        stack, resources = self.cloudformation_backend.list_stack_resources(
            self._get_param("StackName"))
        summaries = []
        for resource in resources:
            logical_id = getattr(resource, "logical_resource_id", "")
            status, reason, when = getattr(stack, "resource_states", {}).get(
                logical_id, ("CREATE_COMPLETE", None, stack.creation_time))
            summaries.append({"LogicalResourceId": logical_id, "ResourceStatus": status,
                              "ResourceStatusReason": reason, "LastUpdatedTimestamp": when,
                              "PhysicalResourceId": getattr(resource, "physical_resource_id", ""),
                              "ResourceType": getattr(resource, "cf_resource_type", "")})
        return ActionResult({"StackResourceSummaries": summaries})

    responses.StackResourceDTO.__init__ = dto_init
    responses.CloudFormationResponse.list_stack_resources = list_stack_resources
