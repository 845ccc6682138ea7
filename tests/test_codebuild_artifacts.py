"""CodeBuild in the emulator: sources (S3, CodeCommit, pipeline), artifacts, cache, reports, events."""

from __future__ import annotations

import io
import json
import subprocess
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import make_role
from test_codebuild import environment, log_text, phases, run, statuses, unique

JUNIT = """<?xml version="1.0"?>
<testsuites>
  <testsuite name="math" tests="3">
    <testcase classname="math" name="adds" time="0.25"/>
    <testcase classname="math" name="subtracts" time="0.5"><failure message="expected 1 to be 2"/></testcase>
    <testcase classname="math" name="divides" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>
"""
CUCUMBER = json.dumps(
    [
        {
            "name": "Login",
            "elements": [
                {
                    "name": "good password",
                    "steps": [{"result": {"status": "passed", "duration": 1000}}],
                },
                {
                    "name": "bad password",
                    "steps": [
                        {"result": {"status": "failed", "duration": 5, "error_message": "boom"}}
                    ],
                },
            ],
        }
    ]
)


@pytest.fixture(scope="module")
def role(aws):
    # Builds act as their role: it gets the actions a build uses (pipeline_helpers.SERVICE_ACTIONS).
    return make_role(aws, f"cb-role-{uuid.uuid4().hex[:6]}", service="codebuild.amazonaws.com")


@pytest.fixture(scope="module")
def cb(aws):
    return aws("codebuild")


@pytest.fixture(scope="module")
def bucket(aws):
    name = f"cb-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=name)
    return name


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def names_in(data: bytes) -> list[str]:
    return sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())


def s3_project(cb, aws, role, bucket, files: dict[str, str], **extra) -> str:
    key = f"src/{uuid.uuid4().hex[:6]}.zip"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=zip_of(files))
    name = unique()
    cb.create_project(
        name=name,
        source={"type": "S3", "location": f"{bucket}/{key}"},
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}),
        environment=environment(),
        serviceRole=role,
        **extra,
    )
    return name


def test_s3_source_and_zip_artifacts(cb, aws, role, bucket):
    buildspec = textwrap.dedent("""\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist/sub && cp app.txt dist/ && echo nested > dist/sub/n.txt && echo no > dist/skip.log
        artifacts:
          base-directory: dist
          files: ['**/*']
          exclude-paths: ['*.log']
          secondary-artifacts:
            flat:
              base-directory: dist
              files: ['**/*.txt']
              discard-paths: yes
        """)
    name = s3_project(
        cb,
        aws,
        role,
        bucket,
        {"buildspec.yml": buildspec, "app.txt": "hello"},
        artifacts={
            "type": "S3",
            "location": bucket,
            "path": "out",
            "name": "app.zip",
            "packaging": "ZIP",
            "namespaceType": "BUILD_ID",
        },
        secondaryArtifacts=[
            {
                "type": "S3",
                "location": bucket,
                "path": "flat",
                "name": "f",
                "packaging": "NONE",
                "artifactIdentifier": "flat",
            }
        ],
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    build_uuid = build["id"].split(":")[1]
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{bucket}/out/{build_uuid}/app.zip"
    data = aws("s3").get_object(Bucket=bucket, Key=f"out/{build_uuid}/app.zip")["Body"].read()
    assert names_in(data) == ["app.txt", "sub/n.txt"]
    flat = aws("s3").list_objects_v2(Bucket=bucket, Prefix="flat/f/")["Contents"]
    assert sorted(o["Key"] for o in flat) == ["flat/f/app.txt", "flat/f/n.txt"]
    assert build["secondaryArtifacts"][0]["artifactIdentifier"] == "flat"


def test_artifacts_matching_nothing_fail_upload(cb, aws, role, bucket):
    buildspec = "version: 0.2\nphases:\n  build:\n    commands: [echo]\nartifacts:\n  files: ['nothing/*']\n"
    name = s3_project(
        cb,
        aws,
        role,
        bucket,
        {"buildspec.yml": buildspec},
        artifacts={"type": "S3", "location": bucket, "name": "x.zip", "packaging": "ZIP"},
    )
    build = run(cb, name)
    assert build["buildStatus"] == "FAILED"
    assert phases(build)["UPLOAD_ARTIFACTS"]["phaseStatus"] == "FAILED"
    assert phases(build)["UPLOAD_ARTIFACTS"]["contexts"][0] == {
        "statusCode": "CLIENT_ERROR",
        "message": "no matching artifact paths found",
    }


def test_missing_buildspec_file_names_the_path(cb, aws, role, bucket):
    name = s3_project(cb, aws, role, bucket, {"readme.txt": "no buildspec here"})
    build = run(cb, name)
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert context["statusCode"] == "YAML_FILE_ERROR"
    assert (
        context["message"].startswith("stat ")
        and "buildspec.yml: no such file or directory" in context["message"]
    )


@pytest.mark.parametrize("cache_type", ["LOCAL", "S3"])
def test_cache_is_restored_in_the_next_build(cb, aws, role, bucket, cache_type):
    buildspec = textwrap.dedent("""\
        version: 0.2
        phases:
          install:
            commands:
              - if [ -f deps/installed.txt ]; then echo "cache hit"; else mkdir -p deps && echo x > deps/installed.txt && echo "cache miss"; fi
        cache:
          paths: ['deps/**/*']
        """)
    cache = (
        {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]}
        if cache_type == "LOCAL"
        else {"type": "S3", "location": f"{bucket}/cache"}
    )
    name = s3_project(cb, aws, role, bucket, {"buildspec.yml": buildspec}, cache=cache)
    first, second = run(cb, name), run(cb, name)
    assert "cache miss" in log_text(aws, first).splitlines()
    assert "cache hit" in log_text(aws, second).splitlines()
    if cache_type == "S3":
        keys = [
            o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket, Prefix="cache/")["Contents"]
        ]
        assert keys == [f"cache/{name}-cache.tar.gz"]


