"""lab.ensure(chapter): create, idempotently, what the earlier chapters would have left behind."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from labkit.names import CourseNames, course_names
from labkit.services import codebuild, codecommit, codedeploy, codepipeline, hosts, iam, s3

HOST_COUNT = 3


def repository_with_app(lab, names: CourseNames) -> str:
    """Chapter 01: the repository, with the sample app on main."""
    client = lab.client("codecommit")
    try:
        client.create_repository(repositoryName=names.repository,
                                 repositoryDescription="my-app, the course's sample service",
                                 tags=lab.tags.as_dict())
        state = "created"
    except client.exceptions.RepositoryNameExistsException:
        state = "exists"
    if not codecommit.branch_exists(lab, names.repository, "main"):
        codecommit.push_sample_app(lab, names.repository)
        state = "created"
    return state


def artifact_bucket(lab, names: CourseNames) -> str:
    existed = _bucket_exists(lab, names.artifact_bucket)
    s3.ensure_artifact_bucket(lab, names.artifact_bucket)
    return "exists" if existed else "created"


def _bucket_exists(lab, bucket: str) -> bool:
    client = lab.client("s3")
    try:
        client.head_bucket(Bucket=bucket)
        return True
    except client.exceptions.ClientError:
        return False


def log_level_parameter(lab, names: CourseNames) -> str:
    client = lab.client("ssm")
    try:
        client.get_parameter(Name=names.log_level_parameter)
        return "exists"
    except client.exceptions.ParameterNotFound:
        client.put_parameter(Name=names.log_level_parameter, Value="info", Type="String",
                             Tags=lab.tags.as_list())
        return "created"


def _role_step(role: str, service: str, policy: Callable) -> Callable:
    def step(lab, names: CourseNames) -> str:
        client = lab.client("iam")
        try:
            client.get_role(RoleName=getattr(names, role))
            existed = True
        except client.exceptions.NoSuchEntityException:
            existed = False
        iam.ensure_service_role(lab, getattr(names, role), service, policy(names),
                                f"labkit: the {service.split('.')[0]} service role")
        return "exists" if existed else "created"

    step.__name__ = role
    return step


codebuild_role = _role_step("codebuild_role", "codebuild.amazonaws.com", iam.codebuild_policy)
codedeploy_role = _role_step("codedeploy_role", "codedeploy.amazonaws.com", iam.codedeploy_policy)
codepipeline_role = _role_step("codepipeline_role", "codepipeline.amazonaws.com", iam.codepipeline_policy)
events_role = _role_step("events_role", "events.amazonaws.com", iam.events_policy)


def _project_step(project: str, definition: Callable) -> Callable:
    """A step that makes a CodeBuild project (under the CodeBuild role) unless it exists."""
    def step(lab, names: CourseNames) -> str:
        client = lab.client("codebuild")
        if client.batch_get_projects(names=[getattr(names, project)])["projects"]:
            return "exists"
        role_arn = lab.client("iam").get_role(RoleName=names.codebuild_role)["Role"]["Arn"]
        declared = definition(lab, names, role_arn)
        iam.retry_while_role_propagates(lab, lambda: codebuild.ensure_project(lab, declared))
        return "created"

    step.__name__ = project
    return step


build_project = _project_step("build_project", codebuild.project_definition)
# Chapter 04's project for the pipeline: source and artifacts of type CODEPIPELINE.
pipeline_build_project = _project_step("pipeline_build_project", codebuild.pipeline_project_definition)


def successful_build(lab, names: CourseNames) -> str:
    """Chapter 02's result: a build of main whose artifact is in the bucket."""
    if codebuild.latest_build(lab, names.build_project, status="SUCCEEDED"):
        return "exists"
    build_id = lab.client("codebuild").start_build(projectName=names.build_project)["build"]["id"]
    build = codebuild.wait_for_build(lab, build_id, timeout=900)
    if build["buildStatus"] != "SUCCEEDED":
        reason = codebuild.failure_reason(build)
        raise RuntimeError(f"The catch-up build {build_id} ended {build['buildStatus']}: {reason}")
    return "created"


def web_hosts(lab, names: CourseNames) -> str:
    """Chapter 03's fleet: HOST_COUNT running instances tagged Name=<prefix>-web."""
    running = _running_hosts(lab, names)
    if len(running) >= HOST_COUNT:
        return "exists"
    hosts.launch_instances(lab, HOST_COUNT - len(running), name=names.hosts_name)
    return "created"


