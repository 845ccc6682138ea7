"""CodeCommit branches, files and commits through boto3, with AWS's errors for bad input."""

import uuid

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    assert info.value.response["Error"]["Message"]
    return info.value.response["Error"]["Code"]


@pytest.fixture
def cc(aws):
    return aws("codecommit")


@pytest.fixture
def repo(cc):
    name = unique("files")
    cc.create_repository(repositoryName=name)
    yield name
    cc.delete_repository(repositoryName=name)


def test_put_get_and_delete_files(cc, repo):
    first = cc.put_file(repositoryName=repo, branchName="main", filePath="src/app.js",
                        fileContent=b"v1\n", commitMessage="add app", name="Ada",
                        email="ada@example.com")
    assert cc.get_repository(repositoryName=repo)["repositoryMetadata"]["defaultBranch"] == "main"
    got = cc.get_file(repositoryName=repo, filePath="src/app.js")
    assert got["fileContent"] == b"v1\n" and got["fileMode"] == "NORMAL" and got["fileSize"] == 3
    assert got["commitId"] == first["commitId"] and got["blobId"] == first["blobId"]
    commit = cc.get_commit(repositoryName=repo, commitId=first["commitId"])["commit"]
    assert commit["message"].strip() == "add app" and commit["parents"] == []
    assert commit["author"]["name"] == "Ada" and commit["author"]["email"] == "ada@example.com"
    assert commit["treeId"] == first["treeId"]

    # The same content again is refused; a parent commit is required once the branch exists.
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="src/app.js",
                   fileContent=b"v1\n", parentCommitId=first["commitId"]) == "SameFileContentException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="x.txt",
                   fileContent=b"x") == "ParentCommitIdRequiredException"
    second = cc.put_file(repositoryName=repo, branchName="main", filePath="run.sh",
                         fileContent=b"#!/bin/sh\n", fileMode="EXECUTABLE",
                         parentCommitId=first["commitId"])
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="y.txt",
                   fileContent=b"y", parentCommitId=first["commitId"]) == "ParentCommitIdOutdatedException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="y.txt",
                   fileContent=b"y", parentCommitId="abc") == "InvalidParentCommitIdException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="y.txt",
                   fileContent=b"y", parentCommitId="1" * 40) == "ParentCommitDoesNotExistException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="../up.txt",
                   fileContent=b"y", parentCommitId=second["commitId"]) == "InvalidPathException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="src",
                   fileContent=b"y", parentCommitId=second["commitId"]) == \
        "FileNameConflictsWithDirectoryNameException"
    assert code_of(cc.put_file, repositoryName=repo, branchName="main", filePath="big.bin",
                   fileContent=b"0" * (6 * 1024 * 1024 + 1), parentCommitId=second["commitId"]) == \
        "FileContentSizeLimitExceededException"
    # None of the refused puts moved the branch.
    tip = cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"]
    assert tip == second["commitId"]
    assert cc.get_file(repositoryName=repo, filePath="run.sh")["fileMode"] == "EXECUTABLE"

    folder = cc.get_folder(repositoryName=repo, folderPath="/")
    assert [f["absolutePath"] for f in folder["files"]] == ["run.sh"]
    assert [f["absolutePath"] for f in folder["subFolders"]] == ["src"]
    sub = cc.get_folder(repositoryName=repo, folderPath="src", commitSpecifier="main")
    assert sub["files"][0] == {"blobId": first["blobId"], "absolutePath": "src/app.js",
                               "relativePath": "app.js", "fileMode": "NORMAL"}
    assert code_of(cc.get_folder, repositoryName=repo, folderPath="nope") == "FolderDoesNotExistException"
    assert code_of(cc.get_file, repositoryName=repo, filePath="nope.txt") == "FileDoesNotExistException"
    assert code_of(cc.get_file, repositoryName=repo, filePath="run.sh",
                   commitSpecifier="no-such-branch") == "CommitDoesNotExistException"
    assert cc.get_blob(repositoryName=repo, blobId=first["blobId"])["content"] == b"v1\n"
    assert code_of(cc.get_blob, repositoryName=repo, blobId="2" * 40) == "BlobIdDoesNotExistException"
    assert code_of(cc.get_blob, repositoryName=repo, blobId="zz") == "InvalidBlobIdException"

    deleted = cc.delete_file(repositoryName=repo, branchName="main", filePath="run.sh",
                             parentCommitId=second["commitId"])
    assert deleted["filePath"] == "run.sh" and deleted["blobId"] == second["blobId"]
    assert code_of(cc.delete_file, repositoryName=repo, branchName="main", filePath="run.sh",
                   parentCommitId=deleted["commitId"]) == "FileDoesNotExistException"
    # keepEmptyFolders leaves a .gitkeep where the last file of a folder was, as AWS does.
    cc.delete_file(repositoryName=repo, branchName="main", filePath="src/app.js",
                   parentCommitId=deleted["commitId"], keepEmptyFolders=True)
    kept = cc.get_folder(repositoryName=repo, folderPath="src")["files"]
    assert [f["relativePath"] for f in kept] == [".gitkeep"]


