"""The in-process API the CodePipeline engine uses to run a CODEPIPELINE build (no HTTP in between)."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
from test_codebuild import TRUST, environment

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def runtime(tmp_path):
    from labkit.emulator.app import EmulatorApp
    from labkit.emulator.runtime import EmulatorRuntime

    runtime = EmulatorRuntime(tmp_path, 0)
    EmulatorApp(runtime)
    yield runtime
    runtime.stopping.set()
    runtime.processes.end()


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_pipeline_build_reads_inputs_and_writes_outputs(runtime):
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    from labkit.emulator.context import RequestContext

    s3 = s3_backends[ACCOUNT]["aws"]
    bucket = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(bucket, REGION)
    role = f"pipe-role-{uuid.uuid4().hex[:6]}"
    iam = iam_backends[ACCOUNT]["global"]
    iam.create_role(role, TRUST, "/", None, "", [], None)
    # The build reads its inputs and writes its outputs as this role, so it needs S3 and Logs.
    iam.put_role_policy(role, "build-access", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "logs:*"], "Resource": "*"}]}))
    spec = (
        "version: 0.2\nenv:\n  exported-variables: [WHO]\nphases:\n  build:\n    commands:\n"
        "      - export WHO=$CODEBUILD_INITIATOR\n"
        '      - cat "$CODEBUILD_SRC_DIR_Extra/extra.txt" > out.txt\n'
        "artifacts:\n  files: [out.txt]\n  secondary-artifacts:\n    Docs:\n      files: [buildspec.yml]\n"
    )
    s3.put_object(bucket, "in/source.zip", zip_of({"buildspec.yml": spec}))
    s3.put_object(bucket, "in/extra.zip", zip_of({"extra.txt": "from the second input"}))
    codebuild = runtime.service("codebuild")
    name = f"pipe-{uuid.uuid4().hex[:6]}"
    body = {
        "name": name,
        "serviceRole": role,
        "environment": environment(),
        "source": {"type": "CODEPIPELINE"},
        "artifacts": {"type": "CODEPIPELINE"},
        "secondaryArtifacts": [{"type": "CODEPIPELINE", "artifactIdentifier": "Docs"}],
    }
    codebuild.handle("CreateProject", json.dumps(body).encode(), RequestContext())
    build = codebuild.start_pipeline_build(
        ACCOUNT,
        REGION,
        name,
        pipeline_name="my-pipeline",
        inputs=[
            {"name": "Source", "bucket": bucket, "key": "in/source.zip", "revision": "abc123"},
            {"name": "Extra", "bucket": bucket, "key": "in/extra.zip"},
        ],
        outputs=[
            {"name": "BuildOutput", "bucket": bucket, "key": "out/build.zip"},
            {"name": "Docs", "bucket": bucket, "key": "out/docs.zip"},
        ],
    )
    backend = codebuild.backends.get(ACCOUNT, REGION)
    deadline = time.monotonic() + 30
    while not backend.get_build(build.id).complete:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert build.status == "SUCCEEDED", build.phases
    assert (
        build.initiator == "codepipeline/my-pipeline" and build.resolved_source_version == "abc123"
    )
    assert build.exported_variables == [{"name": "WHO", "value": "codepipeline/my-pipeline"}]
    out = zipfile.ZipFile(io.BytesIO(s3.get_object(bucket, "out/build.zip").value))
    assert out.read("out.txt") == b"from the second input"
    docs = zipfile.ZipFile(io.BytesIO(s3.get_object(bucket, "out/docs.zip").value))
    assert docs.namelist() == ["buildspec.yml"]
