"""Deploy actions of provider CloudFormation: create or update a stack, change sets, delete."""

from __future__ import annotations

import io
import json
import zipfile

from botocore.exceptions import ClientError

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed

DONE_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
DONE_BAD = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED",
            "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED"}
# What the pipeline's role must be allowed to do on the stack, per action mode.
ACTIONS_BY_MODE = {
    "CREATE_UPDATE": ("cloudformation:DescribeStacks", "cloudformation:CreateStack",
                      "cloudformation:UpdateStack"),
    "REPLACE_ON_FAILURE": ("cloudformation:DescribeStacks", "cloudformation:CreateStack",
                           "cloudformation:UpdateStack", "cloudformation:DeleteStack"),
    "DELETE_ONLY": ("cloudformation:DescribeStacks", "cloudformation:DeleteStack"),
    "CHANGE_SET_REPLACE": ("cloudformation:DescribeStacks", "cloudformation:CreateChangeSet",
                           "cloudformation:DescribeChangeSet", "cloudformation:DeleteChangeSet"),
    "CHANGE_SET_EXECUTE": ("cloudformation:DescribeStacks", "cloudformation:ExecuteChangeSet",
                           "cloudformation:DescribeChangeSet"),
}
MODES = tuple(ACTIONS_BY_MODE)


def cloudformation(ctx: ActionContext) -> None:
    config = ctx.configuration
    mode, stack = config["ActionMode"], config["StackName"]
    if mode not in MODES:
        raise ActionFailed(f"ActionMode {mode} is not one of {', '.join(MODES)}.")
    stack_arn = ctx.arn("cloudformation", f"stack/{stack}/*")
    for action in ACTIONS_BY_MODE[mode]:
        ctx.authorize(action, stack_arn)
    if config.get("RoleArn"):
        ctx.authorize("iam:PassRole", config["RoleArn"])
    cfn = ctx.loopback_client("cloudformation")
    try:
        if mode == "DELETE_ONLY":
            _delete(ctx, cfn, stack)
        elif mode == "CHANGE_SET_EXECUTE":
            _execute_change_set(ctx, cfn, stack, _change_set_name(config))
        else:
            request = _stack_request(ctx, config)
            if mode == "CHANGE_SET_REPLACE":
                _replace_change_set(ctx, cfn, stack, _change_set_name(config), request)
            else:
                _create_or_update(ctx, cfn, stack, request, replace_failed=mode ==
                                  "REPLACE_ON_FAILURE")
    except ClientError as err:
        error = err.response["Error"]
        raise ActionFailed(f"{error.get('Code')}: {error.get('Message')}") from None
    ctx.run.external_id = stack


def _change_set_name(config: dict) -> str:
    if not config.get("ChangeSetName"):
        raise ActionFailed("ChangeSetName is required for the change set action modes.")
    return config["ChangeSetName"]


def _stack_request(ctx: ActionContext, config: dict) -> dict:
    if not config.get("TemplatePath"):
        raise ActionFailed("TemplatePath is required (\"ArtifactName::path/to/template.yaml\").")
    request: dict = {"TemplateBody": _artifact_file(ctx, config["TemplatePath"])}
    parameters: dict = {}
    if config.get("TemplateConfiguration"):
        settings = _json(_artifact_file(ctx, config["TemplateConfiguration"]),
                         "TemplateConfiguration")
        parameters.update(settings.get("Parameters", {}))
        if settings.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in settings["Tags"].items()]
    if config.get("ParameterOverrides"):
        parameters.update(_json(config["ParameterOverrides"], "ParameterOverrides"))
    if parameters:
        request["Parameters"] = [{"ParameterKey": k, "ParameterValue": str(v)}
                                 for k, v in parameters.items()]
    if config.get("Capabilities"):
        request["Capabilities"] = [c.strip() for c in config["Capabilities"].split(",")]
    if config.get("RoleArn"):
        request["RoleARN"] = config["RoleArn"]
    return request