def test_create_commit_and_differences(cc, repo):
    first = cc.create_commit(repositoryName=repo, branchName="main", authorName="Ada",
                             email="ada@example.com", commitMessage="start", putFiles=[
                                 {"filePath": "a.txt", "fileContent": b"a"},
                                 {"filePath": "dir/b.txt", "fileContent": b"b"}])
    assert sorted(f["absolutePath"] for f in first["filesAdded"]) == ["a.txt", "dir/b.txt"]
    second = cc.create_commit(repositoryName=repo, branchName="main", parentCommitId=first["commitId"],
                              putFiles=[{"filePath": "a.txt", "fileContent": b"a2"},
                                        {"filePath": "c.txt", "sourceFile": {"filePath": "dir/b.txt",
                                                                             "isMove": True}}],
                              setFileModes=[])
    assert [f["absolutePath"] for f in second["filesUpdated"]] == ["a.txt"]
    assert [f["absolutePath"] for f in second["filesAdded"]] == ["c.txt"]
    assert [f["absolutePath"] for f in second["filesDeleted"]] == ["dir/b.txt"]
    assert code_of(cc.create_commit, repositoryName=repo, branchName="main",
                   parentCommitId=second["commitId"],
                   putFiles=[{"filePath": "a.txt", "fileContent": b"a2"}]) == "NoChangeException"
    assert code_of(cc.create_commit, repositoryName=repo, branchName="main",
                   parentCommitId=second["commitId"]) == "FileEntryRequiredException"
    assert code_of(cc.create_commit, repositoryName=repo, branchName="main",
                   parentCommitId=second["commitId"], putFiles=[{"filePath": "q", "fileContent": b"1"}],
                   deleteFiles=[{"filePath": "q"}]) == "SamePathRequestException"
    assert code_of(cc.create_commit, repositoryName=repo, branchName="main",
                   parentCommitId=second["commitId"], deleteFiles=[{"filePath": "nope"}]) == \
        "FileDoesNotExistException"

    diffs = cc.get_differences(repositoryName=repo, beforeCommitSpecifier=first["commitId"],
                               afterCommitSpecifier=second["commitId"])["differences"]
    by_type = {(d["changeType"], (d.get("afterBlob") or d.get("beforeBlob"))["path"]) for d in diffs}
    assert by_type == {("M", "a.txt"), ("A", "c.txt"), ("D", "dir/b.txt")}
    modified = next(d for d in diffs if d["changeType"] == "M")
    assert modified["beforeBlob"]["mode"] == "100644"
    # Without a "before", everything in the commit is added; pages of one follow NextToken.
    pages = list(cc.get_paginator("get_differences").paginate(
        repositoryName=repo, afterCommitSpecifier="main", PaginationConfig={"PageSize": 1}))
    assert sorted(p["differences"][0]["afterBlob"]["path"] for p in pages) == ["a.txt", "c.txt"]
    only = cc.get_differences(repositoryName=repo, beforeCommitSpecifier=first["commitId"],
                              afterCommitSpecifier="main", afterPath="a.txt")["differences"]
    assert [d["afterBlob"]["path"] for d in only] == ["a.txt"]
    assert code_of(cc.get_differences, repositoryName=repo, afterCommitSpecifier="main",
                   afterPath="missing") == "PathDoesNotExistException"

    history = cc.list_file_commit_history(repositoryName=repo, filePath="a.txt")["revisionDag"]
    assert [v["commit"]["commitId"] for v in history] == [second["commitId"], first["commitId"]]
    assert history[1]["revisionChildren"] == [second["commitId"]]
    assert history[0]["blobId"] == second["filesUpdated"][0]["blobId"]

    batch = cc.batch_get_commits(repositoryName=repo, commitIds=[first["commitId"], "3" * 40])
    assert [c["commitId"] for c in batch["commits"]] == [first["commitId"]]
    assert batch["errors"][0]["commitId"] == "3" * 40
    assert code_of(cc.get_commit, repositoryName=repo, commitId="3" * 40) == "CommitIdDoesNotExistException"
    assert code_of(cc.get_commit, repositoryName=repo, commitId="xyz") == "InvalidCommitIdException"


