"""CodeCommit repositories through boto3: create, read, list, rename, describe, tag, delete, errors."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(info) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture
def cc(aws):
    return aws("codecommit")


def test_create_get_and_delete_a_repository(cc, emulator):
    name = unique("repo")
    created = cc.create_repository(repositoryName=name, repositoryDescription="the course app",
                                   tags={"labkit:lab": "t"})["repositoryMetadata"]
    assert created["repositoryName"] == name
    assert created["cloneUrlHttp"] == f"{emulator.url}/v1/repos/{name}"
    assert created["Arn"] == f"arn:aws:codecommit:us-east-1:123456789012:{name}"
    assert created["accountId"] == "123456789012"
    assert "defaultBranch" not in created  # an empty repository has no default branch yet
    assert (emulator.state_dir / "git" / f"{name}.git" / "HEAD").is_file()
    got = cc.get_repository(repositoryName=name)["repositoryMetadata"]
    assert got["repositoryId"] == created["repositoryId"]
    assert got["repositoryDescription"] == "the course app"
    assert cc.list_tags_for_resource(resourceArn=created["Arn"])["tags"] == {"labkit:lab": "t"}
    assert cc.delete_repository(repositoryName=name)["repositoryId"] == created["repositoryId"]
    assert not (emulator.state_dir / "git" / f"{name}.git").exists()
    # Deleting a repository that does not exist succeeds without an id, as on AWS.
    assert "repositoryId" not in cc.delete_repository(repositoryName=name)
    with pytest.raises(ClientError) as info:
        cc.get_repository(repositoryName=name)
    assert error_code(info) == "RepositoryDoesNotExistException"
    assert name in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("bad", ["has space", "x" * 101, "ends.git", "slash/name", "ünïcode"])
def test_invalid_repository_names_are_refused_and_nothing_is_created(cc, bad, emulator):
    with pytest.raises(ClientError) as info:
        cc.create_repository(repositoryName=bad)
    assert error_code(info) == "InvalidRepositoryNameException"
    assert "letters, numbers, periods, underscores, and dashes" in info.value.response["Error"]["Message"]
    names = [r["repositoryName"] for r in cc.list_repositories()["repositories"]]
    assert bad not in names


def test_duplicate_name_is_refused(cc):
    name = unique("dup")
    cc.create_repository(repositoryName=name)
    with pytest.raises(ClientError) as info:
        cc.create_repository(repositoryName=name)
    assert error_code(info) == "RepositoryNameExistsException"
    cc.delete_repository(repositoryName=name)


def test_rename_and_describe(cc, emulator):
    old, new = unique("old"), unique("new")
    other = unique("other")
    cc.create_repository(repositoryName=old)
    cc.create_repository(repositoryName=other)
    cc.update_repository_name(oldName=old, newName=new)
    meta = cc.get_repository(repositoryName=new)["repositoryMetadata"]
    assert meta["cloneUrlHttp"].endswith(f"/v1/repos/{new}")
    assert (emulator.state_dir / "git" / f"{new}.git").is_dir()
    with pytest.raises(ClientError) as info:
        cc.get_repository(repositoryName=old)
    assert error_code(info) == "RepositoryDoesNotExistException"
    with pytest.raises(ClientError) as info:
        cc.update_repository_name(oldName=new, newName=other)
    assert error_code(info) == "RepositoryNameExistsException"
    cc.update_repository_description(repositoryName=new, repositoryDescription="renamed")
    assert cc.get_repository(repositoryName=new)["repositoryMetadata"]["repositoryDescription"] == "renamed"
    with pytest.raises(ClientError) as info:
        cc.update_repository_description(repositoryName=new, repositoryDescription="x" * 1001)
    assert error_code(info) == "InvalidRepositoryDescriptionException"
    for name in (new, other):
        cc.delete_repository(repositoryName=name)


def test_tags(cc):
    name = unique("tags")
    arn = cc.create_repository(repositoryName=name)["repositoryMetadata"]["Arn"]
    cc.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    cc.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as info:
        cc.tag_resource(resourceArn=arn, tags={"aws:reserved": "x"})
    assert error_code(info) == "InvalidSystemTagUsageException"
    with pytest.raises(ClientError) as info:
        cc.list_tags_for_resource(resourceArn="not-an-arn")
    assert error_code(info) == "InvalidResourceArnException"
    with pytest.raises(ClientError) as info:
        cc.list_tags_for_resource(resourceArn=arn + "-missing")
    assert error_code(info) == "RepositoryDoesNotExistException"
    cc.delete_repository(repositoryName=name)


def test_batch_get_repositories(cc):
    name = unique("batch")
    cc.create_repository(repositoryName=name)
    result = cc.batch_get_repositories(repositoryNames=[name, "missing-" + name])
    assert [r["repositoryName"] for r in result["repositories"]] == [name]
    assert result["repositoriesNotFound"] == ["missing-" + name]
    assert result["errors"][0]["errorCode"] == "RepositoryDoesNotExistException"
    cc.delete_repository(repositoryName=name)


def test_list_sorting_and_pagination(aws):
    # A region of its own keeps other tests' repositories out of the listing.
    cc = aws("codecommit", region="eu-west-3")
    prefix = uuid.uuid4().hex[:6]
    names = [f"p{prefix}-{i:04d}" for i in range(1001)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: cc.create_repository(repositoryName=n), names))
    first = cc.list_repositories()
    assert len(first["repositories"]) == 1000 and first["nextToken"]
    second = cc.list_repositories(nextToken=first["nextToken"])
    assert "nextToken" not in second
    listed = [r["repositoryName"] for r in first["repositories"] + second["repositories"]]
    assert listed == names
    paginated = [r["repositoryName"] for p in cc.get_paginator("list_repositories").paginate()
                 for r in p["repositories"]]
    assert paginated == names
    descending = cc.list_repositories(sortBy="repositoryName", order="descending")["repositories"]
    assert descending[0]["repositoryName"] == names[-1]
    cc.update_repository_description(repositoryName=names[5], repositoryDescription="touched")
    by_date = cc.list_repositories(sortBy="lastModifiedDate", order="descending")["repositories"]
    assert by_date[0]["repositoryName"] == names[5]
    with pytest.raises(ClientError) as info:
        cc.list_repositories(nextToken="garbage")
    assert error_code(info) == "InvalidContinuationTokenException"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: cc.delete_repository(repositoryName=n), names))
    assert cc.list_repositories()["repositories"] == []

