"""Build and Test actions: a CodeBuild build of the input artifacts, started as CodePipeline starts
it (initiator `codepipeline/<name>`, the source commit as the resolved source version)."""

from __future__ import annotations

import json

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed
from labkit.emulator.json_api import AWSError

CODEBUILD_CONSOLE = "https://console.aws.amazon.com/codesuite/codebuild/projects"


def codebuild(ctx: ActionContext) -> None:
    config = ctx.configuration
    inputs = [a["name"] for a in ctx.action["inputArtifacts"]]
    primary = config.get("PrimarySource") or inputs[0]
    if primary not in inputs:
        raise ActionFailed(f"PrimarySource '{primary}' is not one of the input artifacts {inputs}.")
    outputs = [a["name"] for a in ctx.action["outputArtifacts"]]
    planned = {name: ctx.new_artifact_location(name) for name in outputs}
    project_arn = ctx.arn("codebuild", f"project/{config['ProjectName']}")
    ctx.authorize("codebuild:StartBuild", project_arn)
    ctx.authorize("codebuild:BatchGetBuilds", project_arn)
    service = ctx.runtime.service("codebuild")
    try:
        build = service.start_pipeline_build(
            ctx.account_id, ctx.region, config["ProjectName"],
            pipeline_name=ctx.execution.pipeline_name,
            inputs=[{"name": n, **ctx.input_location(n), "revision": ctx.artifact_revision(n)}
                    for n in inputs],
            outputs=[{"name": n, **planned[n]} for n in outputs],
            primary_source=primary,
            environment_variables=_environment(config.get("EnvironmentVariables")),
        )
    except AWSError as err:
        raise ActionFailed(f"{err.code}: {err.message}") from None
    ctx.run.external_id = build.id
    project = config["ProjectName"]
    ctx.run.external_url = f"{CODEBUILD_CONSOLE}/{project}/build/{build.id}/?region={ctx.region}"
    backend = service.backends.get(ctx.account_id, ctx.region)

    def complete():
        described = backend.get_build(build.id).describe()
        return described if described.get("buildComplete") else None

    described = ctx.wait_for(complete, interval=0.3)
    ctx.run.output_variables = {v["name"]: v.get("value", "")
                                for v in described.get("exportedEnvironmentVariables", [])}
    if described["buildStatus"] != "SUCCEEDED":
        raise ActionFailed(_failure_message(described))
    for name in outputs:
        ctx.record_output(name, planned[name])
    ctx.run.summary = f"Build {build.id} succeeded"


def _environment(raw: str | None) -> list[dict]:
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise ActionFailed("EnvironmentVariables must be a JSON list of "
                           '{"name", "value", "type"} objects.') from None
    return [{"name": i["name"], "value": str(i["value"]), "type": i.get("type", "PLAINTEXT")}
            for i in items]


def _failure_message(build: dict) -> str:
    """Like AWS: `Build terminated with state: FAILED. Phase: BUILD, Code: ..., Message: ...`."""
    state = build["buildStatus"]
    for phase in build.get("phases", []):
        if phase.get("phaseStatus") in ("FAILED", "FAULT", "TIMED_OUT") and phase.get("contexts"):
            context = phase["contexts"][0]
            return (f"Build terminated with state: {state}. Phase: {phase['phaseType']}, "
                    f"Code: {context.get('statusCode')}, Message: {context.get('message')}")
    return f"Build terminated with state: {state}"
