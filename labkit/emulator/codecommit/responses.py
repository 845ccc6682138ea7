"""CodeCommit requests: JSON in, model call, JSON out."""

from __future__ import annotations

import base64
import binascii

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.events import ReferenceNotifier
from labkit.emulator.codecommit.files import MAX_FILE_ENTRIES, MAX_FILE_SIZE, CommitRequest, FileStore, normalise_path
from labkit.emulator.codecommit.git_http import GitHttpApp
from labkit.emulator.codecommit.identity import caller_arn, user_name
from labkit.emulator.codecommit.models import CodeCommitBackend, GitHost, Repository
from labkit.emulator.codecommit.paging import page, page_size
from labkit.emulator.codecommit.pullrequests import PullRequestBook
from labkit.emulator.codecommit.triggers import run_trigger_test, validate_triggers
from labkit.emulator.json_api import JsonService, ValidationException

REPOSITORIES_PAGE = 1000  # ListRepositories returns at most this many names per call, as AWS
BRANCHES_PAGE = 100
DIFFERENCES_PAGE = 100
MAX_BATCH_REPOSITORIES = 25
MAX_BATCH_COMMITS = 100


class CodeCommitResponses(JsonService):
    service_name = "codecommit"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.host = GitHost(lambda: runtime.dir("git"), runtime.url)
        notifier = ReferenceNotifier(runtime)

        def new_backend(account_id: str, region: str) -> CodeCommitBackend:
            backend = CodeCommitBackend(account_id, region, self.host, notifier)
            backend.pull_request_book = PullRequestBook(backend)
            return backend

        self.backends = RegionalBackends(new_backend)
        self.git_app = GitHttpApp(self.host)
        runtime.on_reset(self.backends.reset)
        runtime.on_reset(self.host.reset)

    def _backend(self, ctx) -> CodeCommitBackend:
        return self.backends.get(ctx.account_id, ctx.region)

    def _repo(self, params, ctx, key: str = "repositoryName") -> Repository:
        return self._backend(ctx).get_repository(params.get(key))

    def _metadata(self, repo: Repository) -> dict:
        return repo.metadata(self.host.base_url)

    # --- repositories ---------------------------------------------------------------
    def create_repository(self, params, ctx):
        if params.get("kmsKeyId"):
            pass  # accepted and ignored: the emulator does not encrypt repositories
        repo = self._backend(ctx).create_repository(params["repositoryName"],
                                                    params.get("repositoryDescription"),
                                                    params.get("tags"))
        return {"repositoryMetadata": self._metadata(repo)}

    def get_repository(self, params, ctx):
        return {"repositoryMetadata": self._metadata(self._repo(params, ctx))}

    def list_repositories(self, params, ctx):
        sort_by = params.get("sortBy", "repositoryName")
        order = params.get("order", "ascending")
        if sort_by not in ("repositoryName", "lastModifiedDate"):
            raise exc.InvalidSortByException(f"The sortBy value {sort_by} is not valid.")
        if order not in ("ascending", "descending"):
            raise exc.InvalidOrderException(f"The order value {order} is not valid.")
        repos = self._backend(ctx).list_repositories(sort_by, order)
        chunk, token = page(repos, params.get("nextToken"), REPOSITORIES_PAGE)
        return {"repositories": [{"repositoryName": r.name, "repositoryId": r.repository_id}
                                 for r in chunk], "nextToken": token}

    def batch_get_repositories(self, params, ctx):
        names = params["repositoryNames"]
        if not names:
            raise exc.RepositoryNamesRequiredException("At least one repository name is required.")
        if len(names) > MAX_BATCH_REPOSITORIES:
            raise exc.MaximumRepositoryNamesExceededException(
                f"At most {MAX_BATCH_REPOSITORIES} repository names can be given at once.")
        backend = self._backend(ctx)
        found, missing, errors = [], [], []
        for name in names:
            repo = backend.repositories.get(name)
            if repo is None:
                missing.append(name)
                errors.append({"repositoryName": name, "errorCode": "RepositoryDoesNotExistException",
                               "errorMessage": f"{name} does not exist"})
            else:
                found.append(self._metadata(repo))
        return {"repositories": found, "repositoriesNotFound": missing, "errors": errors}

    def delete_repository(self, params, ctx):
        return {"repositoryId": self._backend(ctx).delete_repository(params["repositoryName"])}

    def update_repository_name(self, params, ctx):
        self._backend(ctx).rename_repository(params["oldName"], params["newName"])

    def update_repository_description(self, params, ctx):
        self._backend(ctx).update_description(params["repositoryName"], params.get("repositoryDescription"))

    def tag_resource(self, params, ctx):
        self._backend(ctx).tag(params["resourceArn"], params["tags"])

    def untag_resource(self, params, ctx):
        self._backend(ctx).untag(params["resourceArn"], params["tagKeys"])

    def list_tags_for_resource(self, params, ctx):
        return {"tags": dict(self._backend(ctx).repository_for_arn(params["resourceArn"]).tags)}

    # --- branches -------------------------------------------------------------------
    def create_branch(self, params, ctx):
        repo = self._repo(params, ctx)
        self._backend(ctx).create_branch(repo, params["branchName"], params["commitId"], caller_arn(ctx))

    def get_branch(self, params, ctx):
        repo = self._repo(params, ctx)
        tip = self._backend(ctx).branch_tip(repo, params.get("branchName"))
        return {"branch": {"branchName": params["branchName"], "commitId": tip}}

    def list_branches(self, params, ctx):
        repo = self._repo(params, ctx)
        chunk, token = page(sorted(repo.git.branches()), params.get("nextToken"), BRANCHES_PAGE)
        return {"branches": chunk, "nextToken": token}

    def delete_branch(self, params, ctx):
        repo = self._repo(params, ctx)
        deleted = self._backend(ctx).delete_branch(repo, params["branchName"], caller_arn(ctx))
        return {"deletedBranch": deleted} if deleted else {}

    def update_default_branch(self, params, ctx):
        self._backend(ctx).update_default_branch(self._repo(params, ctx), params["defaultBranchName"])

    # --- files and commits ----------------------------------------------------------
    def put_file(self, params, ctx):
        repo = self._repo(params, ctx)
        path = normalise_path(params["filePath"])
        content = _decode(params["fileContent"])
        request = self._commit_request(params, ctx, f"Edited {path}")
        request.puts[path] = (params.get("fileMode"), content, None)
        result = FileStore(self._backend(ctx)).commit(repo, request, caller_arn(ctx),
                                                      same_content_error=True)
        touched = (result["filesAdded"] + result["filesUpdated"])[0]
        return {"commitId": result["commitId"], "blobId": touched["blobId"], "treeId": result["treeId"]}

    def delete_file(self, params, ctx):
        repo = self._repo(params, ctx)
        path = normalise_path(params["filePath"])
        request = self._commit_request(params, ctx, f"Deleted {path}")
        request.deletes.append(path)
        result = FileStore(self._backend(ctx)).commit(repo, request, caller_arn(ctx))
        return {"commitId": result["commitId"], "blobId": result["filesDeleted"][0]["blobId"],
                "treeId": result["treeId"], "filePath": path}

    def create_commit(self, params, ctx):
        repo = self._repo(params, ctx)
        request = self._commit_request(params, ctx, "", name_key="authorName")
        entries = (params.get("putFiles") or []) + (params.get("deleteFiles") or []) + \
            (params.get("setFileModes") or [])
        if not entries:
            raise exc.FileEntryRequiredException(
                "The commit cannot be created because no files have been specified as added, "
                "updated, or changed (PutFile or DeleteFile) for the commit.")
        if len(entries) > MAX_FILE_ENTRIES:
            raise exc.MaximumFileEntriesExceededException(
                f"A commit can change at most {MAX_FILE_ENTRIES} files.")
        seen: set[str] = set()

        def claim(path: str) -> str:
            clean = normalise_path(path)
            if clean in seen:
                raise exc.SamePathRequestException(
                    f"The path {clean} is named more than once in the request; name each path once.")
            seen.add(clean)
            return clean

        for entry in params.get("putFiles") or []:
            path = claim(entry["filePath"])
            source = entry.get("sourceFile")
            if source and "fileContent" in entry:
                raise exc.FileContentAndSourceFileSpecifiedException(
                    f"The put entry for {path} gives both fileContent and sourceFile; give one.")
            if not source and "fileContent" not in entry:
                raise exc.SourceFileOrContentRequiredException(
                    f"The put entry for {path} needs fileContent or sourceFile.")
            if source:
                source_path = normalise_path(source["filePath"])
                request.puts[path] = (entry.get("fileMode"), None, source_path)
                if source.get("isMove"):
                    request.deletes.append(claim(source_path))
            else:
                request.puts[path] = (entry.get("fileMode"), _decode(entry["fileContent"]), None)
        for entry in params.get("deleteFiles") or []:
            request.deletes.append(claim(entry["filePath"]))
        for entry in params.get("setFileModes") or []:
            request.modes[claim(entry["filePath"])] = entry["fileMode"]
        return FileStore(self._backend(ctx)).commit(repo, request, caller_arn(ctx))

    def _commit_request(self, params, ctx, default_message: str, name_key: str = "name") -> CommitRequest:
        return CommitRequest(
            branch=params["branchName"], parent=params.get("parentCommitId"),
            author=params.get(name_key) or user_name(caller_arn(ctx)),
            email=params.get("email") or "",
            message=params.get("commitMessage") or default_message)

    def get_file(self, params, ctx):
        return FileStore(self._backend(ctx)).get_file(self._repo(params, ctx), params.get("commitSpecifier"),
                                                      params["filePath"])

    def get_folder(self, params, ctx):
        return FileStore(self._backend(ctx)).get_folder(self._repo(params, ctx),
                                                        params.get("commitSpecifier"), params["folderPath"])

    def get_blob(self, params, ctx):
        return {"content": FileStore(self._backend(ctx)).get_blob(self._repo(params, ctx), params["blobId"])}

    def get_commit(self, params, ctx):
        return {"commit": FileStore(self._backend(ctx)).get_commit(self._repo(params, ctx), params["commitId"])}

    def batch_get_commits(self, params, ctx):
        repo = self._repo(params, ctx)
        ids = params["commitIds"]
        if len(ids) > MAX_BATCH_COMMITS:
            raise exc.CommitIdsLimitExceededException(
                f"At most {MAX_BATCH_COMMITS} commit IDs can be given at once.")
        store, commits, errors = FileStore(self._backend(ctx)), [], []
        for commit_id in ids:
            try:
                commits.append(store.get_commit(repo, commit_id))
            except exc.CodeCommitError as problem:
                errors.append({"commitId": commit_id, "errorCode": problem.code,
                               "errorMessage": problem.message})
        return {"commits": commits, "errors": errors}

    def get_differences(self, params, ctx):
        repo = self._repo(params, ctx)
        size = page_size(params.get("MaxResults"), DIFFERENCES_PAGE, 1000)
        found = FileStore(self._backend(ctx)).differences(
            repo, params.get("beforeCommitSpecifier"), params["afterCommitSpecifier"],
            params.get("beforePath"), params.get("afterPath"))
        chunk, token = page(found, params.get("NextToken"), size)
        return {"differences": chunk, "NextToken": token}

    # --- triggers -------------------------------------------------------------------
    def put_repository_triggers(self, params, ctx):
        repo = self._repo(params, ctx)
        repo.triggers = validate_triggers(repo, params["triggers"])
        repo.triggers_configuration_id = _new_id()
        return {"configurationId": repo.triggers_configuration_id}

    def get_repository_triggers(self, params, ctx):
        repo = self._repo(params, ctx)
        return {"configurationId": repo.triggers_configuration_id, "triggers": repo.triggers}

    def test_repository_triggers(self, params, ctx):
        return run_trigger_test(self._repo(params, ctx), params["triggers"], caller_arn(ctx))


def _decode(content) -> bytes:
    """A blob member arrives base64-encoded; refuse what is over AWS's 6 MB limit."""
    try:
        data = base64.b64decode(content or b"", validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException("fileContent is not valid base64.") from None
    if len(data) > MAX_FILE_SIZE:
        raise exc.FileContentSizeLimitExceededException(
            f"The file is {len(data)} bytes; the maximum size of a file added through the API is 6 MB. "
            "Push large files with git instead.")
    return data


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())