def _running_hosts(lab, names: CourseNames) -> list[str]:
    filters = [{"Name": "tag:Name", "Values": [names.hosts_tag]},
               {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    found = []
    for reservation in lab.client("ec2").describe_instances(Filters=filters)["Reservations"]:
        found += [i["InstanceId"] for i in reservation["Instances"]]
    return found


def codedeploy_application(lab, names: CourseNames) -> str:
    return codedeploy.ensure_application(lab, names.codedeploy_app)


def deployment_group(lab, names: CourseNames) -> str:
    client = lab.client("codedeploy")
    try:
        client.get_deployment_group(applicationName=names.codedeploy_app,
                                    deploymentGroupName=names.deployment_group)
        return "exists"
    except client.exceptions.DeploymentGroupDoesNotExistException:
        pass
    role_arn = lab.client("iam").get_role(RoleName=names.codedeploy_role)["Role"]["Arn"]
    return codedeploy.ensure_deployment_group(lab, names.codedeploy_app, names.deployment_group,
                                              role_arn, names.hosts_tag)


def pipeline(lab, names: CourseNames) -> str:
    """Chapter 04's pipeline, Source → Build → Deploy; a new one runs once, and this waits for it."""
    client = lab.client("codepipeline")
    try:
        client.get_pipeline(name=names.pipeline)
        return "exists"
    except client.exceptions.PipelineNotFoundException:
        pass
    role_arn = lab.client("iam").get_role(RoleName=names.codepipeline_role)["Role"]["Arn"]
    definition = codepipeline.pipeline_definition(names, role_arn)
    iam.retry_while_role_propagates(lab, lambda: codepipeline.ensure_pipeline(lab, definition))
    first = codepipeline.wait_for_execution(lab, names.pipeline)
    if first["status"] != "Succeeded":
        raise RuntimeError(f"The catch-up pipeline's first execution ended {first['status']}: "
                           f"see codepipeline.state_table(lab, {names.pipeline!r}).")
    return "created"


def source_rule(lab, names: CourseNames) -> str:
    """Chapter 04's EventBridge rule: a push to main starts the pipeline."""
    events = lab.client("events")
    try:
        events.describe_rule(Name=names.source_rule)
        return "exists"
    except events.exceptions.ResourceNotFoundException:
        pass
    role_arn = lab.client("iam").get_role(RoleName=names.events_role)["Role"]["Arn"]
    events.put_rule(Name=names.source_rule, EventPattern=json.dumps(codepipeline.source_rule_pattern(names)),
                    Description="A push to main starts the pipeline", Tags=lab.tags.as_list())
    events.put_targets(Rule=names.source_rule, Targets=[{
        "Id": "pipeline", "Arn": names.arn("codepipeline", names.pipeline), "RoleArn": role_arn}])
    return "created"


BUILD_STEPS = [repository_with_app, artifact_bucket, log_level_parameter, codebuild_role, build_project]
DEPLOY_STEPS = [web_hosts, codedeploy_role, codedeploy_application, deployment_group]
PIPELINE_STEPS = [codepipeline_role, pipeline_build_project, pipeline, events_role, source_rule]
# Part 2 starts from the end of part 1: the pipeline of chapter 04, started by a push.
PART_ONE = [*BUILD_STEPS, *DEPLOY_STEPS, *PIPELINE_STEPS]
STEPS: dict[str, list[Callable]] = {
    "00": [],
    "01": [],
    "02": [repository_with_app],
    "03": [*BUILD_STEPS, successful_build],
    "04": [*BUILD_STEPS, *DEPLOY_STEPS],
    # chapter 05
    "05": [*PART_ONE],
    # chapter 06
    "06": [*PART_ONE],
    # chapter 07
    "07": [*PART_ONE],
    # chapter 08
    "08": [*PART_ONE],
    # chapter 09
    "09": [*PART_ONE],
    # chapter 10: nothing to catch up; it deletes what is there
    "10": [],
}


def ensure(lab, chapter: str) -> pd.DataFrame:
    """Run the chapter's catch-up steps in order; a table says what each found or created."""
    chapter = str(chapter).zfill(2)[:2]
    if chapter not in STEPS:
        raise ValueError(f"Unknown chapter {chapter!r}; known chapters: {', '.join(sorted(STEPS))}.")
    names = course_names(lab)
    rows = [{"step": step.__name__.replace("_", " "), "result": step(lab, names)}
            for step in STEPS[chapter]]
    return pd.DataFrame(rows, columns=["step", "result"])
