"""Source actions: a CodeCommit branch from the emulator's git, or an S3 object version."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed

CODECOMMIT_CONSOLE = "https://console.aws.amazon.com/codesuite/codecommit/repositories"


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        raise ActionFailed(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def codecommit(ctx: ActionContext) -> None:
    config = ctx.configuration
    name, branch = config["RepositoryName"], config["BranchName"]
    repo = ctx.runtime.state_dir / "git" / f"{name}.git"
    if not repo.is_dir():
        raise ActionFailed(
            f"The action failed because the AWS CodeCommit repository {name} does not exist "
            "or was deleted. Check the RepositoryName in the action's configuration.")
    repo_arn = ctx.arn("codecommit", name)
    for action in ("codecommit:GetBranch", "codecommit:GetCommit", "codecommit:UploadArchive",
                   "codecommit:GetUploadArchiveStatus"):
        ctx.authorize(action, repo_arn)
    override = ctx.execution.source_overrides.get(ctx.run.name)
    commit = override["revisionValue"] if override else _branch_head(repo, name, branch)
    details = _git(repo, "show", "-s", "--format=%H%n%an%n%aI%n%cI%n%B", commit).split("\n", 4)
    commit_id, _author, author_date, committer_date, message = details
    message = message.strip()
    if config.get("OutputArtifactFormat", "CODE_ZIP") == "CODEBUILD_CLONE_REF":
        data = _zip_of_clone(repo, commit_id)
    else:
        data = _git_archive(repo, commit_id)
    for artifact in ctx.action["outputArtifacts"]:
        ctx.write_artifact(artifact["name"], data)
    ctx.run.external_id = commit_id
    ctx.run.external_url = f"{CODECOMMIT_CONSOLE}/{name}/commit/{commit_id}?region={ctx.region}"
    ctx.run.summary = message.splitlines()[0] if message else None
    ctx.run.revision = {"revisionId": commit_id, "revisionChangeId": commit_id,
                        "created": committer_date, "summary": message,
                        "url": ctx.run.external_url}
    ctx.run.output_variables = {
        "CommitId": commit_id, "BranchName": branch, "RepositoryName": name,
        "CommitMessage": message, "AuthorDate": author_date, "CommitterDate": committer_date,
    }


def _branch_head(repo: Path, name: str, branch: str) -> str:
    result = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet",
                             f"refs/heads/{branch}"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise ActionFailed(
            f"The action failed because no branch named {branch} was found in the selected AWS "
            f"CodeCommit repository {name}. Make sure you are using the correct branch name, "
            "and then try again.")
    return result.stdout.strip()


def _git_archive(repo: Path, commit: str) -> bytes:
    result = subprocess.run(["git", "--git-dir", str(repo), "archive", "--format=zip", commit],
                            capture_output=True, timeout=120)
    if result.returncode != 0:
        raise ActionFailed(f"Could not archive commit {commit}: {result.stderr.decode().strip()}")
    return result.stdout


def _zip_of_clone(repo: Path, commit: str) -> bytes:
    """CODEBUILD_CLONE_REF: the build gets a real clone (with .git), checked out at the commit."""
    work = Path(tempfile.mkdtemp(prefix="clone-ref-"))
    try:
        target = work / "src"
        subprocess.run(["git", "clone", "--quiet", str(repo), str(target)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run(["git", "-C", str(target), "checkout", "--quiet", commit], check=True,
                       capture_output=True, timeout=60)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(target).as_posix())
        return buffer.getvalue()
    except subprocess.CalledProcessError as exc:
        raise ActionFailed(f"Could not clone the repository: {exc.stderr!r}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def s3(ctx: ActionContext) -> None:
    from moto.s3.models import s3_backends

    config = ctx.configuration
    bucket_name, key_name = config["S3Bucket"], config["S3ObjectKey"]
    backend = s3_backends[ctx.account_id]["aws"]
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        raise ActionFailed(f"The source bucket {bucket_name} does not exist.")
    if bucket.versioning_status != "Enabled":
        raise ActionFailed(
            f"The source bucket {bucket_name} is not versioned. An S3 source action needs a "
            "bucket with versioning enabled.")
    ctx.authorize("s3:GetBucketVersioning", f"arn:aws:s3:::{bucket_name}")
    ctx.authorize("s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key_name}")
    override = ctx.execution.source_overrides.get(ctx.run.name)
    version_id = override["revisionValue"] if override else None
    key = backend.get_object(bucket_name, key_name, version_id=version_id)
    if key is None:
        raise ActionFailed(f"The object s3://{bucket_name}/{key_name} does not exist.")
    for artifact in ctx.action["outputArtifacts"]:
        ctx.write_artifact(artifact["name"], key.value)
    etag = key.etag.strip('"')
    ctx.run.external_id = key.version_id or etag
    ctx.run.summary = f"Amazon S3 version id: {key.version_id}"
    ctx.run.revision = {"revisionId": key.version_id or etag, "revisionChangeId": etag,
                        "created": key.last_modified_ISO8601, "summary": ctx.run.summary}
    ctx.run.output_variables = {"ETag": etag, "VersionId": str(key.version_id or "")}
