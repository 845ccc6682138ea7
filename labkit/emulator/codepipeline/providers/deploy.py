"""Deploy actions: CodeDeploy deployments of the input artifact, and S3 uploads."""

from __future__ import annotations

import io
import mimetypes
import zipfile

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed

DONE = ("Succeeded", "Failed", "Stopped")
CODEDEPLOY_CONSOLE = "https://console.aws.amazon.com/codesuite/codedeploy/deployments"


def codedeploy(ctx: ActionContext) -> None:
    artifact = ctx.action["inputArtifacts"][0]["name"]
    location = ctx.input_location(artifact)
    app, group = ctx.configuration["ApplicationName"], ctx.configuration["DeploymentGroupName"]
    found = ctx.call("codedeploy", "GetDeploymentGroup",
                     {"applicationName": app, "deploymentGroupName": group})
    config_name = found["deploymentGroupInfo"].get("deploymentConfigName",
                                                    "CodeDeployDefault.OneAtATime")
    group_arn = ctx.arn("codedeploy", f"deploymentgroup:{app}/{group}")
    for action, resource in (
            ("codedeploy:CreateDeployment", group_arn), ("codedeploy:GetDeployment", group_arn),
            ("codedeploy:GetApplication", ctx.arn("codedeploy", f"application:{app}")),
            ("codedeploy:GetApplicationRevision", ctx.arn("codedeploy", f"application:{app}")),
            ("codedeploy:RegisterApplicationRevision",
             ctx.arn("codedeploy", f"application:{app}")),
            ("codedeploy:GetDeploymentConfig",
             ctx.arn("codedeploy", f"deploymentconfig:{config_name}"))):
        ctx.authorize(action, resource)
    created = ctx.call("codedeploy", "CreateDeployment", {
        "applicationName": ctx.configuration["ApplicationName"],
        "deploymentGroupName": ctx.configuration["DeploymentGroupName"],
        "revision": {"revisionType": "S3", "s3Location": {
            "bucket": location["bucket"], "key": location["key"], "bundleType": "zip"}},
        "description": f"Deployed by CodePipeline {ctx.execution.pipeline_name} "
                       f"(execution {ctx.execution.id})",
    })
    deployment_id = created["deploymentId"]
    ctx.run.external_id = deployment_id
    ctx.run.external_url = f"{CODEDEPLOY_CONSOLE}/{deployment_id}?region={ctx.region}"

    def finished():
        info = ctx.call("codedeploy", "GetDeployment", {"deploymentId": deployment_id})
        status = info["deploymentInfo"]["status"]
        return info["deploymentInfo"] if status in DONE else None

    info = ctx.wait_for(finished, interval=0.3)
    if info["status"] != "Succeeded":
        error = info.get("errorInformation") or {}
        raise ActionFailed(
            f"Deployment {deployment_id} {info['status'].lower()}: "
            f"{error.get('message', 'see the deployment for details')}")
    ctx.run.summary = f"Deployment {deployment_id} succeeded"


def s3(ctx: ActionContext) -> None:
    from moto.s3.models import s3_backends

    config = ctx.configuration
    bucket = config["BucketName"]
    backend = s3_backends[ctx.account_id]["aws"]
    if bucket not in backend.buckets:
        raise ActionFailed(f"The deployment bucket {bucket} does not exist.")
    data = ctx.read_artifact(ctx.action["inputArtifacts"][0]["name"])
    if str(config["Extract"]).lower() == "true":
        prefix = (config.get("ObjectKey") or "").strip("/")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                key = f"{prefix}/{member.filename}" if prefix else member.filename
                ctx.authorize("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
                backend.put_object(bucket, key, archive.read(member))
                content_type = mimetypes.guess_type(member.filename)[0]
                if content_type:
                    backend.get_object(bucket, key).content_type = content_type
        ctx.run.summary = f"Extracted to s3://{bucket}/{prefix}"
    else:
        ctx.authorize("s3:PutObject", f"arn:aws:s3:::{bucket}/{config['ObjectKey']}")
        backend.put_object(bucket, config["ObjectKey"], data)
        ctx.run.summary = f"Uploaded to s3://{bucket}/{config['ObjectKey']}"
