"""A CodeBuild action in a pipeline: the pipeline engine's StartBuild runs a real build of its input."""

from __future__ import annotations

import io
import zipfile

from pipeline_helpers import (
    action,
    action_state,
    declaration,
    latest_execution_id,
    make_bucket,
    make_role,
    s3_source,
    unique,
    wait_for_execution,
    zip_bytes,
)
from test_codebuild import environment

BUILDSPEC = """\
version: 0.2
env:
  exported-variables: [APP_VERSION]
phases:
  build:
    commands:
      - export APP_VERSION=$(cat version.txt)
      - mkdir -p dist && cp version.txt dist/
artifacts:
  base-directory: dist
  files: ['**/*']
"""


def test_build_action_builds_the_source_and_hands_on_its_artifact(aws):
    bucket = make_bucket(aws)
    aws("s3").put_object(
        Bucket=bucket,
        Key="source.zip",
        Body=zip_bytes({"buildspec.yml": BUILDSPEC, "version.txt": "4.2.0"}),
    )
    project = unique("pipe-build")
    aws("codebuild").create_project(
        name=project,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment=environment(),
        serviceRole=make_role(aws, service="codebuild.amazonaws.com"),
    )
    name = unique("pipe")
    build_action = action(
        "Build",
        "Build",
        "CodeBuild",
        {"ProjectName": project},
        inputs=["SourceOutput"],
        outputs=["BuildOutput"],
        namespace="BuildVariables",
    )
    cp = aws("codepipeline")
    cp.create_pipeline(
        pipeline=declaration(
            name,
            make_role(aws),
            bucket,
            [("Source", [s3_source(bucket)]), ("Build", [build_action])],
        )
    )
    execution = latest_execution_id(cp, name)
    assert wait_for_execution(cp, name, execution) == "Succeeded", action_state(
        cp, name, "Build", "Build"
    )
    build_id = action_state(cp, name, "Build", "Build")["latestExecution"]["externalExecutionId"]
    build = aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["exportedEnvironmentVariables"] == [{"name": "APP_VERSION", "value": "4.2.0"}]
    key = build["artifacts"]["location"].removeprefix(f"arn:aws:s3:::{bucket}/")
    archive = zipfile.ZipFile(
        io.BytesIO(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    )
    assert archive.read("version.txt") == b"4.2.0"
