"""CodeCommit state: repositories (bare git repositories on disk), their tags and branches."""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.git_repo import SHA_PATTERN, GitRepository

REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_TAGS = 50
# Characters git refuses in a ref name (see `git check-ref-format`).
BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Repository:
    name: str
    account_id: str
    region: str
    git: GitRepository
    owner: CodeCommitBackend
    description: str | None = None
    repository_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = field(default_factory=now)
    last_modified: datetime = field(default_factory=now)
    default_branch: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    triggers: list[dict] = field(default_factory=list)
    triggers_configuration_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    approval_templates: list[str] = field(default_factory=list)  # associated template names
    # Serialises every write to the git repository (API writes and pushes).
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def arn(self) -> str:
        return f"arn:aws:codecommit:{self.region}:{self.account_id}:{self.name}"

    def metadata(self, base_url: str) -> dict:
        return {
            "accountId": self.account_id,
            "repositoryId": self.repository_id,
            "repositoryName": self.name,
            "repositoryDescription": self.description,
            "defaultBranch": self.default_branch,
            "lastModifiedDate": self.last_modified,
            "creationDate": self.created,
            "cloneUrlHttp": f"{base_url}/v1/repos/{self.name}",
            # No SSH server in the emulator; the URL keeps AWS's form for teaching.
            "cloneUrlSsh": f"ssh://git-codecommit.{self.region}.amazonaws.com/v1/repos/{self.name}",
            "Arn": self.arn,
        }

    def touch(self) -> None:
        self.last_modified = now()


class GitHost:
    """Every repository's folder under `<state>/git`, by name. The git URL carries no account or
    region, so a name is unique across the whole emulator."""

    def __init__(self, root_provider, base_url: str):
        self._root_provider = root_provider  # the folder is (re)created lazily: reset empties it
        self.base_url = base_url
        self.lock = threading.RLock()
        self.repositories: dict[str, Repository] = {}

    def path_for(self, name: str) -> Path:
        return self._root_provider() / f"{name}.git"

    def find(self, name: str) -> Repository | None:
        with self.lock:
            return self.repositories.get(name)

    def reset(self) -> None:
        with self.lock:
            self.repositories.clear()


