"""Small helpers for pipeline tests: roles, buckets, declarations, and waiting on state."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# What each service's role may do in tests that are not about permissions. The engines act
# with their role's permissions (as on AWS), so a role without policies can do nothing.
# Least-privilege policies, scoped to resources, are what the course and its tests teach.
SERVICE_ACTIONS = {
    "codepipeline.amazonaws.com": ["s3:*", "codecommit:*", "codebuild:*", "codedeploy:*",
                                   "sns:Publish", "cloudformation:*", "iam:PassRole"],
    "codebuild.amazonaws.com": ["s3:*", "logs:*", "ssm:GetParameters", "codecommit:GitPull",
                                "secretsmanager:GetSecretValue", "codebuild:*Report*",
                                "codebuild:BatchPutTestCases"],
    "codedeploy.amazonaws.com": ["ec2:Describe*", "autoscaling:*", "elasticloadbalancing:*",
                                 "tag:GetResources", "sns:Publish", "cloudwatch:DescribeAlarms",
                                 "ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"],
    "events.amazonaws.com": ["codepipeline:StartPipelineExecution"],
}


def make_role(aws, name: str | None = None, service: str = "codepipeline.amazonaws.com",
              actions: list[str] | None = None) -> str:
    """A role that `service` may assume, allowed `actions` (default: what the service needs)."""
    trust = json.loads(json.dumps(TRUST))
    trust["Statement"][0]["Principal"]["Service"] = service
    role_name = name or unique(service.split(".")[0] + "-role")
    iam = aws("iam")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    allowed = SERVICE_ACTIONS.get(service, []) if actions is None else actions
    if allowed:
        iam.put_role_policy(RoleName=role_name, PolicyName="service-access", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}]}))
    return role["Role"]["Arn"]


def make_instance_profile(aws, name: str | None = None,
                          actions: tuple[str, ...] = ("s3:GetObject", "s3:GetObjectVersion")) -> str:
    """An EC2 instance profile whose role the CodeDeploy agent reads revisions with; its name."""
    name = name or unique("ec2-agent")
    make_role(aws, name, service="ec2.amazonaws.com", actions=list(actions))
    iam = aws("iam")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


def make_bucket(aws, name: str | None = None, versioned: bool = True) -> str:
    name = name or unique("labkit-bucket")
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def action(name, category, provider, config=None, inputs=(), outputs=(), run_order=1, **extra):
    declared = {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider,
                         "version": "1"},
        "runOrder": run_order,
        "configuration": config or {},
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    declared.update(extra)
    return declared


def s3_source(bucket: str, key: str = "source.zip", **extra) -> dict:
    return action("Source", "Source", "S3",
                  {"S3Bucket": bucket, "S3ObjectKey": key, "PollForSourceChanges": "false"},
                  outputs=["SourceOutput"], **extra)


def approval(name: str = "Approve", topic: str | None = None, **extra) -> dict:
    config = {"CustomData": "Please review"}
    if topic:
        config["NotificationArn"] = topic
    return action(name, "Approval", "Manual", config, **extra)


def s3_deploy(bucket: str, name: str = "Deploy", **config) -> dict:
    return action(name, "Deploy", "S3", {"BucketName": bucket, "Extract": "true", **config},
                  inputs=["SourceOutput"])


def declaration(name: str, role: str, store: str, stages: list[tuple[str, list]], **extra) -> dict:
    return {"name": name, "roleArn": role,
            "artifactStore": {"type": "S3", "location": store},
            "stages": [{"name": n, "actions": acts} for n, acts in stages], **extra}


def wait_for(check, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def execution_status(cp, pipeline: str, execution_id: str) -> str:
    return cp.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["status"]


def wait_for_execution(cp, pipeline: str, execution_id: str, statuses=("Succeeded", "Failed",
                       "Stopped", "Superseded"), timeout: float = 120) -> str:
    return wait_for(lambda: (s := execution_status(cp, pipeline, execution_id)) in statuses and s,
                    timeout, what=f"execution {execution_id} to reach {statuses}")


def latest_execution_id(cp, pipeline: str) -> str:
    summaries = wait_for(lambda: cp.list_pipeline_executions(pipelineName=pipeline)[
        "pipelineExecutionSummaries"], what="a first execution")
    return summaries[0]["pipelineExecutionId"]


def action_state(cp, pipeline: str, stage: str, action_name: str) -> dict:
    for stage_state in cp.get_pipeline_state(name=pipeline)["stageStates"]:
        if stage_state["stageName"] == stage:
            for state in stage_state["actionStates"]:
                if state["actionName"] == action_name:
                    return state
    return {}


def wait_for_approval_token(cp, pipeline: str, stage: str, action_name: str,
                            execution_id: str | None = None) -> str:
    def token():
        latest = action_state(cp, pipeline, stage, action_name).get("latestExecution", {})
        if latest.get("status") == "InProgress" and latest.get("token"):
            if execution_id is None:
                return latest["token"]
            for stage_state in cp.get_pipeline_state(name=pipeline)["stageStates"]:
                if (stage_state["stageName"] == stage and stage_state.get("latestExecution", {})
                        .get("pipelineExecutionId") == execution_id):
                    return latest["token"]
        return None

    return wait_for(token, what=f"approval {stage}/{action_name} to wait")


class Git:
    """Real git in a temp dir, with its own identity and no credential prompts."""

    def __init__(self, root):
        import os

        self.root = root
        home = root / "home"
        home.mkdir(exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0",
                    "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Learner",
                    "GIT_AUTHOR_EMAIL": "learner@example.com", "GIT_COMMITTER_NAME": "Learner",
                    "GIT_COMMITTER_EMAIL": "learner@example.com"}

    def __call__(self, *args, cwd=None) -> str:
        import subprocess

        done = subprocess.run(["git", "-c", "init.defaultBranch=main", *args],
                              cwd=cwd or self.root, env=self.env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def commit_and_push(self, work, files: dict[str, str], message: str,
                        branch: str = "main") -> str:
        for path, text in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self("add", "-A", cwd=work)
        self("commit", "-q", "-m", message, cwd=work)
        self("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
        return self("rev-parse", "HEAD", cwd=work).strip()
