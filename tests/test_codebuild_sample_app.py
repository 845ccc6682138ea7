"""CodeBuild builds the course's sample app from the emulator's CodeCommit: pass, and each failure switch."""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import make_role
from test_codebuild import environment, log_text, phases, statuses, wait_for

SAMPLE_APP = Path(__file__).resolve().parent.parent / "sample-app"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SAMPLE_APP / "buildspec.yml").exists(), reason="no sample app"),
]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=Learner",
            "-c",
            "user.email=learner@example.com",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def sample(aws, emulator, tmp_path_factory):
    """The sample app pushed to a CodeCommit repo: main, plus a branch per failure switch."""
    repo_name = f"my-app-{uuid.uuid4().hex[:6]}"
    aws("codecommit").create_repository(repositoryName=repo_name)
    work = tmp_path_factory.mktemp("sample") / "my-app"
    tracked = subprocess.run(
        ["git", "-C", str(SAMPLE_APP), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in tracked:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SAMPLE_APP / rel, work / rel)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "my-app")
    url = f"{emulator.url}/v1/repos/{repo_name}"
    git(work, "push", "-q", url, "main")
    for switch in ("failing-test", "lint-error", "buildspec-syntax"):
        git(work, "checkout", "-q", "-b", switch, "main")
        git(work, "apply", f"failures/{switch}.patch")
        git(work, "commit", "-q", "-am", f"switch on {switch}")
        git(work, "push", "-q", url, switch)
    aws("ssm").put_parameter(
        Name="/my-app/dev/log-level", Value="info", Type="String", Overwrite=True
    )
    return repo_name


@pytest.fixture(scope="module")
def project(aws, sample):
    role = make_role(aws, f"cb-sample-{uuid.uuid4().hex[:6]}", service="codebuild.amazonaws.com")
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    name = f"my-app-build-{uuid.uuid4().hex[:6]}"
    aws("codebuild").create_project(
        name=name,
        serviceRole=role,
        environment=environment(),
        source={
            "type": "CODECOMMIT",
            "location": f"https://git-codecommit.us-east-1.amazonaws.com/v1/repos/{sample}",
        },
        artifacts={"type": "S3", "location": bucket, "name": "my-app.zip", "packaging": "ZIP"},
        cache={"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
    )
    return {"name": name, "bucket": bucket}


def build(aws, project, version: str) -> dict:
    cb = aws("codebuild")
    started = cb.start_build(projectName=project["name"], sourceVersion=version)["build"]
    return wait_for(cb, started["id"], seconds=600)


def test_sample_app_builds_a_deployable_zip(aws, project):
    first = build(aws, project, "refs/heads/main")
    text = log_text(aws, first)
    assert first["buildStatus"] == "SUCCEEDED", (statuses(first), text[-3000:])
    assert first["exportedEnvironmentVariables"] == [{"name": "APP_VERSION", "value": "1.0.0"}]
    data = aws("s3").get_object(Bucket=project["bucket"], Key="my-app.zip")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {"appspec.yml", "app.js", "server.js", "package.json", "build-info.json"} <= names
    assert any(n.startswith("node_modules/express/") for n in names)
    assert not any(n.startswith("node_modules/eslint/") for n in names)  # dev tools stay behind
    scripts = [
        i
        for i in archive.infolist()
        if i.filename.startswith("scripts/") and i.filename.endswith(".sh")
    ]
    assert scripts and all((i.external_attr >> 16) & 0o100 for i in scripts)  # still executable
    assert b"hooks" in archive.read("appspec.yml")
    report_arn = first["reportArns"][0]
    report = aws("codebuild").batch_get_reports(reportArns=[report_arn])["reports"][0]
    assert report["name"] == f"{project['name']}-unit-tests" and report["status"] == "SUCCEEDED"
    assert report["testSummary"]["total"] > 0

    second = build(aws, project, "refs/heads/main")
    assert second["buildStatus"] == "SUCCEEDED"
    assert "Restored cache" in log_text(aws, second)
    install = [phases(b)["INSTALL"]["durationInSeconds"] for b in (first, second)]
    print(
        f"INSTALL took {install[0]} s without cache, {install[1]} s with it"
    )  # measured, not asserted


def test_failing_test_fails_build_and_post_build_refuses_to_bundle(aws, project):
    result = build(aws, project, "failing-test")
    by_type = phases(result)
    assert result["buildStatus"] == "FAILED"
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert (
        by_type["BUILD"]["contexts"][0]["message"]
        == "Error while executing command: npm test. Reason: exit status 1"
    )
    assert by_type["POST_BUILD"]["phaseStatus"] == "FAILED"
    assert "no deployment bundle is made" in log_text(aws, result)
    report = aws("codebuild").batch_get_reports(reportArns=result["reportArns"])["reports"][0]
    assert report["status"] == "FAILED" and report["testSummary"]["statusCounts"]["FAILED"] >= 1


def test_lint_error_fails_pre_build_and_skips_build(aws, project):
    result = build(aws, project, "lint-error")
    assert result["buildStatus"] == "FAILED"
    assert (
        phases(result)["PRE_BUILD"]["contexts"][0]["message"]
        == "Error while executing command: npm run lint. Reason: exit status 1"
    )
    assert "BUILD" not in phases(result) and "POST_BUILD" not in phases(result)


def test_buildspec_syntax_error_fails_download_source(aws, project):
    result = build(aws, project, "buildspec-syntax")
    context = phases(result)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert context["statusCode"] == "YAML_FILE_ERROR" and "line" in context["message"]
    assert "INSTALL" not in phases(result)


def test_codedeploy_installs_the_built_zip(aws, emulator, project):
    """Done when: the zip CodeBuild made from CodeCommit is a revision CodeDeploy can install."""
    from bundles import Fleet, http_get

    result = build(aws, project, "refs/heads/main")
    assert result["buildStatus"] == "SUCCEEDED"
    bucket, key = result["artifacts"]["location"].removeprefix("arn:aws:s3:::").split("/", 1)
    role = make_role(aws, f"cd-from-cb-{uuid.uuid4().hex[:6]}", service="codedeploy.amazonaws.com")
    fleet = Fleet(aws, emulator, 1)
    try:
        fleet.create_group(role)
        revision = {
            "revisionType": "S3",
            "s3Location": {"bucket": bucket, "key": key, "bundleType": "zip"},
        }
        deployment = fleet.deploy_and_wait(revision)
        assert deployment["status"] == "Succeeded", deployment
        host = next(iter(fleet.hosts().values()))
        assert http_get(host["url"] + "/")[1] == "Hello from CI/CD Pipeline v1.0.0!"
    finally:
        fleet.terminate()
