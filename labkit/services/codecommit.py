"""CodeCommit helpers: clone, commit and push with real git, on the emulator or through AWS's credential helper."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd

from labkit.services.sample_app import copy_sample_app

GIT_USER = ("labkit learner", "learner@example.com")


class GitError(RuntimeError):
    pass


def git_options(lab) -> list[str]:
    """`-c` options for git: on AWS, the CLI's credential helper signs HTTPS requests with your keys."""
    if lab.backend != "aws":
        return []  # the emulator listens on loopback only and asks for no credentials
    return ["-c", "credential.helper=", "-c", "credential.helper=!aws codecommit credential-helper $@",
            "-c", "credential.UseHttpPath=true"]


def git(lab, workdir: Path, *args: str, check: bool = True) -> str:
    """Run git in `workdir` with the lab's credential set-up; return its output."""
    done = subprocess.run(["git", *git_options(lab), "-C", str(workdir), *args],
                          capture_output=True, text=True)
    if check and done.returncode:
        raise GitError(f"git {' '.join(args)} failed in {workdir}:\n{done.stderr.strip()}")
    return (done.stdout + done.stderr).strip()


def work_dir(lab, name: str = "my-app") -> Path:
    """Where the learner's clone lives: `<state dir>/work/<name>`."""
    return Path(lab.state_dir) / "work" / name


def clone_url(lab, repository: str) -> str:
    metadata = lab.client("codecommit").get_repository(repositoryName=repository)["repositoryMetadata"]
    return metadata["cloneUrlHttp"]


def clone(lab, repository: str, destination: Path | None = None) -> Path:
    """A fresh clone of `repository` (an existing folder there is replaced)."""
    destination = destination or work_dir(lab)
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    git(lab, destination.parent, "clone", "-q", clone_url(lab, repository), destination.name)
    set_identity(lab, destination)
    return destination


def set_identity(lab, workdir: Path) -> None:
    git(lab, workdir, "config", "user.name", GIT_USER[0])
    git(lab, workdir, "config", "user.email", GIT_USER[1])


def branch_exists(lab, repository: str, branch: str) -> bool:
    client = lab.client("codecommit")
    try:
        client.get_branch(repositoryName=repository, branchName=branch)
        return True
    except client.exceptions.BranchDoesNotExistException:
        return False


def push_sample_app(lab, repository: str, workdir: Path | None = None,
                    branch: str = "main") -> Path:
    """Put the sample app on `branch` of an empty repository; if it is there already, just clone it."""
    if branch_exists(lab, repository, branch):
        return clone(lab, repository, workdir)
    workdir = workdir or work_dir(lab)
    if workdir.exists():
        shutil.rmtree(workdir)
    copy_sample_app(workdir)
    git(lab, workdir, "init", "-q", "-b", branch)
    set_identity(lab, workdir)
    git(lab, workdir, "remote", "add", "origin", clone_url(lab, repository))
    git(lab, workdir, "add", ".")
    git(lab, workdir, "commit", "-q", "-m", "Add my-app, the sample service")
    git(lab, workdir, "push", "-q", "-u", "origin", branch)
    return workdir


def commit_and_push(lab, workdir: Path, message: str, branch: str | None = None,
                    force: bool = False) -> str:
    """Commit every change in `workdir` and push it; return the new commit id.

    `force` replaces the remote branch (for throw-away demo branches a chapter remakes each run)."""
    git(lab, workdir, "add", "-A")
    git(lab, workdir, "commit", "-q", "-m", message)
    target = branch or git(lab, workdir, "rev-parse", "--abbrev-ref", "HEAD")
    git(lab, workdir, "push", "-q", *(["--force"] if force else []), "origin", f"HEAD:{target}")
    return git(lab, workdir, "rev-parse", "HEAD")


def log_table(lab, workdir: Path, count: int = 10) -> pd.DataFrame:
    """The last commits of the checked-out branch: short id and subject (no dates: they vary)."""
    out = git(lab, workdir, "log", f"-{count}", "--format=%h%x09%s")
    rows = [dict(zip(("commit", "message"), line.split("\t", 1), strict=False))
            for line in out.splitlines() if line]
    return pd.DataFrame(rows, columns=["commit", "message"])


def branches_table(lab, repository: str) -> pd.DataFrame:
    client = lab.client("codecommit")
    names = client.list_branches(repositoryName=repository)["branches"]
    rows = []
    for name in sorted(names):
        branch = client.get_branch(repositoryName=repository, branchName=name)["branch"]
        commit = client.get_commit(repositoryName=repository, commitId=branch["commitId"])["commit"]
        rows.append({"branch": name, "commit": branch["commitId"][:7],
                     "message": commit["message"].strip().splitlines()[0]})
    return pd.DataFrame(rows, columns=["branch", "commit", "message"])


def approvals_table(lab, pull_request_id: str, revision_id: str) -> pd.DataFrame:
    """Who approved the pull request's revision, and what the rules say about it."""
    client = lab.client("codecommit")
    approvals = client.get_pull_request_approval_states(
        pullRequestId=pull_request_id, revisionId=revision_id)["approvals"]
    rows = [{"reviewer": a["userArn"].rsplit("/", 1)[-1], "state": a["approvalState"]} for a in approvals]
    return pd.DataFrame(rows, columns=["reviewer", "state"])