def test_branches(cc, repo, aws):
    base = cc.put_file(repositoryName=repo, branchName="main", filePath="f", fileContent=b"1")["commitId"]
    cc.create_branch(repositoryName=repo, branchName="feature/x", commitId=base)
    assert cc.get_branch(repositoryName=repo, branchName="feature/x")["branch"] == {
        "branchName": "feature/x", "commitId": base}
    assert code_of(cc.create_branch, repositoryName=repo, branchName="feature/x",
                   commitId=base) == "BranchNameExistsException"
    assert code_of(cc.create_branch, repositoryName=repo, branchName="bad..name",
                   commitId=base) == "InvalidBranchNameException"
    assert code_of(cc.create_branch, repositoryName=repo, branchName="b2",
                   commitId="4" * 40) == "CommitDoesNotExistException"
    assert code_of(cc.get_branch, repositoryName=repo, branchName="nope") == "BranchDoesNotExistException"
    assert code_of(cc.list_branches, repositoryName="no-such-repo-x") == "RepositoryDoesNotExistException"

    # A commit to a new branch starts from the given parent.
    cc.put_file(repositoryName=repo, branchName="from-api", filePath="g", fileContent=b"2",
                parentCommitId=base)
    assert code_of(cc.delete_branch, repositoryName=repo, branchName="main") == \
        "DefaultBranchCannotBeDeletedException"
    cc.update_default_branch(repositoryName=repo, defaultBranchName="feature/x")
    assert cc.get_repository(repositoryName=repo)["repositoryMetadata"]["defaultBranch"] == "feature/x"
    assert code_of(cc.update_default_branch, repositoryName=repo,
                   defaultBranchName="nope") == "BranchDoesNotExistException"
    assert cc.delete_branch(repositoryName=repo, branchName="main")["deletedBranch"] == {
        "branchName": "main", "commitId": base}
    assert "deletedBranch" not in cc.delete_branch(repositoryName=repo, branchName="main")

    # Pagination: 100 branches a page.
    for i in range(120):
        cc.create_branch(repositoryName=repo, branchName=f"b{i:03d}", commitId=base)
    first = cc.list_branches(repositoryName=repo)
    assert len(first["branches"]) == 100 and first["nextToken"]
    rest = cc.list_branches(repositoryName=repo, nextToken=first["nextToken"])
    assert "nextToken" not in rest
    assert len(set(first["branches"] + rest["branches"])) == 122
