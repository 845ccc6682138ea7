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
        # A stack's change sets go with it (moto keeps them, and a new stack of the same
        # name would then find the old stack's change set by name).
        for change_set_id, change_set in list(self.change_sets.items()):
            if change_set.stack_id == stack.stack_id:
                del self.change_sets[change_set_id]
        for name in export_names:
            self.exports.pop(name, None)

    Backend.create_stack = create_stack
    Backend.update_stack = update_stack
    Backend.create_change_set = create_change_set
    Backend.delete_stack = delete_stack
    Backend.execute_change_set = lambda self, change_set_name, stack_name=None: \
        stacks.execute_change_set(self, change_set_name, stack_name)
    # What a change set would do: parameter changes, conditions, Replacement and Details.
    cfn_models.ChangeSet.diff = stacks.change_set_changes
    _patch_resource_listings()
    _patch_iam_role_update()
    _patch_bucket_policy_transport()
    _patch_bucket_versioning()
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


def _patch_iam_role_update() -> None:
    """AWS::IAM::Role updates: apply the new inline Policies, trust policy and managed policy ARNs
    (moto's update changes only the description, so a stack update left the old permissions)."""
    import json

    from moto.iam import models as iam_models
    from moto.utilities.utils import get_partition

    original = iam_models.Role.update_from_cloudformation_json.__func__

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):
        role = original(cls, original_resource, new_resource_name, cloudformation_json,
                        account_id, region_name)
        backend = iam_models.iam_backends[account_id][get_partition(region_name)]
        properties = cloudformation_json.get("Properties") or {}

        def text(document):
            return document if isinstance(document, str) else json.dumps(document)

        if properties.get("AssumeRolePolicyDocument"):
            backend.update_assume_role_policy(role.name, text(properties["AssumeRolePolicyDocument"]))
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies") or []}
        for name in [n for n in role.policies if n not in wanted]:
            backend.delete_role_policy(role.name, name)
        for name, document in wanted.items():
            backend.put_role_policy(role.name, name, text(document))
        arns = set(properties.get("ManagedPolicyArns") or [])
        for arn in [a for a in role.managed_policies if a not in arns]:
            backend.detach_role_policy(arn, role.name)
        for arn in arns - set(role.managed_policies):
            backend.attach_role_policy(arn, role.name)
        return role

    iam_models.Role.update_from_cloudformation_json = classmethod(update)


def _patch_bucket_policy_transport() -> None:
    """Bucket policies: a statement that applies only to plain-HTTP requests
    (Bool aws:SecureTransport "false", as in the course's TLS-only artifact bucket) never
    applies. Every SDK and CLI call to AWS uses HTTPS; the emulator's loopback HTTP stands for
    it. (moto denies on any condition it cannot evaluate, so the bucket could not be emptied.)"""
    import json

    from moto.s3 import models as s3_models

    original = s3_models.FakeBucket.get_permission

    def plain_http_only(statement: dict) -> bool:
        condition = statement.get("Condition") or {}
        value = (condition.get("Bool") or {}).get("aws:SecureTransport")
        return list(condition) == ["Bool"] and str(value).lower() in ("false", "['false']")

    def get_permission(self, action, resource):
        if self.policy is None:
            return original(self, action, resource)
        try:
            document = json.loads(self.policy.decode() if isinstance(self.policy, bytes)
                                  else self.policy)
        except ValueError:
            return original(self, action, resource)
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [s for s in statements if not plain_http_only(s)]
        if len(kept) == len(statements):
            return original(self, action, resource)
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(
            action, resource)

    s3_models.FakeBucket.get_permission = get_permission


def _patch_bucket_versioning() -> None:
    """AWS::S3::Bucket's VersioningConfiguration (moto's stack bucket ignored it: a template's
    versioned artifact bucket kept every object under the version id "null")."""
    from moto.s3 import models as s3_models
    from moto.utilities.utils import get_partition

    original = s3_models.FakeBucket.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name,
                          **kwargs)
        status = ((cloudformation_json.get("Properties") or {}).get("VersioningConfiguration")
                  or {}).get("Status")
        if status in ("Enabled", "Suspended"):
            backend = s3_models.s3_backends[account_id][get_partition(region_name)]
            backend.put_bucket_versioning(bucket.name, status)
        return bucket

    s3_models.FakeBucket.create_from_cloudformation_json = classmethod(create)