def test_reports_from_junit_and_cucumber(cb, aws, role, bucket):
    buildspec = textwrap.dedent("""\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p reports && cp junit.xml reports/ && cp cucumber.json reports/
        reports:
          unit:
            files: [junit.xml]
            base-directory: reports
          features:
            files: ['*.json']
            base-directory: reports
            file-format: CUCUMBERJSON
        """)
    name = s3_project(
        cb,
        aws,
        role,
        bucket,
        {"buildspec.yml": buildspec, "junit.xml": JUNIT, "cucumber.json": CUCUMBER},
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    assert len(build["reportArns"]) == 2
    reports = {
        r["name"]: r for r in cb.batch_get_reports(reportArns=build["reportArns"])["reports"]
    }
    unit = reports[f"{name}-unit"]
    assert unit["status"] == "FAILED" and unit["executionId"] == build["arn"]
    assert unit["testSummary"]["total"] == 3
    assert unit["testSummary"]["statusCounts"]["SUCCEEDED"] == 1
    assert unit["testSummary"]["statusCounts"]["FAILED"] == 1
    assert unit["testSummary"]["statusCounts"]["SKIPPED"] == 1
    assert unit["testSummary"]["durationInNanoSeconds"] == 750_000_000
    cases = cb.describe_test_cases(reportArn=unit["arn"], filter={"status": "FAILED"})["testCases"]
    assert [(c["name"], c["message"]) for c in cases] == [("subtracts", "expected 1 to be 2")]
    features = reports[f"{name}-features"]
    assert features["testSummary"]["total"] == 2 and features["status"] == "FAILED"
    group_arn = unit["reportGroupArn"]
    assert group_arn.endswith(f":report-group/{name}-unit")
    assert group_arn in cb.list_report_groups()["reportGroups"]
    assert (
        cb.batch_get_report_groups(reportGroupArns=[group_arn])["reportGroups"][0]["name"]
        == f"{name}-unit"
    )
    assert unit["arn"] in cb.list_reports_for_report_group(reportGroupArn=group_arn)["reports"]
    assert unit["arn"] in cb.list_reports()["reports"]


def test_codecommit_source_resolves_the_commit(cb, aws, role, emulator, tmp_path):
    repo = unique("repo")
    aws("codecommit").create_repository(repositoryName=repo)
    work = tmp_path / "w"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        '      - echo "commit=$CODEBUILD_RESOLVED_SOURCE_VERSION file=$(cat hello.txt)"\n'
    )
    (work / "hello.txt").write_text("from git")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    subprocess.run(
        [*git, "push", "-q", f"{emulator.url}/v1/repos/{repo}", "main"],
        check=True,
        capture_output=True,
    )
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    name = unique()
    cb.create_project(
        name=name,
        source={
            "type": "CODECOMMIT",
            "location": f"https://git-codecommit.us-east-1.amazonaws.com/v1/repos/{repo}",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role,
    )
    build = run(cb, name, sourceVersion="refs/heads/main")
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    assert build["resolvedSourceVersion"] == commit and build["sourceVersion"] == "refs/heads/main"
    assert f"commit={commit} file=from git" in log_text(aws, build)
    missing = run(cb, name, sourceVersion="no-such-branch")
    assert phases(missing)["DOWNLOAD_SOURCE"]["phaseStatus"] == "FAILED"
    assert phases(missing)["DOWNLOAD_SOURCE"]["contexts"][0]["statusCode"] == "CLIENT_ERROR"


def test_pipeline_style_build_with_secondary_sources_and_artifacts(cb, aws, role, bucket):
    """What the pipeline engine asks for: S3 inputs and outputs instead of CODEPIPELINE ones."""
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        '      - cat "$CODEBUILD_SRC_DIR_Extra/extra.txt" > out.txt\n'
        "artifacts:\n  files: [out.txt]\n"
        "  secondary-artifacts:\n    Docs:\n      files: [buildspec.yml]\n"
    )
    aws("s3").put_object(Bucket=bucket, Key="pipe/in.zip", Body=zip_of({"buildspec.yml": spec}))
    aws("s3").put_object(Bucket=bucket, Key="pipe/extra.zip", Body=zip_of({"extra.txt": "second"}))
    name = unique()
    cb.create_project(
        name=name,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment=environment(),
        serviceRole=role,
    )
    build = run(
        cb,
        name,
        sourceTypeOverride="S3",
        sourceLocationOverride=f"{bucket}/pipe/in.zip",
        secondarySourcesOverride=[
            {"type": "S3", "location": f"{bucket}/pipe/extra.zip", "sourceIdentifier": "Extra"}
        ],
        artifactsOverride={
            "type": "S3",
            "location": bucket,
            "path": "pipe",
            "name": "out.zip",
            "packaging": "ZIP",
        },
        secondaryArtifactsOverride=[
            {
                "type": "S3",
                "location": bucket,
                "path": "pipe",
                "name": "docs.zip",
                "packaging": "ZIP",
                "artifactIdentifier": "Docs",
            }
        ],
    )
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    out = aws("s3").get_object(Bucket=bucket, Key="pipe/out.zip")["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(out)).read("out.txt") == b"second"
    docs = aws("s3").get_object(Bucket=bucket, Key="pipe/docs.zip")["Body"].read()
    assert names_in(docs) == ["buildspec.yml"]


def test_events_and_metrics(cb, aws, role, bucket):
    events = aws("events")
    logs = aws("logs")
    group = f"/test/codebuild-events-{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=group)
    name = unique()
    events.put_rule(
        Name=f"r-{name}",
        EventPattern=json.dumps({"source": ["aws.codebuild"], "detail": {"project-name": [name]}}),
    )
    events.put_targets(
        Rule=f"r-{name}",
        Targets=[{"Id": "1", "Arn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"}],
    )
    cb.create_project(
        name=name,
        source={
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo]\n",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role,
    )
    build = run(cb, name)
    found = []
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        found += [
            json.loads(e["message"])
            for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
                "events"
            ]
        ]
    kinds = [
        (e["detail-type"], e["detail"].get("build-status") or e["detail"].get("completed-phase"))
        for e in found
    ]
    assert ("CodeBuild Build State Change", "IN_PROGRESS") in kinds
    assert ("CodeBuild Build State Change", "SUCCEEDED") in kinds
    assert ("CodeBuild Build Phase Change", "BUILD") in kinds
    cloudwatch = aws("cloudwatch")
    metrics = cloudwatch.list_metrics(
        Namespace="AWS/CodeBuild", Dimensions=[{"Name": "ProjectName", "Value": name}]
    )["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {
        "Builds",
        "SucceededBuilds",
        "FailedBuilds",
        "Duration",
        "BuildDuration",
        "InstallDuration",
        "QueuedDuration",
    } <= names
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/CodeBuild",
        MetricName="SucceededBuilds",
        Dimensions=[{"Name": "ProjectName", "Value": name}],
        StartTime=build["startTime"].timestamp() - 120,
        EndTime=time.time() + 120,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(d["Sum"] for d in stats) == 1


