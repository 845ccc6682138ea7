"""Finders for the Code* services: pipelines, build projects and report groups, deploy apps, repositories."""

from __future__ import annotations

from botocore.exceptions import ClientError

from labkit.teardown.context import FindContext
from labkit.teardown.core import LOOKUP_ERRORS, Resource, paginate, tags_from_list

ACTIVE_DEPLOYMENT_STATUSES = ["Created", "Queued", "InProgress", "Ready", "Baking"]


def _tags_or_empty(call, key: str = "tags", k: str = "key", v: str = "value") -> dict:
    try:
        return tags_from_list(call().get(key), k, v)
    except LOOKUP_ERRORS:
        return {}


def find_pipelines(ctx: FindContext) -> list[Resource]:
    cp = ctx.client("codepipeline")
    found = []
    for summary in paginate(cp, "list_pipelines", "pipelines"):
        name = summary["name"]
        arn = ctx.arn("codepipeline", name)
        tags = _tags_or_empty(lambda a=arn: cp.list_tags_for_resource(resourceArn=a))
        if ctx.owns("codepipeline pipeline", name, tags):
            found.append(Resource("codepipeline pipeline", name, _delete_pipeline(cp, name)))
    return found


def _delete_pipeline(cp, name: str):
    def delete():
        # Stop what is running first so no build or deployment is started on its behalf.
        for execution in cp.list_pipeline_executions(pipelineName=name).get(
                "pipelineExecutionSummaries", []):
            if execution.get("status") == "InProgress":
                try:
                    cp.stop_pipeline_execution(pipelineName=name, abandon=True,
                                               pipelineExecutionId=execution["pipelineExecutionId"],
                                               reason="labkit teardown")
                except ClientError:
                    pass  # it finished meanwhile
        cp.delete_pipeline(name=name)
    return delete


def find_build_projects(ctx: FindContext) -> list[Resource]:
    cb = ctx.client("codebuild")
    names = paginate(cb, "list_projects", "projects")
    found = []
    for start in range(0, len(names), 100):
        for project in cb.batch_get_projects(names=names[start:start + 100]).get("projects", []):
            tags = tags_from_list(project.get("tags"), "key", "value")
            if ctx.owns("codebuild project", project["name"], tags):
                found.append(Resource("codebuild project", project["name"],
                                      _delete_project(cb, project["name"])))
    return found


def _delete_project(cb, name: str):
    def delete():
        # A deleted project's running builds would go on (and cost); stop them first.
        ids = cb.list_builds_for_project(projectName=name).get("ids", [])
        for start in range(0, len(ids), 100):
            for build in cb.batch_get_builds(ids=ids[start:start + 100]).get("builds", []):
                if build.get("buildStatus") == "IN_PROGRESS":
                    try:
                        cb.stop_build(id=build["id"])
                    except ClientError:
                        pass  # it finished meanwhile
        cb.delete_project(name=name)
    return delete


def find_report_groups(ctx: FindContext) -> list[Resource]:
    cb = ctx.client("codebuild")
    arns = paginate(cb, "list_report_groups", "reportGroups")
    found = []
    for start in range(0, len(arns), 100):
        for group in cb.batch_get_report_groups(reportGroupArns=arns[start:start + 100]).get(
                "reportGroups", []):
            tags = tags_from_list(group.get("tags"), "key", "value")
            if ctx.owns("codebuild report group", group["name"], tags):
                arn = group["arn"]
                found.append(Resource(
                    "codebuild report group", group["name"],
                    lambda a=arn: cb.delete_report_group(arn=a, deleteReports=True)))
    return found


def find_deploy_applications(ctx: FindContext) -> list[Resource]:
    """Deployment groups (each its own row), then their application."""
    cd = ctx.client("codedeploy")
    found = []
    for app in paginate(cd, "list_applications", "applications"):
        arn = ctx.arn("codedeploy", f"application:{app}")
        tags = _tags_or_empty(lambda a=arn: cd.list_tags_for_resource(ResourceArn=a),
                              "Tags", "Key", "Value")
        if not ctx.owns("codedeploy application", app, tags):
            continue
        groups = paginate(cd, "list_deployment_groups", "deploymentGroups", applicationName=app)
        for group in groups:
            found.append(Resource("codedeploy deployment group", f"{app}/{group}",
                                  _delete_group(cd, app, group)))
        found.append(Resource("codedeploy application", app,
                              lambda a=app: cd.delete_application(applicationName=a)))
    return found


def _delete_group(cd, app: str, group: str):
    def delete():
        # An active deployment keeps hooks and services running on the hosts; stop it.
        for deployment_id in cd.list_deployments(
                applicationName=app, deploymentGroupName=group,
                includeOnlyStatuses=ACTIVE_DEPLOYMENT_STATUSES).get("deployments", []):
            try:
                cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)
            except ClientError:
                pass  # it finished meanwhile
        cd.delete_deployment_group(applicationName=app, deploymentGroupName=group)
    return delete


def find_deployment_configs(ctx: FindContext) -> list[Resource]:
    cd = ctx.client("codedeploy")
    found = []
    for name in paginate(cd, "list_deployment_configs", "deploymentConfigsList"):
        # Deployment configs cannot be tagged: the name or the ledger says whose they are.
        if not name.startswith("CodeDeployDefault.") and ctx.owns(
                "codedeploy deployment config", name):
            found.append(Resource("codedeploy deployment config", name,
                                  lambda n=name: cd.delete_deployment_config(
                                      deploymentConfigName=n)))
    return found


def find_repositories(ctx: FindContext) -> list[Resource]:
    cc = ctx.client("codecommit")
    found = []
    for repo in paginate(cc, "list_repositories", "repositories"):
        name = repo["repositoryName"]
        arn = ctx.arn("codecommit", name)
        tags = _dict_tags(cc, arn)
        if ctx.owns("codecommit repository", name, tags):
            found.append(Resource("codecommit repository", name,
                                  lambda n=name: cc.delete_repository(repositoryName=n)))
    return found


def _dict_tags(cc, arn: str) -> dict:
    # CodeCommit answers tags as a map, not a list.
    try:
        return dict(cc.list_tags_for_resource(resourceArn=arn).get("tags") or {})
    except LOOKUP_ERRORS:
        return {}


def find_approval_rule_templates(ctx: FindContext) -> list[Resource]:
    cc = ctx.client("codecommit")
    found = []
    for name in paginate(cc, "list_approval_rule_templates", "approvalRuleTemplateNames"):
        # Templates cannot be tagged: the name or the ledger says whose they are.
        if ctx.owns("codecommit approval rule template", name):
            found.append(Resource("codecommit approval rule template", name,
                                  _delete_template(cc, name)))
    return found


def _delete_template(cc, name: str):
    def delete():
        repos = paginate(cc, "list_repositories_for_approval_rule_template", "repositoryNames",
                         approvalRuleTemplateName=name)
        if repos:
            cc.batch_disassociate_approval_rule_template_from_repositories(
                approvalRuleTemplateName=name, repositoryNames=repos)
        cc.delete_approval_rule_template(approvalRuleTemplateName=name)
    return delete
