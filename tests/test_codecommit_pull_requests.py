"""CodeCommit pull requests through boto3: approval rules, approvals by two IAM users, merges, comments."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

TWO_APPROVALS = json.dumps({"Version": "2018-11-08", "DestinationReferences": ["refs/heads/main"],
                            "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 2}]})


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


@pytest.fixture(scope="module")
def reviewers(aws):
    """Two IAM users with access keys, and a CodeCommit client acting as each."""
    iam, made = aws("iam"), []
    for _ in range(2):
        name = unique("reviewer")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        client = aws("codecommit", aws_access_key_id=key["AccessKeyId"],
                     aws_secret_access_key=key["SecretAccessKey"])
        made.append((arn, client))
    return made


@pytest.fixture
def repo(cc):
    """A repository with main (one file) and feature (one more commit on top)."""
    name = unique("prs")
    cc.create_repository(repositoryName=name)
    base = cc.put_file(repositoryName=name, branchName="main", filePath="app.js",
                       fileContent=b"line 1\nline 2\nline 3\n")["commitId"]
    cc.create_branch(repositoryName=name, branchName="feature", commitId=base)
    tip = cc.put_file(repositoryName=name, branchName="feature", filePath="app.js",
                      fileContent=b"line 1\nline 2 changed\nline 3\n", parentCommitId=base)["commitId"]
    yield {"name": name, "base": base, "tip": tip}
    cc.delete_repository(repositoryName=name)


def open_pr(cc, repo, source="feature", destination="main", **kwargs):
    return cc.create_pull_request(title="Change line 2", description="why", targets=[{
        "repositoryName": repo["name"], "sourceReference": source,
        "destinationReference": destination}], **kwargs)["pullRequest"]


def test_two_approvals_from_a_template_are_needed_to_merge(cc, repo, reviewers):
    template = unique("two-approvals")
    created = cc.create_approval_rule_template(approvalRuleTemplateName=template,
                                               approvalRuleTemplateContent=TWO_APPROVALS,
                                               approvalRuleTemplateDescription="two reviewers")
    assert created["approvalRuleTemplate"]["ruleContentSha256"]
    cc.associate_approval_rule_template_with_repository(approvalRuleTemplateName=template,
                                                        repositoryName=repo["name"])
    assert cc.list_associated_approval_rule_templates_for_repository(
        repositoryName=repo["name"])["approvalRuleTemplateNames"] == [template]

    pr = open_pr(cc, repo)
    pr_id, revision = pr["pullRequestId"], pr["revisionId"]
    [rule] = pr["approvalRules"]
    assert rule["approvalRuleName"] == template
    assert rule["originApprovalRuleTemplate"]["approvalRuleTemplateName"] == template
    target = pr["pullRequestTargets"][0]
    assert target["sourceReference"] == "refs/heads/feature"
    assert target["destinationReference"] == "refs/heads/main"
    assert target["sourceCommit"] == repo["tip"] and target["destinationCommit"] == repo["base"]
    assert target["mergeBase"] == repo["base"]
    assert target["mergeMetadata"] == {"isMerged": False}
    assert pr["authorArn"] == "arn:aws:iam::123456789012:user/labkit-learner"

    # The author cannot approve their own pull request.
    assert code_of(cc.update_pull_request_approval_state, pullRequestId=pr_id, revisionId=revision,
                   approvalState="APPROVE") == "PullRequestCannotBeApprovedByAuthorException"
    (first_arn, first), (second_arn, second) = reviewers
    first.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision,
                                             approvalState="APPROVE")
    evaluation = cc.evaluate_pull_request_approval_rules(pullRequestId=pr_id, revisionId=revision)["evaluation"]
    assert evaluation == {"approved": False, "overridden": False, "approvalRulesSatisfied": [],
                          "approvalRulesNotSatisfied": [template]}
    assert code_of(cc.merge_pull_request_by_fast_forward, pullRequestId=pr_id,
                   repositoryName=repo["name"]) == "PullRequestApprovalRulesNotSatisfiedException"
    assert cc.get_branch(repositoryName=repo["name"], branchName="main")["branch"]["commitId"] == repo["base"]

    second.update_pull_request_approval_state(pullRequestId=pr_id, revisionId=revision,
                                              approvalState="APPROVE")
    states = cc.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)["approvals"]
    assert sorted(a["userArn"] for a in states) == sorted([first_arn, second_arn])
    assert cc.evaluate_pull_request_approval_rules(
        pullRequestId=pr_id, revisionId=revision)["evaluation"]["approved"] is True
    assert code_of(cc.merge_pull_request_by_fast_forward, pullRequestId=pr_id, repositoryName=repo["name"],
                   sourceCommitId=repo["base"]) == "TipOfSourceReferenceIsDifferentException"

    merged = cc.merge_pull_request_by_fast_forward(pullRequestId=pr_id, repositoryName=repo["name"],
                                                   sourceCommitId=repo["tip"])["pullRequest"]
    assert merged["pullRequestStatus"] == "CLOSED"
    metadata = merged["pullRequestTargets"][0]["mergeMetadata"]
    assert metadata["isMerged"] is True and metadata["mergeOption"] == "FAST_FORWARD_MERGE"
    assert metadata["mergeCommitId"] == repo["tip"]
    assert cc.get_branch(repositoryName=repo["name"], branchName="main")["branch"]["commitId"] == repo["tip"]
    kinds = [e["pullRequestEventType"] for e in
             cc.describe_pull_request_events(pullRequestId=pr_id)["pullRequestEvents"]]
    assert kinds[0] == "PULL_REQUEST_CREATED"
    assert kinds.count("PULL_REQUEST_APPROVAL_STATE_CHANGED") == 2
    assert "PULL_REQUEST_MERGE_STATE_CHANGED" in kinds
    approvals_by_first = cc.describe_pull_request_events(
        pullRequestId=pr_id, actorArn=first_arn)["pullRequestEvents"]
    assert [e["approvalStateChangedEventMetadata"]["approvalStatus"] for e in approvals_by_first] == ["APPROVE"]
    assert code_of(cc.merge_pull_request_by_fast_forward, pullRequestId=pr_id,
                   repositoryName=repo["name"]) == "PullRequestAlreadyClosedException"

    assert code_of(cc.delete_approval_rule_template,
                   approvalRuleTemplateName=template) == "ApprovalRuleTemplateInUseException"
    cc.disassociate_approval_rule_template_from_repository(approvalRuleTemplateName=template,
                                                           repositoryName=repo["name"])
    assert cc.delete_approval_rule_template(approvalRuleTemplateName=template)[
        "approvalRuleTemplateId"] == created["approvalRuleTemplate"]["approvalRuleTemplateId"]


def test_a_new_source_commit_starts_a_new_revision(cc, repo, reviewers):
    pr = open_pr(cc, repo)
    rule = json.dumps({"Version": "2018-11-08", "Statements": [
        {"Type": "Approvers", "NumberOfApprovalsNeeded": 1,
         "ApprovalPoolMembers": [reviewers[1][0]]}]})
    cc.create_pull_request_approval_rule(pullRequestId=pr["pullRequestId"], approvalRuleName="second-only",
                                         approvalRuleContent=rule)
    # An approval from someone outside the pool does not count.
    reviewers[0][1].update_pull_request_approval_state(pullRequestId=pr["pullRequestId"],
                                                       revisionId=pr["revisionId"], approvalState="APPROVE")
    assert cc.evaluate_pull_request_approval_rules(pullRequestId=pr["pullRequestId"],
                                                   revisionId=pr["revisionId"])["evaluation"]["approved"] is False
    reviewers[1][1].update_pull_request_approval_state(pullRequestId=pr["pullRequestId"],
                                                       revisionId=pr["revisionId"], approvalState="APPROVE")
    new_tip = cc.put_file(repositoryName=repo["name"], branchName="feature", filePath="more.txt",
                          fileContent=b"more", parentCommitId=repo["tip"])["commitId"]
    updated = cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"]
    assert updated["revisionId"] != pr["revisionId"]
    assert updated["pullRequestTargets"][0]["sourceCommit"] == new_tip
    assert code_of(cc.evaluate_pull_request_approval_rules, pullRequestId=pr["pullRequestId"],
                   revisionId=pr["revisionId"]) == "RevisionNotCurrentException"
    assert cc.evaluate_pull_request_approval_rules(
        pullRequestId=pr["pullRequestId"], revisionId=updated["revisionId"])["evaluation"]["approved"] is False
    events = cc.describe_pull_request_events(pullRequestId=pr["pullRequestId"],
                                             pullRequestEventType="PULL_REQUEST_SOURCE_REFERENCE_UPDATED")
    assert events["pullRequestEvents"][0]["pullRequestSourceReferenceUpdatedEventMetadata"][
        "afterCommitId"] == new_tip
    # An override lets it merge anyway.
    reviewers[0][1].override_pull_request_approval_rules(
        pullRequestId=pr["pullRequestId"], revisionId=updated["revisionId"], overrideStatus="OVERRIDE")
    assert cc.get_pull_request_override_state(pullRequestId=pr["pullRequestId"],
                                              revisionId=updated["revisionId"])["overridden"] is True
    merged = cc.merge_pull_request_by_squash(pullRequestId=pr["pullRequestId"],
                                             repositoryName=repo["name"])["pullRequest"]
    squash = merged["pullRequestTargets"][0]["mergeMetadata"]["mergeCommitId"]
    commit = cc.get_commit(repositoryName=repo["name"], commitId=squash)["commit"]
    assert commit["parents"] == [repo["base"]]  # a squash has the destination as its only parent
    assert cc.get_file(repositoryName=repo["name"], filePath="more.txt")["fileContent"] == b"more"


def test_three_way_merge_reports_conflicts_and_resolves_them(cc, repo):
    # main changes the same line differently: a conflict.
    main_tip = cc.put_file(repositoryName=repo["name"], branchName="main", filePath="app.js",
                           fileContent=b"line 1\nline 2 on main\nline 3\n",
                           parentCommitId=repo["base"])["commitId"]
    pr = open_pr(cc, repo)
    options = cc.get_merge_options(repositoryName=repo["name"], sourceCommitSpecifier="feature",
                                   destinationCommitSpecifier="main")
    assert options["mergeOptions"] == [] and options["baseCommitId"] == repo["base"]
    conflicts = cc.get_merge_conflicts(repositoryName=repo["name"], sourceCommitSpecifier="feature",
                                       destinationCommitSpecifier="main", mergeOption="THREE_WAY_MERGE")
    assert conflicts["mergeable"] is False
    [conflict] = conflicts["conflictMetadataList"]
    assert conflict["filePath"] == "app.js" and conflict["contentConflict"] is True
    assert conflict["mergeOperations"] == {"source": "M", "destination": "M"}
    assert code_of(cc.merge_pull_request_by_fast_forward, pullRequestId=pr["pullRequestId"],
                   repositoryName=repo["name"]) == "ManualMergeRequiredException"
    with pytest.raises(ClientError) as info:
        cc.merge_pull_request_by_three_way(pullRequestId=pr["pullRequestId"], repositoryName=repo["name"])
    assert info.value.response["Error"]["Code"] == "ManualMergeRequiredException"
    assert "app.js" in info.value.response["Error"]["Message"]
    assert cc.get_branch(repositoryName=repo["name"], branchName="main")["branch"]["commitId"] == main_tip
    merged = cc.merge_pull_request_by_three_way(pullRequestId=pr["pullRequestId"], repositoryName=repo["name"],
                                                conflictResolutionStrategy="ACCEPT_SOURCE",
                                                commitMessage="merge feature")["pullRequest"]
    merge_commit = merged["pullRequestTargets"][0]["mergeMetadata"]["mergeCommitId"]
    commit = cc.get_commit(repositoryName=repo["name"], commitId=merge_commit)["commit"]
    assert commit["parents"] == [main_tip, repo["tip"]]
    assert commit["message"].strip() == "merge feature"
    content = cc.get_file(repositoryName=repo["name"], filePath="app.js")["fileContent"]
    assert content == b"line 1\nline 2 changed\nline 3\n"


def test_pull_request_updates_listing_comments_and_errors(cc, repo):
    assert code_of(open_pr, cc, repo, source="main") == "SourceAndDestinationAreSameException"
    assert code_of(open_pr, cc, repo, source="nope") == "ReferenceDoesNotExistException"
    assert code_of(cc.get_pull_request, pullRequestId="999999") == "PullRequestDoesNotExistException"
    assert code_of(cc.get_pull_request, pullRequestId="abc") == "InvalidPullRequestIdException"
    token = uuid.uuid4().hex
    pr = open_pr(cc, repo, clientRequestToken=token)
    assert open_pr(cc, repo, clientRequestToken=token)["pullRequestId"] == pr["pullRequestId"]
    second = open_pr(cc, repo)
    pr_id = pr["pullRequestId"]

    updated = cc.update_pull_request_title(pullRequestId=pr_id, title="New title")["pullRequest"]
    assert updated["title"] == "New title"
    updated = cc.update_pull_request_description(pullRequestId=pr_id, description="more")["pullRequest"]
    assert updated["description"] == "more"
    closed = cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")["pullRequest"]
    assert closed["pullRequestStatus"] == "CLOSED"
    assert code_of(cc.update_pull_request_title, pullRequestId=pr_id,
                   title="x") == "PullRequestAlreadyClosedException"
    listed = cc.list_pull_requests(repositoryName=repo["name"], pullRequestStatus="OPEN")["pullRequestIds"]
    assert listed == [second["pullRequestId"]]
    page = cc.list_pull_requests(repositoryName=repo["name"], maxResults=1)
    assert len(page["pullRequestIds"]) == 1 and page["nextToken"]
    rest = cc.list_pull_requests(repositoryName=repo["name"], maxResults=1, nextToken=page["nextToken"])
    assert sorted(page["pullRequestIds"] + rest["pullRequestIds"]) == sorted([pr_id, second["pullRequestId"]])
    cc.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="OPEN")

    posted = cc.post_comment_for_pull_request(
        pullRequestId=pr_id, repositoryName=repo["name"], beforeCommitId=repo["base"],
        afterCommitId=repo["tip"], content="Looks good",
        location={"filePath": "app.js", "filePosition": 2, "relativeFileVersion": "AFTER"})
    assert posted["comment"]["content"] == "Looks good" and posted["afterBlobId"]
    cc.post_comment_for_pull_request(pullRequestId=pr_id, repositoryName=repo["name"],
                                     beforeCommitId=repo["base"], afterCommitId=repo["tip"],
                                     content="General remark")
    threads = cc.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
    assert sorted(c["content"] for t in threads for c in t["comments"]) == ["General remark", "Looks good"]
    assert code_of(cc.post_comment_for_pull_request, pullRequestId=pr_id, repositoryName=repo["name"],
                   beforeCommitId=repo["tip"], afterCommitId=repo["tip"],
                   content="x") == "BeforeCommitIdAndAfterCommitIdAreSameException"
    assert code_of(cc.post_comment_for_pull_request, pullRequestId=pr_id, repositoryName=repo["name"],
                   beforeCommitId=repo["base"], afterCommitId=repo["tip"], content="x",
                   location={"filePath": "nope.js", "filePosition": 1,
                             "relativeFileVersion": "AFTER"}) == "PathDoesNotExistException"


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"Version": "2018-11-08", "Statements": []}),
    json.dumps({"Version": "2011-01-01", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]}),
    json.dumps({"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 0}]}),
    json.dumps({"Version": "2018-11-08", "DestinationReferences": ["main"],
                "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]}),
])
def test_malformed_templates_are_refused_and_not_created(cc, content):
    name = unique("bad-template")
    assert code_of(cc.create_approval_rule_template, approvalRuleTemplateName=name,
                   approvalRuleTemplateContent=content) == "InvalidApprovalRuleTemplateContentException"
    assert code_of(cc.get_approval_rule_template,
                   approvalRuleTemplateName=name) == "ApprovalRuleTemplateDoesNotExistException"


def test_template_operations(cc, repo):
    name = unique("tpl")
    cc.create_approval_rule_template(approvalRuleTemplateName=name, approvalRuleTemplateContent=TWO_APPROVALS)
    assert code_of(cc.create_approval_rule_template, approvalRuleTemplateName=name,
                   approvalRuleTemplateContent=TWO_APPROVALS) == "ApprovalRuleTemplateNameAlreadyExistsException"
    assert name in cc.list_approval_rule_templates()["approvalRuleTemplateNames"]
    result = cc.batch_associate_approval_rule_template_with_repositories(
        approvalRuleTemplateName=name, repositoryNames=[repo["name"], "no-such-repo-y"])
    assert result["associatedRepositoryNames"] == [repo["name"]]
    assert result["errors"][0]["errorCode"] == "RepositoryDoesNotExistException"
    assert cc.list_repositories_for_approval_rule_template(
        approvalRuleTemplateName=name)["repositoryNames"] == [repo["name"]]
    # A pull request into another branch does not get the template's rule (it targets main only).
    cc.create_branch(repositoryName=repo["name"], branchName="release", commitId=repo["base"])
    assert open_pr(cc, repo, destination="release")["approvalRules"] == []
    renamed = unique("tpl-renamed")
    cc.update_approval_rule_template_name(oldApprovalRuleTemplateName=name, newApprovalRuleTemplateName=renamed)
    got = cc.get_approval_rule_template(approvalRuleTemplateName=renamed)["approvalRuleTemplate"]
    one = json.dumps({"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]})
    after = cc.update_approval_rule_template_content(
        approvalRuleTemplateName=renamed, newRuleContent=one,
        existingRuleContentSha256=got["ruleContentSha256"])["approvalRuleTemplate"]
    assert after["approvalRuleTemplateContent"] == one
    cc.batch_disassociate_approval_rule_template_from_repositories(
        approvalRuleTemplateName=renamed, repositoryNames=[repo["name"]])
    cc.delete_approval_rule_template(approvalRuleTemplateName=renamed)
    assert cc.delete_approval_rule_template(approvalRuleTemplateName=renamed)["approvalRuleTemplateId"] == ""


def test_pull_request_changes_reach_eventbridge(aws, cc, repo):
    sqs, events = aws("sqs"), aws("events")
    url = sqs.create_queue(QueueName=unique("pr-events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("pr-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.codecommit"], "detail-type": ["CodeCommit Pull Request State Change"],
        "detail": {"repositoryNames": [repo["name"]]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    pr = open_pr(cc, repo)
    cc.merge_pull_request_by_fast_forward(pullRequestId=pr["pullRequestId"], repositoryName=repo["name"])
    received = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        received += [json.loads(m["Body"])["detail"] for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert [d["event"] for d in received] == ["pullRequestCreated", "pullRequestMergeStatusUpdated"]
    assert received[1]["isMerged"] == "True" and received[1]["pullRequestStatus"] == "Closed"
    assert received[0]["pullRequestId"] == pr["pullRequestId"]
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)
    sqs.delete_queue(QueueUrl=url)


def test_pull_request_approval_rules_can_be_updated_and_deleted(cc, repo):
    pr = open_pr(cc, repo)
    one = json.dumps({"Version": "2018-11-08", "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1}]})
    rule = cc.create_pull_request_approval_rule(pullRequestId=pr["pullRequestId"], approvalRuleName="one",
                                                approvalRuleContent=one)["approvalRule"]
    assert code_of(cc.create_pull_request_approval_rule, pullRequestId=pr["pullRequestId"],
                   approvalRuleName="one", approvalRuleContent=one) == "ApprovalRuleNameAlreadyExistsException"
    assert code_of(cc.create_pull_request_approval_rule, pullRequestId=pr["pullRequestId"],
                   approvalRuleName="bad", approvalRuleContent="{}") == "InvalidApprovalRuleContentException"
    assert code_of(cc.update_pull_request_approval_rule_content, pullRequestId=pr["pullRequestId"],
                   approvalRuleName="one", newRuleContent=TWO_APPROVALS.replace("1", "1"),
                   existingRuleContentSha256="0" * 64) == "InvalidRuleContentSha256Exception"
    updated = cc.update_pull_request_approval_rule_content(
        pullRequestId=pr["pullRequestId"], approvalRuleName="one", newRuleContent=one.replace("1}", "3}"),
        existingRuleContentSha256=rule["ruleContentSha256"])["approvalRule"]
    assert json.loads(updated["approvalRuleContent"])["Statements"][0]["NumberOfApprovalsNeeded"] == 3
    assert cc.delete_pull_request_approval_rule(pullRequestId=pr["pullRequestId"],
                                                approvalRuleName="one")["approvalRuleId"] == rule["approvalRuleId"]
    assert cc.get_pull_request(pullRequestId=pr["pullRequestId"])["pullRequest"]["approvalRules"] == []
    assert cc.get_merge_options(repositoryName=repo["name"], sourceCommitSpecifier="feature",
                                destinationCommitSpecifier="main")["mergeOptions"] == [
        "FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]


def test_merging_branches_without_a_pull_request(cc, repo):
    merged = cc.merge_branches_by_fast_forward(repositoryName=repo["name"], sourceCommitSpecifier="feature",
                                               destinationCommitSpecifier="main")
    assert merged["commitId"] == repo["tip"]
    assert cc.get_branch(repositoryName=repo["name"], branchName="main")["branch"]["commitId"] == repo["tip"]
    other = cc.put_file(repositoryName=repo["name"], branchName="main", filePath="main-only.txt",
                        fileContent=b"m", parentCommitId=repo["tip"])["commitId"]
    side = cc.put_file(repositoryName=repo["name"], branchName="feature", filePath="feature-only.txt",
                       fileContent=b"f", parentCommitId=repo["tip"])["commitId"]
    assert code_of(cc.merge_branches_by_fast_forward, repositoryName=repo["name"],
                   sourceCommitSpecifier="feature", destinationCommitSpecifier="main") == \
        "ManualMergeRequiredException"
    three_way = cc.merge_branches_by_three_way(repositoryName=repo["name"], sourceCommitSpecifier=side,
                                               destinationCommitSpecifier=other, targetBranch="main")
    commit = cc.get_commit(repositoryName=repo["name"], commitId=three_way["commitId"])["commit"]
    assert commit["parents"] == [other, side] and commit["treeId"] == three_way["treeId"]
    assert code_of(cc.merge_branches_by_squash, repositoryName=repo["name"], sourceCommitSpecifier=side,
                   destinationCommitSpecifier=other) == "InvalidTargetBranchException"


def test_comments_on_commits_replies_edits_and_deletion(cc, repo, reviewers):
    posted = cc.post_comment_for_compared_commit(repositoryName=repo["name"], beforeCommitId=repo["base"],
                                                 afterCommitId=repo["tip"], content="Why this change?")
    comment_id = posted["comment"]["commentId"]
    reply = reviewers[0][1].post_comment_reply(inReplyTo=comment_id, content="Because.")["comment"]
    assert reply["inReplyTo"] == comment_id and reply["authorArn"] == reviewers[0][0]
    [thread] = cc.get_comments_for_compared_commit(repositoryName=repo["name"], beforeCommitId=repo["base"],
                                                   afterCommitId=repo["tip"])["commentsForComparedCommitData"]
    assert [c["content"] for c in thread["comments"]] == ["Why this change?", "Because."]
    assert code_of(cc.update_comment, commentId=reply["commentId"],
                   content="mine now") == "CommentNotCreatedByCallerException"
    assert cc.update_comment(commentId=comment_id, content="Why?")["comment"]["content"] == "Why?"
    assert cc.get_comment(commentId=comment_id)["comment"]["content"] == "Why?"
    deleted = cc.delete_comment_content(commentId=comment_id)["comment"]
    assert deleted["deleted"] is True and deleted["content"] == ""
    assert code_of(cc.get_comment, commentId=comment_id) == "CommentDeletedException"
    assert code_of(cc.get_comment, commentId="nope") == "CommentDoesNotExistException"


def test_an_assumed_role_is_identified_by_its_session(aws, cc, repo):
    creds = aws("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/CodeCommitReview",
                                   RoleSessionName="reviewer-session")["Credentials"]
    as_role = aws("codecommit", aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    rule = json.dumps({"Version": "2018-11-08", "Statements": [{
        "Type": "Approvers", "NumberOfApprovalsNeeded": 1,
        "ApprovalPoolMembers": ["arn:aws:sts::123456789012:assumed-role/CodeCommitReview/*"]}]})
    pr = open_pr(cc, repo)
    cc.create_pull_request_approval_rule(pullRequestId=pr["pullRequestId"], approvalRuleName="reviewers",
                                         approvalRuleContent=rule)
    as_role.update_pull_request_approval_state(pullRequestId=pr["pullRequestId"], revisionId=pr["revisionId"],
                                               approvalState="APPROVE")
    [approval] = cc.get_pull_request_approval_states(pullRequestId=pr["pullRequestId"],
                                                     revisionId=pr["revisionId"])["approvals"]
    assert approval["userArn"] == "arn:aws:sts::123456789012:assumed-role/CodeCommitReview/reviewer-session"
    assert cc.evaluate_pull_request_approval_rules(
        pullRequestId=pr["pullRequestId"], revisionId=pr["revisionId"])["evaluation"]["approved"] is True
