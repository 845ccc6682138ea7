"""Chapter 04's pipeline (CodeCommit → CodeBuild → CodeDeploy on 2 local hosts), made with the
course's own helpers, and one timed push through it."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from benchmarks.harness import timed, wait_until
from labkit import ensure
from labkit.names import course_names
from labkit.services import codebuild, codecommit, codepipeline, hosts, iam

HOSTS = 2
FINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")


def make_pipeline(lab, wait: bool = True) -> dict:
    """Everything chapters 01-04 leave, with HOSTS hosts; returns names, hosts and the clone.
    Creating the pipeline starts its first execution; `wait` waits for it to succeed."""
    names = course_names(lab)
    for step in [*ensure.BUILD_STEPS, ensure.codedeploy_role, ensure.codedeploy_application]:
        step(lab, names)
    instance_ids = hosts.launch_instances(lab, HOSTS, name=names.hosts_name)
    ensure.deployment_group(lab, names)
    build_role = lab.client("iam").get_role(RoleName=names.codebuild_role)["Role"]["Arn"]
    codebuild.ensure_project(lab, codebuild.pipeline_project_definition(lab, names, build_role))
    pipeline_role = iam.ensure_service_role(lab, names.codepipeline_role,
                                            "codepipeline.amazonaws.com",
                                            iam.codepipeline_policy(names), "bench pipeline")
    codepipeline.ensure_pipeline(lab, codepipeline.pipeline_definition(names, pipeline_role))
    events_role = iam.ensure_service_role(lab, names.events_role, "events.amazonaws.com",
                                          iam.events_policy(names), "bench push rule")
    events = lab.client("events")
    events.put_rule(Name=names.source_rule,
                    EventPattern=json.dumps(codepipeline.source_rule_pattern(names)))
    events.put_targets(Rule=names.source_rule, Targets=[{
        "Id": "pipeline", "Arn": names.arn("codepipeline", names.pipeline),
        "RoleArn": events_role}])
    workdir = codecommit.clone(lab, names.repository,
                               Path(lab.state_dir) / "work" / names.repository)
    pipeline = {"names": names, "instances": instance_ids, "workdir": workdir}
    if wait:
        wait_for_first_execution(lab, pipeline)
    return pipeline


def wait_for_first_execution(lab, pipeline: dict) -> None:
    name = pipeline["names"].pipeline
    first = wait_for_end(lab, name, codepipeline.latest_execution_id(lab, name))
    if first != "Succeeded":
        raise RuntimeError(f"the first execution of {name} ended {first}")


def wait_for_end(lab, pipeline: str, execution_id: str, timeout: float = 600) -> str:
    client = lab.client("codepipeline")

    def ended():
        status = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)[
            "pipelineExecution"]["status"]
        return status if status in FINAL else None

    return wait_until(ended, timeout, f"execution {execution_id} of {pipeline}", interval=0.1)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200 and b'"healthy"' in response.read()
    except OSError:
        return False


def push_round_trip(lab, pipeline: dict, line: str) -> dict:
    """`git push` of a one-line change → Succeeded and the app healthy on every host: seconds."""
    names = pipeline["names"]
    known = codepipeline.execution_ids(lab, names.pipeline)
    client = lab.client("codepipeline")
    readme = pipeline["workdir"] / "README.md"

    def push_and_finish() -> tuple[str, str]:
        readme.write_text(readme.read_text() + f"\n{line}\n")
        codecommit.commit_and_push(lab, pipeline["workdir"], line)
        execution_id = wait_until(lambda: next(iter(codepipeline.execution_ids(
            lab, names.pipeline) - known), None), 60, "the execution the push started",
            interval=0.05)
        status = wait_for_end(lab, names.pipeline, execution_id)
        urls = [h["url"] for h in hosts.hosts(lab) if h["instanceId"] in pipeline["instances"]]
        wait_until(lambda: all(healthy(u) for u in urls), 30, "the app on every host")
        return execution_id, status

    seconds, (execution_id, status) = timed(push_and_finish)
    actions = client.list_action_executions(pipelineName=names.pipeline,
                                            filter={"pipelineExecutionId": execution_id})
    stages = {a["stageName"]: round((a["lastUpdateTime"] - a["startTime"]).total_seconds(), 2)
              for a in actions["actionExecutionDetails"]}
    return {"seconds": seconds, "status": status, "execution": execution_id, "stages": stages,
            "at": time.time()}