class CodeCommitBackend:
    """One account and region's repositories, pull requests and approval rule templates."""

    def __init__(self, account_id: str, region: str, host: GitHost, notifier=None):
        self.account_id = account_id
        self.region = region
        self.host = host
        self.notifier = notifier  # announces reference changes (events, triggers, pull requests)
        self.repositories: dict[str, Repository] = {}
        self.lock = threading.RLock()
        self.pull_requests: dict[str, object] = {}  # id -> PullRequest (see pullrequests.py)

    # --- repositories ---------------------------------------------------------------
    def create_repository(self, name: str, description: str | None, tags: dict | None) -> Repository:
        check_repository_name(name)
        check_description(description)
        tags = dict(tags or {})
        check_tags(tags)
        with self.host.lock:
            if name in self.repositories:
                raise exc.RepositoryNameExistsException(f"Repository named {name} already exists")
            if self.host.find(name):
                raise exc.RepositoryNameExistsException(
                    f"Repository named {name} already exists in another account or region of this "
                    "emulator; its git URL /v1/repos/<name> must be unique. Choose another name.")
            path = self.host.path_for(name)
            shutil.rmtree(path, ignore_errors=True)  # leftovers of a failed create or a reset
            repo = Repository(name, self.account_id, self.region, GitRepository(path), self,
                              description=description, tags=tags)
            try:
                repo.git.create()
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self.host.repositories[name] = repo
            self.repositories[name] = repo
        return repo

    def get_repository(self, name: str | None) -> Repository:
        if not name:
            raise exc.RepositoryNameRequiredException("A repository name is required.")
        repo = self.repositories.get(name)
        if repo is None:
            if not REPOSITORY_NAME.match(name):
                check_repository_name(name)
            raise exc.RepositoryDoesNotExistException(f"{name} does not exist")
        return repo

    def list_repositories(self, sort_by: str, order: str) -> list[Repository]:
        key = (lambda r: r.last_modified) if sort_by == "lastModifiedDate" else (lambda r: r.name)
        return sorted(self.repositories.values(), key=key, reverse=(order == "descending"))

    def delete_repository(self, name: str) -> str | None:
        check_repository_name(name)
        with self.host.lock:
            repo = self.repositories.pop(name, None)
            if repo is None:
                return None  # AWS answers success without an id for a missing repository
            self.host.repositories.pop(name, None)
        with repo.lock:
            shutil.rmtree(repo.git.path, ignore_errors=True)
        for request_id in [k for k, pr in self.pull_requests.items() if pr.repository is repo]:
            self.pull_requests.pop(request_id)
        return repo.repository_id

    def rename_repository(self, old: str, new: str) -> None:
        repo = self.get_repository(old)
        check_repository_name(new)
        if old == new:
            return
        with self.host.lock, repo.lock:
            if new in self.repositories or self.host.find(new):
                raise exc.RepositoryNameExistsException(f"Repository named {new} already exists")
            new_path = self.host.path_for(new)
            repo.git.path.rename(new_path)
            repo.git = GitRepository(new_path)
            del self.repositories[old], self.host.repositories[old]
            repo.name = new
            self.repositories[new] = self.host.repositories[new] = repo
            repo.touch()

    def update_description(self, name: str, description: str | None) -> None:
        repo = self.get_repository(name)
        check_description(description)
        repo.description = description
        repo.touch()

    # --- tags -----------------------------------------------------------------------
    def repository_for_arn(self, arn: str) -> Repository:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "codecommit"] or not parts[5]:
            raise exc.InvalidResourceArnException(
                f"The value for the resource ARN is not valid: {arn}. Use the form "
                "arn:aws:codecommit:<region>:<account-id>:<repository-name>.")
        if parts[3] != self.region or parts[4] != self.account_id:
            raise exc.RepositoryDoesNotExistException(f"{parts[5]} does not exist")
        return self.get_repository(parts[5])

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        repo = self.repository_for_arn(arn)
        merged = {**repo.tags, **tags}
        check_tags(tags)
        if len(merged) > MAX_TAGS:
            raise exc.TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags.")
        repo.tags = merged

    def untag(self, arn: str, keys: list[str]) -> None:
        repo = self.repository_for_arn(arn)
        if any(k.lower().startswith("aws:") for k in keys):
            raise exc.InvalidSystemTagUsageException("Tags that start with aws: are reserved by AWS.")
        for key in keys:
            repo.tags.pop(key, None)

    # --- branches -------------------------------------------------------------------
    def branch_tip(self, repo: Repository, branch: str | None) -> str:
        if not branch:
            raise exc.BranchNameRequiredException("A branch name is required.")
        check_branch_name(branch)
        tip = repo.git.branches().get(branch)
        if tip is None:
            raise exc.BranchDoesNotExistException(
                f"Branch '{branch}' does not exist in repository '{repo.name}'.")
        return tip

    def create_branch(self, repo: Repository, branch: str, commit_id: str, caller: str) -> None:
        check_branch_name(branch)
        with repo.lock:
            commit = self.resolve_commit_id(repo, commit_id)
            if branch in repo.git.branches():
                raise exc.BranchNameExistsException(
                    f"Branch named {branch} already exists in repository {repo.name}.")
            if not repo.git.update_ref(f"refs/heads/{branch}", commit, None):
                raise exc.BranchNameExistsException(f"Branch named {branch} already exists.")
            self.reference_changed(repo, [(f"refs/heads/{branch}", None, commit)], caller)

    def delete_branch(self, repo: Repository, branch: str, caller: str) -> dict | None:
        check_branch_name(branch)
        with repo.lock:
            tip = repo.git.branches().get(branch)
            if tip is None:
                return None  # as AWS: nothing to delete is not an error
            if branch == repo.default_branch:
                raise exc.DefaultBranchCannotBeDeletedException(
                    f"The default branch {branch} cannot be deleted. Make another branch the "
                    "default branch (UpdateDefaultBranch) first.")
            repo.git.delete_ref(f"refs/heads/{branch}", tip)
            self.reference_changed(repo, [(f"refs/heads/{branch}", tip, None)], caller)
        return {"branchName": branch, "commitId": tip}

    def update_default_branch(self, repo: Repository, branch: str) -> None:
        self.branch_tip(repo, branch)
        with repo.lock:
            repo.default_branch = branch
            repo.git.set_head(branch)
            repo.touch()

    def resolve_commit_id(self, repo: Repository, commit_id: str | None) -> str:
        """A full commit id that names an existing commit, or the AWS error for it."""
        if not commit_id:
            raise exc.CommitIdRequiredException("A commit ID is required.")
        if not re.match(r"^[0-9a-fA-F]{4,40}$", commit_id):
            raise exc.InvalidCommitIdException(f"The specified commit ID is not valid: {commit_id}")
        commit = repo.git.resolve_commit(commit_id.lower())
        if commit is None:
            raise exc.CommitDoesNotExistException(
                f"Could not find commit {commit_id} in repository {repo.name}.")
        return commit

    def resolve_specifier(self, repo: Repository, specifier: str | None) -> str:
        """A commit from a commit id, branch name or tag; none given means the default branch."""
        spec = specifier or repo.default_branch
        if not spec:
            raise exc.CommitDoesNotExistException(
                f"The repository {repo.name} is empty: it has no commits yet.")
        if spec in repo.git.branches():
            return repo.git.branches()[spec]
        commit = repo.git.resolve_commit(spec)
        if commit is None:
            raise exc.CommitDoesNotExistException(
                f"Could not find a commit, branch or tag named {spec} in repository {repo.name}.")
        return commit

    # --- reference changes from the API and from git pushes -------------------------
    def reference_changed(self, repo: Repository, changes: list[tuple[str, str | None, str | None]],
                          caller: str) -> None:
        """Record ref changes [(ref, old or None, new or None)]: default branch, events, triggers."""
        if not changes:
            return
        repo.touch()
        self._settle_default_branch(repo, changes)
        if self.notifier is not None:
            self.notifier(repo, changes, caller)

    def _settle_default_branch(self, repo: Repository, changes) -> None:
        branches = repo.git.branches()
        if repo.default_branch in branches:
            return
        created = [ref[len("refs/heads/"):] for ref, old, new in changes
                   if new and ref.startswith("refs/heads/")]
        # The first branch pushed or created becomes the default; in a push of several,
        # prefer the conventional names.
        for name in ("main", "master", *created, *sorted(branches)):
            if name in branches:
                repo.default_branch = name
                repo.git.set_head(name)
                return
        repo.default_branch = None


