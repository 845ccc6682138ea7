"""CodeCommit requests: JSON in, model call, JSON out."""

from __future__ import annotations

import base64
import binascii
import uuid

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codecommit import exceptions as exc
from labkit.emulator.codecommit.comments import CommentBook
from labkit.emulator.codecommit.events import ReferenceNotifier
from labkit.emulator.codecommit.files import (
    MAX_FILE_ENTRIES,
    MAX_FILE_SIZE,
    CommitRequest,
    FileStore,
    normalise_path,
)
from labkit.emulator.codecommit.git_http import GitHttpApp
from labkit.emulator.codecommit.merges import (
    merge_branches,
    merge_conflicts,
    merge_options,
    merge_pull_request,
)
from labkit.emulator.codecommit.models import CodeCommitBackend, GitHost, Repository
from labkit.emulator.codecommit.paging import page, page_size
from labkit.emulator.codecommit.pullrequests import PullRequestBook
from labkit.emulator.codecommit.triggers import run_trigger_test, validate_triggers
from labkit.emulator.identity import caller_arn, user_name
from labkit.emulator.json_api import JsonService, ValidationException

REPOSITORIES_PAGE = 1000  # ListRepositories returns at most this many names per call, as AWS
BRANCHES_PAGE = 100
DIFFERENCES_PAGE = 100
PULL_REQUESTS_PAGE = 100
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
            backend.comment_book = CommentBook(backend)
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
        # kmsKeyId is accepted and ignored: the emulator does not encrypt repositories.
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
            message=params.get("commitMessage") or default_message,
            keep_empty_folders=bool(params.get("keepEmptyFolders")))

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

    def list_file_commit_history(self, params, ctx):
        repo = self._repo(params, ctx)
        size = page_size(params.get("maxResults"), 100, 100)
        history = FileStore(self._backend(ctx)).file_history(repo, params.get("commitSpecifier"),
                                                             params["filePath"])
        chunk, token = page(history, params.get("nextToken"), size)
        return {"revisionDag": chunk, "nextToken": token}

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
        repo.triggers_configuration_id = str(uuid.uuid4())
        return {"configurationId": repo.triggers_configuration_id}

    def get_repository_triggers(self, params, ctx):
        repo = self._repo(params, ctx)
        return {"configurationId": repo.triggers_configuration_id, "triggers": repo.triggers}

    def test_repository_triggers(self, params, ctx):
        return run_trigger_test(self._repo(params, ctx), params["triggers"], caller_arn(ctx))

    # --- pull requests --------------------------------------------------------------
    def _book(self, ctx) -> PullRequestBook:
        return self._backend(ctx).pull_request_book

    def create_pull_request(self, params, ctx):
        pr = self._book(ctx).create(params["title"], params.get("description"), params["targets"],
                                    params.get("clientRequestToken"), caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def get_pull_request(self, params, ctx):
        return {"pullRequest": self._book(ctx).get(params["pullRequestId"]).to_dict()}

    def list_pull_requests(self, params, ctx):
        repo = self._repo(params, ctx)
        size = page_size(params.get("maxResults"), PULL_REQUESTS_PAGE, 1000)
        ids = self._book(ctx).list_ids(repo, params.get("authorArn"), params.get("pullRequestStatus"))
        chunk, token = page(ids, params.get("nextToken"), size)
        return {"pullRequestIds": chunk, "nextToken": token}

    def update_pull_request_status(self, params, ctx):
        pr = self._book(ctx).set_status(params["pullRequestId"], params["pullRequestStatus"], caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def update_pull_request_title(self, params, ctx):
        pr = self._book(ctx).set_title(params["pullRequestId"], params["title"], caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def update_pull_request_description(self, params, ctx):
        pr = self._book(ctx).set_description(params["pullRequestId"], params["description"],
                                             caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def describe_pull_request_events(self, params, ctx):
        pr = self._book(ctx).get(params["pullRequestId"])
        actor = params.get("actorArn")
        if actor and not actor.startswith("arn:"):
            raise exc.InvalidActorArnException(f"The actor ARN {actor} is not valid.")
        kind = params.get("pullRequestEventType")
        found = [e for e in pr.events if (not kind or e["pullRequestEventType"] == kind)
                 and (not actor or e["actorArn"] == actor)]
        size = page_size(params.get("maxResults"), 100, 100)
        chunk, token = page(found, params.get("nextToken"), size)
        return {"pullRequestEvents": chunk, "nextToken": token}

    def merge_pull_request_by_fast_forward(self, params, ctx):
        pr = merge_pull_request(self._book(ctx), params, "FAST_FORWARD_MERGE", caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def merge_pull_request_by_squash(self, params, ctx):
        pr = merge_pull_request(self._book(ctx), params, "SQUASH_MERGE", caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def merge_pull_request_by_three_way(self, params, ctx):
        pr = merge_pull_request(self._book(ctx), params, "THREE_WAY_MERGE", caller_arn(ctx))
        return {"pullRequest": pr.to_dict()}

    def merge_branches_by_fast_forward(self, params, ctx):
        return merge_branches(self._backend(ctx), params, "FAST_FORWARD_MERGE", caller_arn(ctx))

    def merge_branches_by_squash(self, params, ctx):
        return merge_branches(self._backend(ctx), params, "SQUASH_MERGE", caller_arn(ctx))

    def merge_branches_by_three_way(self, params, ctx):
        return merge_branches(self._backend(ctx), params, "THREE_WAY_MERGE", caller_arn(ctx))

    def get_merge_options(self, params, ctx):
        return merge_options(self._backend(ctx), self._repo(params, ctx), params["sourceCommitSpecifier"],
                             params["destinationCommitSpecifier"], params.get("conflictResolutionStrategy"))

    def get_merge_conflicts(self, params, ctx):
        result = merge_conflicts(self._backend(ctx), self._repo(params, ctx),
                                 params["sourceCommitSpecifier"], params["destinationCommitSpecifier"],
                                 params["mergeOption"], params.get("conflictResolutionStrategy"))
        size = page_size(params.get("maxConflictFiles"), 100, 100)
        chunk, token = page(result["conflictMetadataList"], params.get("nextToken"), size)
        return {**result, "conflictMetadataList": chunk, "nextToken": token}

    def post_comment_for_pull_request(self, params, ctx):
        pr = self._book(ctx).get(params["pullRequestId"])
        repo = self._repo(params, ctx)
        if pr.repository is not repo:
            raise exc.RepositoryNotAssociatedWithPullRequestException(
                f"The repository {repo.name} is not the repository of pull request {pr.pull_request_id}.")
        if not params.get("beforeCommitId"):
            raise exc.CommitIdRequiredException("A before commit ID is required.")
        posted = self._backend(ctx).comment_book.post(
            pr.comments, repo, params["beforeCommitId"], params["afterCommitId"], params.get("location"),
            params["content"], params.get("clientRequestToken"), caller_arn(ctx), pr.pull_request_id)
        pr.last_activity = posted["comment"]["lastModifiedDate"]
        return posted

    def get_comments_for_pull_request(self, params, ctx):
        pr = self._book(ctx).get(params["pullRequestId"])
        if params.get("repositoryName"):
            repo = self._repo(params, ctx)
            if pr.repository is not repo:
                raise exc.RepositoryNotAssociatedWithPullRequestException(
                    f"The repository {repo.name} is not the repository of pull request {pr.pull_request_id}.")
        size = page_size(params.get("maxResults"), 100, 100)
        threads = self._backend(ctx).comment_book.threads(pr.comments, params.get("beforeCommitId"),
                                                          params.get("afterCommitId"))
        chunk, token = page(threads, params.get("nextToken"), size)
        return {"commentsForPullRequestData": chunk, "nextToken": token}

    # --- comments on commits, replies -----------------------------------------------
    def post_comment_for_compared_commit(self, params, ctx):
        repo = self._repo(params, ctx)
        book = self._backend(ctx).comment_book
        return book.post(book.compared, repo, params.get("beforeCommitId"), params["afterCommitId"],
                         params.get("location"), params["content"], params.get("clientRequestToken"),
                         caller_arn(ctx))

    def get_comments_for_compared_commit(self, params, ctx):
        repo = self._repo(params, ctx)
        book = self._backend(ctx).comment_book
        after = self._backend(ctx).resolve_commit_id(repo, params["afterCommitId"])
        before = params.get("beforeCommitId")
        before = self._backend(ctx).resolve_commit_id(repo, before) if before else None
        mine = [p for p in book.compared if p["repositoryName"] == repo.name
                and p["afterCommitId"] == after and p["beforeCommitId"] == before]
        size = page_size(params.get("maxResults"), 100, 100)
        chunk, token = page(book.threads(mine, None, None), params.get("nextToken"), size)
        return {"commentsForComparedCommitData": chunk, "nextToken": token}

    def post_comment_reply(self, params, ctx):
        return {"comment": self._backend(ctx).comment_book.reply(
            params["inReplyTo"], params["content"], params.get("clientRequestToken"), caller_arn(ctx))}

    def get_comment(self, params, ctx):
        return {"comment": self._backend(ctx).comment_book.get(params["commentId"])}

    def update_comment(self, params, ctx):
        return {"comment": self._backend(ctx).comment_book.update(params["commentId"], params["content"],
                                                                  caller_arn(ctx))}

    def delete_comment_content(self, params, ctx):
        return {"comment": self._backend(ctx).comment_book.delete_content(params["commentId"])}

    # --- approval rule templates ----------------------------------------------------
    def _templates(self, ctx):
        return self._book(ctx).templates

    def create_approval_rule_template(self, params, ctx):
        template = self._templates(ctx).create(
            params["approvalRuleTemplateName"], params["approvalRuleTemplateContent"],
            params.get("approvalRuleTemplateDescription"), caller_arn(ctx))
        return {"approvalRuleTemplate": template.to_dict()}

    def get_approval_rule_template(self, params, ctx):
        return {"approvalRuleTemplate": self._templates(ctx).get(params["approvalRuleTemplateName"]).to_dict()}

    def list_approval_rule_templates(self, params, ctx):
        size = page_size(params.get("maxResults"), 100, 100)
        chunk, token = page(sorted(self._templates(ctx).templates), params.get("nextToken"), size)
        return {"approvalRuleTemplateNames": chunk, "nextToken": token}

    def delete_approval_rule_template(self, params, ctx):
        return {"approvalRuleTemplateId": self._templates(ctx).delete(params["approvalRuleTemplateName"])}

    def update_approval_rule_template_content(self, params, ctx):
        template = self._templates(ctx).update_content(
            params["approvalRuleTemplateName"], params["newRuleContent"],
            params.get("existingRuleContentSha256"), caller_arn(ctx))
        return {"approvalRuleTemplate": template.to_dict()}

    def update_approval_rule_template_name(self, params, ctx):
        template = self._templates(ctx).rename(params["oldApprovalRuleTemplateName"],
                                               params["newApprovalRuleTemplateName"], caller_arn(ctx))
        return {"approvalRuleTemplate": template.to_dict()}

    def update_approval_rule_template_description(self, params, ctx):
        template = self._templates(ctx).describe(params["approvalRuleTemplateName"],
                                                 params["approvalRuleTemplateDescription"], caller_arn(ctx))
        return {"approvalRuleTemplate": template.to_dict()}

    def associate_approval_rule_template_with_repository(self, params, ctx):
        self._templates(ctx).associate(params["approvalRuleTemplateName"], self._repo(params, ctx))

    def disassociate_approval_rule_template_from_repository(self, params, ctx):
        self._templates(ctx).disassociate(params["approvalRuleTemplateName"], self._repo(params, ctx))

    def batch_associate_approval_rule_template_with_repositories(self, params, ctx):
        done, errors = self._batch_templates(params, ctx, "associate")
        return {"associatedRepositoryNames": done, "errors": errors}

    def batch_disassociate_approval_rule_template_from_repositories(self, params, ctx):
        done, errors = self._batch_templates(params, ctx, "disassociate")
        return {"disassociatedRepositoryNames": done, "errors": errors}

    def _batch_templates(self, params, ctx, action: str):
        templates, names = self._templates(ctx), params["repositoryNames"]
        templates.get(params["approvalRuleTemplateName"])
        if not names:
            raise exc.RepositoryNamesRequiredException("At least one repository name is required.")
        if len(names) > MAX_BATCH_REPOSITORIES:
            raise exc.MaximumRepositoryNamesExceededException(
                f"At most {MAX_BATCH_REPOSITORIES} repository names can be given at once.")
        done, errors = [], []
        for name in names:
            try:
                getattr(templates, action)(params["approvalRuleTemplateName"],
                                           self._backend(ctx).get_repository(name))
                done.append(name)
            except exc.CodeCommitError as problem:
                errors.append({"repositoryName": name, "errorCode": problem.code,
                               "errorMessage": problem.message})
        return done, errors

    def list_associated_approval_rule_templates_for_repository(self, params, ctx):
        repo = self._repo(params, ctx)
        size = page_size(params.get("maxResults"), 100, 100)
        chunk, token = page(sorted(repo.approval_templates), params.get("nextToken"), size)
        return {"approvalRuleTemplateNames": chunk, "nextToken": token}

    def list_repositories_for_approval_rule_template(self, params, ctx):
        name = params["approvalRuleTemplateName"]
        self._templates(ctx).get(name)
        names = sorted(r.name for r in self._backend(ctx).repositories.values() if name in r.approval_templates)
        size = page_size(params.get("maxResults"), 100, 100)
        chunk, token = page(names, params.get("nextToken"), size)
        return {"repositoryNames": chunk, "nextToken": token}

    # --- approvals of a pull request ------------------------------------------------
    def create_pull_request_approval_rule(self, params, ctx):
        rule = self._book(ctx).create_rule(params["pullRequestId"], params["approvalRuleName"],
                                           params["approvalRuleContent"], caller_arn(ctx))
        return {"approvalRule": rule.to_dict()}

    def update_pull_request_approval_rule_content(self, params, ctx):
        rule = self._book(ctx).update_rule(params["pullRequestId"], params["approvalRuleName"],
                                           params["newRuleContent"], params.get("existingRuleContentSha256"),
                                           caller_arn(ctx))
        return {"approvalRule": rule.to_dict()}

    def delete_pull_request_approval_rule(self, params, ctx):
        return {"approvalRuleId": self._book(ctx).delete_rule(params["pullRequestId"],
                                                              params["approvalRuleName"], caller_arn(ctx))}

    def update_pull_request_approval_state(self, params, ctx):
        self._book(ctx).set_approval(params["pullRequestId"], params["revisionId"],
                                     params["approvalState"], caller_arn(ctx))

    def get_pull_request_approval_states(self, params, ctx):
        book = self._book(ctx)
        pr = book.get(params["pullRequestId"])
        revision = book.revision(pr, params["revisionId"], must_be_current=False)
        return {"approvals": [{"userArn": arn, "approvalState": "APPROVE"} for arn in pr.approvers(revision)]}

    def evaluate_pull_request_approval_rules(self, params, ctx):
        book = self._book(ctx)
        pr = book.get(params["pullRequestId"])
        revision = book.revision(pr, params["revisionId"], must_be_current=True)
        return {"evaluation": pr.evaluation(revision)}

    def override_pull_request_approval_rules(self, params, ctx):
        self._book(ctx).set_override(params["pullRequestId"], params["revisionId"],
                                     params["overrideStatus"], caller_arn(ctx))

    def get_pull_request_override_state(self, params, ctx):
        book = self._book(ctx)
        pr = book.get(params["pullRequestId"])
        revision = book.revision(pr, params["revisionId"], must_be_current=False)
        overrider = pr.overrides.get(revision)
        return {"overridden": overrider is not None, "overrider": overrider}


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

