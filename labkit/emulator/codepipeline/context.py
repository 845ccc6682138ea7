"""ActionContext: what an action provider may do while it runs (artifacts, variables, waiting)."""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable

from labkit.emulator.authorization import AccessDenied, RoleNotFound, authorize
from labkit.emulator.context import RequestContext
from labkit.emulator.json_api import AWSError


class ActionFailed(Exception):
    """The action failed; `code` and the message become its errorDetails."""

    def __init__(self, message: str, code: str = "JobFailed"):
        super().__init__(message)
        self.code = code
        self.message = message


class ActionAbandoned(Exception):
    """The execution was stopped with abandon, superseded, or the emulator is shutting down."""


def artifact_key(pipeline_name: str, artifact_name: str) -> str:
    """AWS's layout: `<pipeline name, 20 chars>/<artifact name, 20 chars>/<7 random chars>`."""
    alphabet = string.ascii_letters + string.digits
    suffix = "".join(secrets.choice(alphabet) for _ in range(7))
    return f"{pipeline_name[:20]}/{artifact_name[:20]}/{suffix}"


class ActionContext:
    def __init__(self, engine, backend, pipeline, execution, stage_name: str, run):
        self.engine = engine
        self.runtime = engine.runtime
        self.account_id = backend.account_id
        self.region = backend.region
        self.pipeline = pipeline
        self.execution = execution
        self.stage_name = stage_name
        self.run = run
        self.action = run.declaration
        self.configuration: dict = {}
        store = execution.declaration.get("artifactStore") or next(
            iter(execution.declaration.get("artifactStores", {}).values()))
        self.bucket = store["location"]

    @property
    def role_arn(self) -> str:
        return self.action.get("roleArn") or self.execution.declaration["roleArn"]

    @property
    def cancelled(self) -> bool:
        return (self.execution.stop_mode == "abandon" or self.execution.superseded
                or self.pipeline.deleted or self.runtime.stopping.is_set()
                or self.run.status == "Abandoned")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def authorize(self, action: str, resource: str) -> None:
        """Act as the pipeline's role: fail the action as AWS does when its policies say no."""
        try:
            authorize(self.account_id, self.role_arn, action, resource,
                      session=self.execution.pipeline_name[:64])
        except AccessDenied as denied:
            raise ActionFailed("The provided role does not have permissions to perform this "
                               f"action. Underlying error: {denied.message}") from None
        except RoleNotFound:
            raise ActionFailed(f"CodePipeline is not authorized to perform AssumeRole on role "
                               f"{self.role_arn}: the role does not exist.") from None

    # --- artifacts -------------------------------------------------------------------
    def input_location(self, name: str) -> dict:
        location = self.execution.artifacts.get(name)
        if location is None:
            raise ActionFailed(f"Input artifact '{name}' was not produced in this execution.")
        return location

    def read_artifact(self, name: str) -> bytes:
        from moto.s3.models import s3_backends

        location = self.input_location(name)
        self.authorize("s3:GetObject", f"arn:aws:s3:::{location['bucket']}/{location['key']}")
        key = s3_backends[self.account_id]["aws"].get_object(location["bucket"], location["key"])
        if key is None:
            raise ActionFailed(
                f"Input artifact '{name}' is missing from s3://{location['bucket']}/"
                f"{location['key']} (was the artifact bucket emptied?)")
        return key.value

    def artifact_revision(self, name: str) -> str | None:
        """The source revision (e.g. the commit id) behind an artifact, when a source made it."""
        for _stage, run in self.execution.history:
            if run.revision and any(a["name"] == name for a in run.output_artifacts):
                return run.revision["revisionId"]
        return None

    def new_artifact_location(self, name: str) -> dict:
        return {"bucket": self.bucket, "key": artifact_key(self.execution.pipeline_name, name)}

    def record_output(self, name: str, location: dict) -> None:
        self.execution.artifacts[name] = location
        self.run.output_artifacts.append({"name": name, "s3location": dict(location)})

    def write_artifact(self, name: str, data: bytes) -> dict:
        from moto.s3.models import s3_backends

        location = self.new_artifact_location(name)
        self.authorize("s3:PutObject", f"arn:aws:s3:::{location['bucket']}/{location['key']}")
        try:
            s3_backends[self.account_id]["aws"].put_object(location["bucket"], location["key"], data)
        except Exception as exc:
            raise ActionFailed(
                f"Could not write artifact '{name}' to the artifact store "
                f"s3://{self.bucket}: {exc}") from None
        self.record_output(name, location)
        return location

    # --- other services ------------------------------------------------------------------
    def call(self, service: str, operation: str, params: dict) -> dict:
        """Call one of labkit's own services in-process, through its public API."""
        ctx = RequestContext(account_id=self.account_id, region=self.region)
        try:
            return self.runtime.service(service).handle(operation, json.dumps(params).encode(), ctx)
        except AWSError as err:
            raise ActionFailed(f"{err.code}: {err.message}") from None

    def loopback_client(self, service: str):
        """A boto3 client for a moto-served service, through the emulator's own endpoint."""
        import boto3
        from botocore.config import Config

        return boto3.client(service, region_name=self.region, endpoint_url=self.runtime.url,
                            aws_access_key_id="labkit-engine", aws_secret_access_key="labkit",
                            config=Config(retries={"max_attempts": 1}))

    # --- waiting -------------------------------------------------------------------------
    def wait_for(self, check: Callable[[], object], timeout: float | None = None,
                 interval: float = 0.25, on_timeout: str = "The action timed out."):
        """Poll `check` until it returns something truthy; abandon or time out as AWS would."""
        limit = self.action.get("timeoutInMinutes")
        if timeout is None and limit:
            timeout = float(limit) * 60
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            if self.cancelled:
                raise ActionAbandoned()
            result = check()
            if result:
                return result
            if deadline and time.monotonic() > deadline:
                raise ActionFailed(on_timeout)
            time.sleep(interval)