def test_work_dirs_are_made_per_build(cb, aws, role, emulator):
    name = unique()
    cb.create_project(
        name=name,
        source={
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [touch here.txt]\n",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role,
    )
    build = run(cb, name)
    work = Path(emulator.state_dir) / "codebuild" / name / build["id"].split(":")[1]
    assert (work / "src" / "here.txt").exists()


def test_s3_source_version_variable_and_run_as_note(cb, aws, role, bucket):
    buildspec = "version: 0.2\nrun-as: nobody\nphases:\n  build:\n    commands: [echo v=$CODEBUILD_SOURCE_VERSION]\n"
    name = s3_project(cb, aws, role, bucket, {"buildspec.yml": buildspec})
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    text = log_text(aws, build)
    location = build["source"]["location"]
    assert f"v=arn:aws:s3:::{location}" in text.splitlines()
    assert "[labkit] run-as: nobody is ignored: commands run as the emulator's user." in text


def test_buildspec_from_s3_arn(cb, aws, role, bucket):
    aws("s3").put_object(
        Bucket=bucket,
        Key="specs/build.yml",
        Body=b"version: 0.2\nphases:\n  build:\n    commands: [echo spec-from-s3]\n",
    )
    name = unique()
    cb.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": f"arn:aws:s3:::{bucket}/specs/build.yml"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    assert "spec-from-s3" in log_text(aws, build).splitlines()


def test_artifact_name_from_an_exported_variable(cb, aws, role, bucket):
    buildspec = (
        "version: 0.2\nphases:\n  build:\n    commands: ['export V=1.2.3', 'echo x > out.txt']\n"
        "artifacts:\n  files: [out.txt]\n  name: app-$V.zip\n"
    )
    name = s3_project(
        cb,
        aws,
        role,
        bucket,
        {"buildspec.yml": buildspec},
        artifacts={
            "type": "S3",
            "location": bucket,
            "path": "named",
            "name": "default.zip",
            "packaging": "ZIP",
            "overrideArtifactName": True,
        },
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{bucket}/named/app-1.2.3.zip"
    assert names_in(
        aws("s3").get_object(Bucket=bucket, Key="named/app-1.2.3.zip")["Body"].read()
    ) == ["out.txt"]
