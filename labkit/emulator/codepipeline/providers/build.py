"""Build and Test actions: a CodeBuild build of the input artifacts, through CodeBuild's API."""

from __future__ import annotations

import json

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed

CODEBUILD_CONSOLE = "https://console.aws.amazon.com/codesuite/codebuild/projects"


def codebuild(ctx: ActionContext) -> None:
    config = ctx.configuration
    inputs = [a["name"] for a in ctx.action["inputArtifacts"]]
    primary = config.get("PrimarySource") or inputs[0]
    if primary not in inputs:
        raise ActionFailed(f"PrimarySource '{primary}' is not one of the input artifacts {inputs}.")
    request: dict = {"projectName": config["ProjectName"]}
    location = ctx.input_location(primary)
    request["sourceTypeOverride"] = "S3"
    request["sourceLocationOverride"] = f"{location['bucket']}/{location['key']}"
    secondary = [name for name in inputs if name != primary]
    if secondary:
        request["secondarySourcesOverride"] = [
            {"type": "S3", "sourceIdentifier": name,
             "location": "{bucket}/{key}".format(**ctx.input_location(name))}
            for name in secondary]
    outputs = [a["name"] for a in ctx.action["outputArtifacts"]]
    planned = {name: ctx.new_artifact_location(name) for name in outputs}
    if outputs:
        request["artifactsOverride"] = _s3_artifact(planned[outputs[0]])
        if len(outputs) > 1:
            request["secondaryArtifactsOverride"] = [
                {**_s3_artifact(planned[name]), "artifactIdentifier": name} for name in outputs[1:]]
    else:
        request["artifactsOverride"] = {"type": "NO_ARTIFACTS"}
    if config.get("EnvironmentVariables"):
        request["environmentVariablesOverride"] = _environment(config["EnvironmentVariables"])

    build = ctx.call("codebuild", "StartBuild", request)["build"]
    build_id = build["id"]
    ctx.run.external_id = build_id
    project = config["ProjectName"]
    ctx.run.external_url = (f"{CODEBUILD_CONSOLE}/{project}/build/{build_id}/?region={ctx.region}")

    def complete():
        found = ctx.call("codebuild", "BatchGetBuilds", {"ids": [build_id]})["builds"]
        return found[0] if found and found[0].get("buildComplete") else None

    build = ctx.wait_for(complete, interval=0.3)
    ctx.run.output_variables = {v["name"]: v.get("value", "")
                                for v in build.get("exportedEnvironmentVariables", [])}
    if build["buildStatus"] != "SUCCEEDED":
        raise ActionFailed(_failure_message(build))
    for name in outputs:
        ctx.record_output(name, planned[name])
    ctx.run.summary = f"Build {build_id} succeeded"


def _s3_artifact(location: dict) -> dict:
    path, name = location["key"].rsplit("/", 1)
    return {"type": "S3", "location": location["bucket"], "path": path, "name": name,
            "namespaceType": "NONE", "packaging": "ZIP", "overrideArtifactName": False}


def _environment(raw: str) -> list[dict]:
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
