"""CodeBuild requests: JSON in, model call, JSON out."""

from __future__ import annotations

import copy
import time

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codebuild import aws_actions
from labkit.emulator.codebuild import projects as project_rules
from labkit.emulator.codebuild.exceptions import (
    AccountLimitExceededException,
    InvalidInputException,
    ResourceNotFoundException,
)
from labkit.emulator.codebuild.models import Build, CodeBuildBackend
from labkit.emulator.codebuild.runner import BuildRunner, PipelineContext
from labkit.emulator.json_api import JsonService

PAGE = 100


class CodeBuildResponses(JsonService):
    service_name = "codebuild"
    validation_error = InvalidInputException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodeBuildBackend)
        self.runners: dict[str, BuildRunner] = {}
        runtime.on_reset(self._reset)

    def _reset(self) -> None:
        for backend in self.backends:
            for build in list(backend.builds.values()):
                build.stop_requested = True
        self.runners.clear()
        self.backends.reset()

    def _backend(self, ctx) -> CodeBuildBackend:
        return self.backends.get(ctx.account_id, ctx.region)

    # --- projects -----------------------------------------------------------------------
    def create_project(self, params, ctx):
        return {"project": self._backend(ctx).create_project(params)}

    def update_project(self, params, ctx):
        return {"project": self._backend(ctx).update_project(params)}

    def delete_project(self, params, ctx):
        self._backend(ctx).delete_project(params["name"])
        return {}

    def batch_get_projects(self, params, ctx):
        backend = self._backend(ctx)
        found, missing = [], []
        for name in params["names"]:
            try:
                found.append(backend.get_project(name))
            except ResourceNotFoundException:
                missing.append(name)
        return {"projects": found, "projectsNotFound": missing}

    def list_projects(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            projects = list(backend.projects.values())
        key = {
            "NAME": lambda p: p["name"],
            "CREATED_TIME": lambda p: p["created"],
            "LAST_MODIFIED_TIME": lambda p: p["lastModified"],
        }[params.get("sortBy", "NAME")]
        projects.sort(key=key, reverse=params.get("sortOrder") == "DESCENDING")
        names, token = _page([p["name"] for p in projects], params.get("nextToken"))
        return {"projects": names, "nextToken": token}

    # --- builds -------------------------------------------------------------------------
    def start_build(self, params, ctx):
        backend = self._backend(ctx)
        project = backend.get_project(params["projectName"])
        token = params.get("idempotencyToken")
        if token:
            # The same token within 5 minutes returns the same build, as on AWS.
            other = {k: v for k, v in params.items() if k != "idempotencyToken"}
            with backend.lock:
                earlier = backend.idempotency.get(token)
            if earlier and time.time() - earlier[2] < 300:
                if earlier[0] != other:
                    raise InvalidInputException(
                        "Start build request with the same idempotency token but different "
                        "parameters: use a new idempotencyToken for a different build"
                    )
                build = backend.get_build(earlier[1])
                with backend.lock:
                    return {"build": build.describe()}
        if project["source"]["type"] == "CODEPIPELINE" and not params.get("sourceTypeOverride"):
            raise InvalidInputException(
                "Builds of a project whose source type is CODEPIPELINE are started by CodePipeline; "
                "override the source type (sourceTypeOverride) to start one directly"
            )
        build_project = self._with_overrides(project, params, ctx.account_id)
        limit = project.get("concurrentBuildLimit")
        if limit:
            with backend.lock:
                running = sum(
                    1
                    for b in backend.builds.values()
                    if b.project_name == project["name"] and not b.complete
                )
            if running >= limit:
                raise AccountLimitExceededException(
                    f"Cannot have more than {limit} active builds for the project {project['name']}"
                )
        initiator = aws_actions.initiator_for(ctx.account_id, ctx.access_key)
        build = self._launch(backend, build_project, params, initiator, None)
        with backend.lock:  # the build's thread is already changing it
            if token:
                backend.idempotency[token] = (other, build.id, time.time())
            return {"build": build.describe()}

    def start_pipeline_build(
        self,
        account_id: str,
        region: str,
        project_name: str,
        *,
        pipeline_name: str,
        inputs: list[dict],
        outputs: list[dict],
        primary_source: str | None = None,
        environment_variables: list[dict] | None = None,
    ) -> Build:
        """For the CodePipeline engine: start a build of a CODEPIPELINE project.

        `inputs` / `outputs` are [{"name", "bucket", "key"}] (inputs may carry "revision", the
        commit id); the first input (or `primary_source`) becomes CODEBUILD_SRC_DIR and the
        first output receives the primary artifact zip, the others secondary artifacts by name.
        Poll `self.backends.get(account, region).get_build(build.id)` for its status.
        """
        backend = self.backends.get(account_id, region)
        project = copy.deepcopy(backend.get_project(project_name))
        # As on AWS, a pipeline build takes its sources from, and gives its artifacts to, the
        # pipeline, whatever the project says (a project may also build on its own from S3).
        project["source"]["type"] = "CODEPIPELINE"
        project.pop("sourceVersion", None)
        project["artifacts"] = {**project.get("artifacts", {}), "type": "CODEPIPELINE"}
        project["secondaryArtifacts"] = [
            {**a, "type": "CODEPIPELINE"} for a in project.get("secondaryArtifacts", [])
        ]
        params = {"environmentVariablesOverride": environment_variables or []}
        pipeline = PipelineContext(pipeline_name, inputs, outputs, primary_source)
        return self._launch(backend, project, params, f"codepipeline/{pipeline_name}", pipeline)

    def _launch(self, backend, project, params, initiator, pipeline) -> Build:
        source_version = params.get("sourceVersion") or project.get("sourceVersion")
        if pipeline and pipeline.inputs:
            source_version = pipeline.inputs[0].get("revision") or source_version
        build = backend.new_build(project, source_version, initiator)
        try:
            runner = BuildRunner(
                self.runtime,
                backend,
                build,
                params.get("environmentVariablesOverride", []),
                params.get("buildspecOverride"),
                pipeline,
            )
            runner.start()
        except Exception:
            with backend.lock:  # nothing half-created: a build that never started is not listed
                backend.builds.pop(build.id, None)
            raise
        self.runners[build.id] = runner
        return build

    def _with_overrides(self, project: dict, params: dict, account_id: str) -> dict:
        """The project a build runs: a copy with StartBuild's overrides applied and checked."""
        project = copy.deepcopy(project)
        source = project["source"]
        if params.get("sourceTypeOverride"):
            source["type"] = params["sourceTypeOverride"]
            source.pop("location", None)
        if params.get("sourceLocationOverride"):
            source["location"] = params["sourceLocationOverride"]
        if params.get("buildspecOverride"):
            source["buildspec"] = params["buildspecOverride"]
        project_rules.check_source(source)
        if "secondarySourcesOverride" in params:
            project["secondarySources"] = params["secondarySourcesOverride"]
        if "secondarySourcesVersionOverride" in params:
            project["secondarySourceVersions"] = params["secondarySourcesVersionOverride"]
        for extra in project.get("secondarySources", []):
            project_rules.check_source(extra, "secondary source")
        if "secondaryArtifactsOverride" in params:
            project["secondaryArtifacts"] = params["secondaryArtifactsOverride"]
            for extra in project["secondaryArtifacts"]:
                project_rules.check_artifacts(extra, "secondary artifacts")
        if params.get("artifactsOverride"):
            project["artifacts"] = params["artifactsOverride"]
            project_rules.check_artifacts(project["artifacts"])
        if params.get("cacheOverride"):
            project["cache"] = params["cacheOverride"]
            project_rules.check_cache(project["cache"])
        if params.get("logsConfigOverride"):
            project["logsConfig"] = params["logsConfigOverride"]
        environment = project["environment"]
        for key, field in (
            ("imageOverride", "image"),
            ("computeTypeOverride", "computeType"),
            ("environmentTypeOverride", "type"),
            ("privilegedModeOverride", "privilegedMode"),
        ):
            if key in params:
                environment[field] = params[key]
        project_rules.check_environment(environment)
        project_rules.check_variables(params.get("environmentVariablesOverride", []))
        if "timeoutInMinutesOverride" in params:
            project_rules.check_timeout(
                params["timeoutInMinutesOverride"], "timeoutInMinutesOverride", 5, 2160
            )
            project["timeoutInMinutes"] = params["timeoutInMinutesOverride"]
        if "queuedTimeoutInMinutesOverride" in params:
            project["queuedTimeoutInMinutes"] = params["queuedTimeoutInMinutesOverride"]
        if params.get("serviceRoleOverride"):
            project["serviceRole"] = aws_actions.assumable_role_arn(
                account_id, params["serviceRoleOverride"]
            )
        return project

    def stop_build(self, params, ctx):
        build = self._backend(ctx).get_build(params["id"])
        if not build.complete:
            build.stop_requested = True
        with self._backend(ctx).lock:
            return {"build": build.describe()}

    def retry_build(self, params, ctx):
        backend = self._backend(ctx)
        previous = backend.get_build(params["id"])
        if not previous.complete:
            raise InvalidInputException(
                f"Build {previous.id} is still in progress; retry it when it is done"
            )
        runner = self.runners.get(previous.id)
        params = {
            "environmentVariablesOverride": runner.variables_override if runner else [],
            "buildspecOverride": runner.buildspec_override if runner else None,
            "sourceVersion": previous.source_version,
        }
        build = self._launch(
            backend,
            copy.deepcopy(previous.project),
            params,
            previous.initiator,
            runner.pipeline if runner else None,
        )
        with backend.lock:
            return {"build": build.describe()}

    def batch_get_builds(self, params, ctx):
        backend = self._backend(ctx)
        found, missing = [], []
        for build_id in params["ids"]:
            try:
                build = backend.get_build(build_id)
            except (ResourceNotFoundException, InvalidInputException):
                missing.append(build_id)
                continue
            with backend.lock:
                found.append(build.describe())
        return {"builds": found, "buildsNotFound": missing}

    def batch_delete_builds(self, params, ctx):
        backend = self._backend(ctx)
        deleted, not_deleted = [], []
        for build_id in params["ids"]:
            try:
                build = backend.get_build(build_id)
            except (ResourceNotFoundException, InvalidInputException):
                not_deleted.append({"id": build_id, "statusCode": "BUILD_NOT_FOUND"})
                continue
            if not build.complete:
                not_deleted.append({"id": build_id, "statusCode": "BUILD_IN_PROGRESS"})
                continue
            with backend.lock:
                backend.builds.pop(build.id, None)
            deleted.append(build_id)
        return {"buildsDeleted": deleted, "buildsNotDeleted": not_deleted}

    def list_builds(self, params, ctx):
        ids = self._backend(ctx).build_ids(newest_first=params.get("sortOrder") != "ASCENDING")
        ids, token = _page(ids, params.get("nextToken"))
        return {"ids": ids, "nextToken": token}

    def list_builds_for_project(self, params, ctx):
        backend = self._backend(ctx)
        name = backend.get_project(params["projectName"])["name"]
        ids = backend.build_ids(name, newest_first=params.get("sortOrder") != "ASCENDING")
        ids, token = _page(ids, params.get("nextToken"))
        return {"ids": ids, "nextToken": token}

    # --- reports ------------------------------------------------------------------------
    def batch_get_reports(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            found = [
                backend.reports[a].describe() for a in params["reportArns"] if a in backend.reports
            ]
            missing = [a for a in params["reportArns"] if a not in backend.reports]
        return {"reports": found, "reportsNotFound": missing}

    def list_reports(self, params, ctx):
        return self._list_reports(self._backend(ctx), None, params)

    def list_reports_for_report_group(self, params, ctx):
        backend = self._backend(ctx)
        arn = params["reportGroupArn"]
        with backend.lock:
            if arn not in backend.report_groups:
                raise ResourceNotFoundException(f"Report group {arn} does not exist")
        return self._list_reports(backend, arn, params)

    def _list_reports(self, backend, group_arn, params):
        status = (params.get("filter") or {}).get("status")
        with backend.lock:
            arns = [
                r.arn
                for r in backend.reports.values()
                if (group_arn is None or r.group_arn == group_arn)
                and (status is None or r.status == status)
            ]
        if params.get("sortOrder") != "ASCENDING":
            arns.reverse()
        arns, token = _page(arns, params.get("nextToken"), params.get("maxResults", PAGE))
        return {"reports": arns, "nextToken": token}

    def describe_test_cases(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            report = backend.reports.get(params["reportArn"])
            if report is None:
                raise ResourceNotFoundException(f"Report {params['reportArn']} does not exist")
            cases = list(report.test_cases)
        wanted = params.get("filter") or {}
        if wanted.get("status"):
            cases = [c for c in cases if c["status"] == wanted["status"]]
        if wanted.get("keyword"):
            cases = [
                c
                for c in cases
                if wanted["keyword"] in c["name"] or wanted["keyword"] in (c.get("prefix") or "")
            ]
        cases, token = _page(cases, params.get("nextToken"), params.get("maxResults", PAGE))
        return {"testCases": cases, "nextToken": token}

    def batch_get_report_groups(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            found = [
                backend.report_groups[a].describe()
                for a in params["reportGroupArns"]
                if a in backend.report_groups
            ]
            missing = [a for a in params["reportGroupArns"] if a not in backend.report_groups]
        return {"reportGroups": found, "reportGroupsNotFound": missing}

    def list_report_groups(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            groups = list(backend.report_groups.values())
        key = {
            "NAME": lambda g: g.name,
            "CREATED_TIME": lambda g: g.created,
            "LAST_MODIFIED_TIME": lambda g: g.last_modified,
        }[params.get("sortBy", "NAME")]
        groups.sort(key=key, reverse=params.get("sortOrder") == "DESCENDING")
        arns, token = _page(
            [g.arn for g in groups], params.get("nextToken"), params.get("maxResults", PAGE)
        )
        return {"reportGroups": arns, "nextToken": token}

    def delete_report_group(self, params, ctx):
        backend = self._backend(ctx)
        with backend.lock:
            has_reports = any(r.group_arn == params["arn"] for r in backend.reports.values())
            if has_reports and not params.get("deleteReports"):
                raise InvalidInputException(
                    f"Report group {params['arn']} has reports; delete them first or set deleteReports"
                )
            backend.report_groups.pop(params["arn"], None)
            for arn in [a for a, r in backend.reports.items() if r.group_arn == params["arn"]]:
                del backend.reports[arn]
        return {}


def _page(items: list, token: str | None, size: int = PAGE) -> tuple[list, str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidInputException(f"Invalid nextToken: {token}") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