def _artifact_file(ctx: ActionContext, path: str) -> str:
    if "::" not in path:
        raise ActionFailed(f"'{path}' must look like ArtifactName::path/inside/the/artifact.")
    artifact, inner = path.split("::", 1)
    names = [a["name"] for a in ctx.action["inputArtifacts"]]
    if artifact not in names:
        raise ActionFailed(f"Artifact '{artifact}' is not an input artifact of this action "
                           f"(inputs: {', '.join(names) or 'none'}).")
    with zipfile.ZipFile(io.BytesIO(ctx.read_artifact(artifact))) as archive:
        try:
            return archive.read(inner).decode("utf-8")
        except KeyError:
            raise ActionFailed(f"File '{inner}' was not found in artifact '{artifact}'.") from None


def _json(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ActionFailed(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ActionFailed(f"{what} must be a JSON object.")
    return value


def _status(cfn, stack: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as err:
        if "does not exist" in err.response["Error"].get("Message", ""):
            return None
        raise


def _wait_stack(ctx: ActionContext, cfn, stack: str, gone_ok: bool = False) -> None:
    def settled():
        status = _status(cfn, stack)
        if status is None and gone_ok:
            return "DELETE_COMPLETE"
        return status if status and not status.endswith("_IN_PROGRESS") else None

    status = ctx.wait_for(settled, interval=0.3)
    if status in DONE_BAD or status not in DONE_OK:
        raise ActionFailed(f"Stack {stack} ended in {status}: {_first_failure(cfn, stack)}")
    ctx.run.summary = f"Stack {stack}: {status}"
    if status != "DELETE_COMPLETE":
        _record_outputs(ctx, cfn, stack)


def _first_failure(cfn, stack: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError:
        return "see the stack's events"
    reasons = [e.get("ResourceStatusReason") for e in events
               if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
    return reasons[-1] if reasons else "see the stack's events"


def _record_outputs(ctx: ActionContext, cfn, stack: str) -> None:
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    ctx.run.output_variables = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    file_name = ctx.configuration.get("OutputFileName")
    for artifact in ctx.action["outputArtifacts"]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(file_name or "outputs.json", json.dumps(ctx.run.output_variables))
        ctx.write_artifact(artifact["name"], buffer.getvalue())


def _create_or_update(ctx, cfn, stack: str, request: dict, replace_failed: bool) -> None:
    status = _status(cfn, stack)
    if status in ("ROLLBACK_COMPLETE", "CREATE_FAILED") and replace_failed:
        cfn.delete_stack(StackName=stack)
        _wait_stack(ctx, cfn, stack, gone_ok=True)
        status = None
    if status is None or status == "DELETE_COMPLETE":
        cfn.create_stack(StackName=stack, **request)
    else:
        try:
            cfn.update_stack(StackName=stack, **request)
        except ClientError as err:
            if "No updates are to be performed" not in err.response["Error"].get("Message", ""):
                raise
    _wait_stack(ctx, cfn, stack)


def _delete(ctx, cfn, stack: str) -> None:
    if _status(cfn, stack) is None:
        ctx.run.summary = f"Stack {stack} does not exist; nothing to delete"
        return
    cfn.delete_stack(StackName=stack)
    _wait_stack(ctx, cfn, stack, gone_ok=True)


def _replace_change_set(ctx, cfn, stack: str, change_set: str, request: dict) -> None:
    exists = _status(cfn, stack) not in (None, "REVIEW_IN_PROGRESS")
    if exists:  # replace a change set of the same name left by an earlier run
        current = cfn.list_change_sets(StackName=stack).get("Summaries", [])
        if any(c["ChangeSetName"] == change_set for c in current):
            cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
    cfn.create_change_set(StackName=stack, ChangeSetName=change_set,
                          ChangeSetType="UPDATE" if exists else "CREATE", **request)

    def ready():
        found = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
        return found if found["Status"] in ("CREATE_COMPLETE", "FAILED") else None

    found = ctx.wait_for(ready, interval=0.3)
    if found["Status"] == "FAILED":
        raise ActionFailed(f"Change set {change_set} failed: {found.get('StatusReason')}")
    ctx.run.summary = f"Change set {change_set} is ready to review: {len(found.get('Changes', []))} change(s)"


def _execute_change_set(ctx, cfn, stack: str, change_set: str) -> None:
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
    _wait_stack(ctx, cfn, stack)
