"""The AWS CLI's `aws codecommit ...` commands against the emulator work like the boto3 calls."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

AWS = str(Path(sys.executable).parent / "aws")


@pytest.fixture
def aws_cli(emulator, tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "labkit-cli",
           "AWS_SECRET_ACCESS_KEY": "labkit-cli-secret", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PAGER": ""}

    def run(*args, check=True):
        done = subprocess.run([AWS, "codecommit", *args, "--output", "json"], env=env,
                              capture_output=True, text=True, timeout=60)
        if check:
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout) if done.stdout.strip() else {}
        return done

    return run


def test_cli_repository_file_branch_and_pull_request_flow(aws_cli, tmp_path, emulator):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    meta = aws_cli("create-repository", "--repository-name", name,
                   "--repository-description", "from the CLI", "--tags", "team=course")["repositoryMetadata"]
    assert meta["cloneUrlHttp"] == f"{emulator.url}/v1/repos/{name}"
    source = tmp_path / "index.js"
    source.write_bytes(b"console.log('cli')\n")
    put = aws_cli("put-file", "--repository-name", name, "--branch-name", "main",
                  "--file-path", "index.js", "--file-content", f"fileb://{source}",
                  "--commit-message", "first", "--name", "CLI", "--email", "cli@example.com")
    got = aws_cli("get-file", "--repository-name", name, "--file-path", "index.js")
    assert got["commitId"] == put["commitId"]
    assert got["fileContent"]  # base64 text, as the CLI prints blobs
    aws_cli("create-branch", "--repository-name", name, "--branch-name", "feature",
            "--commit-id", put["commitId"])
    assert sorted(aws_cli("list-branches", "--repository-name", name)["branches"]) == ["feature", "main"]
    aws_cli("create-commit", "--repository-name", name, "--branch-name", "feature",
            "--parent-commit-id", put["commitId"],
            "--put-files", "filePath=a.txt,fileContent=YQ==", "filePath=b.txt,fileContent=Yg==")
    # The CLI pages through get-differences by itself.
    diffs = aws_cli("get-differences", "--repository-name", name, "--before-commit-specifier", "main",
                    "--after-commit-specifier", "feature", "--page-size", "1")["differences"]
    assert sorted(d["afterBlob"]["path"] for d in diffs) == ["a.txt", "b.txt"]
    pr = aws_cli("create-pull-request", "--title", "CLI change", "--targets",
                 f"repositoryName={name},sourceReference=feature,destinationReference=main")["pullRequest"]
    merged = aws_cli("merge-pull-request-by-fast-forward", "--pull-request-id", pr["pullRequestId"],
                     "--repository-name", name)["pullRequest"]
    assert merged["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is True
    listed = aws_cli("list-repositories")["repositories"]
    assert name in [r["repositoryName"] for r in listed]

    failed = aws_cli("get-repository", "--repository-name", name + "-missing", check=False)
    assert failed.returncode != 0 and "RepositoryDoesNotExistException" in failed.stderr
    failed = aws_cli("get-branch", "--repository-name", name, "--branch-name", "nope", check=False)
    assert "BranchDoesNotExistException" in failed.stderr
    assert aws_cli("delete-repository", "--repository-name", name)["repositoryId"] == meta["repositoryId"]
