"""Real git over HTTP against CodeCommit repositories: clone, push, fetch, branches, events, triggers."""

import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def git(tmp_path):
    """Run git in a temp dir with a private config and no credential prompts."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Learner", "GIT_AUTHOR_EMAIL": "learner@example.com",
           "GIT_COMMITTER_NAME": "Learner", "GIT_COMMITTER_EMAIL": "learner@example.com"}

    def run(*args, cwd=tmp_path, check=True):
        done = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done

    run.root = tmp_path
    return run


@pytest.fixture
def queue_for(aws):
    """An SQS queue that receives the aws.codecommit events of one repository through a rule."""
    made = []

    def make(repository: str) -> str:
        sqs, events = aws("sqs"), aws("events")
        url = sqs.create_queue(QueueName=unique("cc-events"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = unique("cc-rule")
        events.put_rule(Name=rule, EventPattern=json.dumps({
            "source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
            "detail": {"repositoryName": [repository]}}))
        events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
        made.append((rule, url))
        return url

    yield make
    for rule, url in made:
        aws("events").remove_targets(Rule=rule, Ids=["q"])
        aws("events").delete_rule(Name=rule)
        aws("sqs").delete_queue(QueueUrl=url)


def drain(aws, url) -> list[dict]:
    sqs, found = aws("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_clone_push_branch_fetch_and_force_push(aws, git, queue_for):
    cc = aws("codecommit")
    name = unique("gitrepo")
    meta = cc.create_repository(repositoryName=name)["repositoryMetadata"]
    url = meta["cloneUrlHttp"]
    events = queue_for(name)

    # Cloning an empty repository works (git warns that it is empty).
    git("clone", url, "work")
    work = git.root / "work"
    (work / "README.md").write_text("hello\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "first", cwd=work)
    git("push", "origin", "main", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work).stdout.strip()

    meta = cc.get_repository(repositoryName=name)["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"  # the first branch pushed becomes the default
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == first
    [event] = drain(aws, events)  # exactly one event for one pushed branch
    assert event["source"] == "aws.codecommit"
    assert event["detail-type"] == "CodeCommit Repository State Change"
    assert event["resources"] == [meta["Arn"]]
    detail = event["detail"]
    assert detail["event"] == "referenceCreated"
    assert detail["referenceType"] == "branch" and detail["referenceName"] == "main"
    assert detail["referenceFullName"] == "refs/heads/main"
    assert detail["commitId"] == first and "oldCommitId" not in detail
    assert detail["repositoryId"] == meta["repositoryId"] and detail["repositoryName"] == name

    # A second commit and a feature branch.
    (work / "app.js").write_text("console.log('hi')\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "second", cwd=work)
    second = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("push", "origin", "main", cwd=work)
    git("checkout", "-b", "feature", cwd=work)
    git("push", "origin", "feature", cwd=work)
    received = drain(aws, events)
    assert [(e["detail"]["event"], e["detail"]["referenceName"]) for e in received] == [
        ("referenceUpdated", "main"), ("referenceCreated", "feature")]
    assert received[0]["detail"]["oldCommitId"] == first
    assert received[0]["detail"]["commitId"] == second
    assert sorted(cc.list_branches(repositoryName=name)["branches"]) == ["feature", "main"]
    assert cc.get_repository(repositoryName=name)["repositoryMetadata"]["defaultBranch"] == "main"

    # A fresh clone checks out the default branch and sees both commits.
    git("clone", url, "second-clone")
    clone = git.root / "second-clone"
    assert (clone / "app.js").read_text() == "console.log('hi')\n"
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone).stdout.strip() == "main"

    # A commit made through the API arrives with git fetch.
    api_commit = cc.put_file(repositoryName=name, branchName="main", filePath="api.txt",
                             fileContent=b"from the API\n", parentCommitId=second)["commitId"]
    git("fetch", "origin", cwd=clone)
    assert git("rev-parse", "origin/main", cwd=clone).stdout.strip() == api_commit

    # The clone's main is still at `second`: a commit on it diverges from the API commit, so
    # a plain push is refused by git; with --force it is accepted.
    (clone / "other.txt").write_text("diverged\n")
    git("add", ".", cwd=clone)
    git("commit", "-m", "diverged", cwd=clone)
    refused = git("push", "origin", "main", cwd=clone, check=False)
    assert refused.returncode != 0 and "rejected" in refused.stderr
    drain(aws, events)
    git("push", "--force", "origin", "main", cwd=clone)
    forced = git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == forced
    [event] = drain(aws, events)
    assert event["detail"]["oldCommitId"] == api_commit and event["detail"]["commitId"] == forced

    # A pushed tag is a reference too.
    git("tag", "v1.0", cwd=clone)
    git("push", "origin", "v1.0", cwd=clone)
    [event] = drain(aws, events)
    assert event["detail"]["referenceType"] == "tag" and event["detail"]["referenceName"] == "v1.0"
    assert event["detail"]["event"] == "referenceCreated"

    # Deleting a branch with git sends referenceDeleted.
    git("push", "origin", "--delete", "feature", cwd=clone)
    [event] = drain(aws, events)
    assert event["detail"]["event"] == "referenceDeleted"
    assert event["detail"]["oldCommitId"] == second and "commitId" not in event["detail"]
    cc.delete_repository(repositoryName=name)


def test_unknown_and_deleted_repositories_are_not_found(aws, git, emulator):
    done = git("clone", f"{emulator.url}/v1/repos/no-such-repo", "x", check=False)
    assert done.returncode != 0 and "not found" in done.stderr
    cc = aws("codecommit")
    name = unique("gone")
    url = cc.create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    git("clone", url, "gone")
    work = git.root / "gone"
    (work / "f.txt").write_text("x\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "x", cwd=work)
    cc.delete_repository(repositoryName=name)
    pushed = git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0 and "not found" in pushed.stderr


def test_triggers_publish_pushes_to_sns(aws, git):
    cc, sns, sqs = aws("codecommit"), aws("sns"), aws("sqs")
    name = unique("trig")
    repo = cc.create_repository(repositoryName=name)["repositoryMetadata"]
    topic = sns.create_topic(Name=unique("cc-topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("cc-trigger-q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    triggers = [{"name": "on-main", "destinationArn": topic, "customData": "hello",
                 "branches": ["main"], "events": ["all"]},
                {"name": "created-only", "destinationArn": topic, "events": ["createReference"]}]
    config_id = cc.put_repository_triggers(repositoryName=name, triggers=triggers)["configurationId"]
    got = cc.get_repository_triggers(repositoryName=name)
    assert got["configurationId"] == config_id
    assert [t["name"] for t in got["triggers"]] == ["on-main", "created-only"]

    git("clone", repo["cloneUrlHttp"], "trig")
    work = git.root / "trig"
    (work / "a.txt").write_text("a\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "a", cwd=work)
    git("push", "origin", "main", cwd=work)
    records = [json.loads(b)["Records"][0] for b in _bodies(sqs, url)]
    assert sorted(r["eventTriggerName"] for r in records) == ["created-only", "on-main"]
    on_main = next(r for r in records if r["eventTriggerName"] == "on-main")
    assert on_main["customData"] == "hello" and on_main["eventSourceARN"] == repo["Arn"]
    assert on_main["codecommit"]["references"][0]["ref"] == "refs/heads/main"
    assert on_main["codecommit"]["references"][0]["created"] is True

    # An update of a branch other than main matches neither trigger.
    git("checkout", "-b", "side", cwd=work)
    git("push", "origin", "side", cwd=work)  # created: only "created-only"
    (work / "b.txt").write_text("b\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "b", cwd=work)
    git("push", "origin", "side", cwd=work)  # updated on side: nothing
    records = [json.loads(b)["Records"][0] for b in _bodies(sqs, url)]
    assert [r["eventTriggerName"] for r in records] == ["created-only"]

    tested = cc.test_repository_triggers(repositoryName=name, triggers=[
        triggers[0], {"name": "nowhere", "destinationArn": topic + "-missing", "events": ["all"]}])
    assert tested["successfulExecutions"] == ["on-main"]
    assert tested["failedExecutions"][0]["trigger"] == "nowhere"
    assert [json.loads(b)["Records"][0]["eventName"] for b in _bodies(sqs, url)] == ["TriggerEventTest"]

    for bad, code in [
        ({"name": "x", "destinationArn": "arn:aws:s3:::bucket", "events": ["all"]},
         "InvalidRepositoryTriggerDestinationArnException"),
        ({"name": "x", "destinationArn": topic, "events": ["all", "createReference"]},
         "InvalidRepositoryTriggerEventsException"),
        ({"name": "x", "destinationArn": topic.replace("us-east-1", "eu-west-1"), "events": ["all"]},
         "InvalidRepositoryTriggerRegionException"),
    ]:
        with pytest.raises(ClientError) as info:
            cc.put_repository_triggers(repositoryName=name, triggers=[bad])
        assert info.value.response["Error"]["Code"] == code
    assert cc.get_repository_triggers(repositoryName=name)["configurationId"] == config_id
    cc.delete_repository(repositoryName=name)


def _bodies(sqs, url) -> list[str]:
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_large_push_arrives_chunked(aws, git):
    # Over git's 1 MB http.postBuffer, the push body is sent with chunked transfer encoding.
    cc = aws("codecommit")
    name = unique("big")
    url = cc.create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    git("init", "big")
    work = git.root / "big"
    (work / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    git("add", ".", cwd=work)
    git("commit", "-m", "big", cwd=work)
    git("push", url, "main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == head
    git("clone", url, "big-clone")
    assert (git.root / "big-clone" / "blob.bin").read_bytes() == (work / "blob.bin").read_bytes()
    cc.delete_repository(repositoryName=name)