def check_repository_name(name: str) -> None:
    if not name:
        raise exc.RepositoryNameRequiredException("A repository name is required.")
    if not REPOSITORY_NAME.match(name) or name.endswith(".git") or name in (".", ".."):
        raise exc.InvalidRepositoryNameException(
            f"The repository name '{name}' is not valid. Repository names can be any valid "
            "combination of letters, numbers, periods, underscores, and dashes between 1 and 100 "
            "characters in length, and cannot end in .git. Names are case sensitive.")


def check_description(description: str | None) -> None:
    if description is not None and len(description) > 1000:
        raise exc.InvalidRepositoryDescriptionException(
            "The repository description is not valid: it can be at most 1,000 characters.")


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise exc.TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags.")
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            raise exc.InvalidSystemTagUsageException(
                f"The tag key {key} is not valid: keys that start with aws: are reserved by AWS.")
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise exc.InvalidTagsMapException(
                f"The tag {key}={value} is not valid: keys are 1-128 characters, values at most 256.")


def check_branch_name(name: str | None) -> None:
    if not name:
        raise exc.BranchNameRequiredException("A branch name is required.")
    bad = (len(name) > 256 or BAD_REF_CHARS.search(name) or ".." in name or "@{" in name
           or name.startswith(("-", "/", ".")) or name.endswith(("/", ".", ".lock"))
           or "//" in name or "/." in name or name == "@" or SHA_PATTERN.match(name))
    if bad:
        raise exc.InvalidBranchNameException(
            f"The specified branch name is not valid: {name}. Use a valid git branch name.")
