"""The course's CloudFormation templates: cfn-lint clean, and least privilege by construction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TEMPLATES = sorted((Path(__file__).resolve().parents[1] / "cloudformation").glob("*.yaml"))
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
# Read-only verbs: a wildcard resource on these grants no power to change anything.
READ_ONLY = ("Describe", "Get", "List", "BatchGet")


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain {Fn: value}."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def statements(template: dict):
    """(resource, statement) for every IAM policy statement in the template."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def test_the_three_templates_exist():
    assert {p.name for p in TEMPLATES} >= {"pipeline.yaml", "hosts.yaml", "multi-env.yaml"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_passes(template):
    result = subprocess.run([str(CFN_LINT), str(template)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_full_access_managed_policies(template):
    data = load(template)
    for name, resource in data["Resources"].items():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            assert "FullAccess" not in str(arn), f"{name} uses {arn}"
    assert "FullAccess" not in template.read_text()


def writes_on_every_resource(template: dict) -> list[str]:
    """Write actions allowed on `Resource: "*"` ("resource: action" for each)."""
    found = []
    for name, statement in statements(template):
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if "*" not in resources or statement.get("Effect") == "Deny":
            continue
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        found += [f"{name}: {a}" for a in actions if not a.split(":")[1].startswith(READ_ONLY)]
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_write_action_on_every_resource(template):
    """`Resource: "*"` only with read-only actions (AWS offers no resource scoping for them)."""
    assert writes_on_every_resource(load(template)) == []


def test_policy_check_catches_a_bad_statement():
    """The check above really looks: a write or a wildcard action on "*" is found."""
    bad = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{
        "PolicyName": "p", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "ec2:DescribeInstances"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": "codebuild:*", "Resource": ["*"]}]}}]}}}}
    assert writes_on_every_resource(bad) == ["Role: s3:PutObject", "Role: codebuild:*"]


def test_pipeline_template_has_what_the_course_promises():
    data = load(TEMPLATES[[p.name for p in TEMPLATES].index("pipeline.yaml")])
    resources = data["Resources"]
    bucket = resources["ArtifactBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["LifecycleConfiguration"]["Rules"]
    stages = resources["Pipeline"]["Properties"]["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Build", "Approval", "Deploy"]
    assert stages[0]["Actions"][0]["Configuration"]["PollForSourceChanges"] is False
    pattern = resources["PushRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["event"] == ["referenceCreated", "referenceUpdated"]
    alarm = resources["FailedPipelineAlarm"]["Properties"]
    assert alarm["MetricName"] == "FailedPipelineExecutions"
    for parameter in data["Parameters"].values():
        assert "Default" in parameter, "every parameter needs a default that works locally"
    assert set(data["Outputs"]) >= {"RepositoryName", "CloneUrlHttp", "PipelineName",
                                    "ArtifactBucketName", "ApprovalTopicArn"}
