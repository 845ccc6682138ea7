"""CodeBuild state per account and region: projects, builds, report groups and reports."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from labkit.aws_names import CODEBUILD_PHASES
from labkit.emulator.codebuild import projects as project_rules
from labkit.emulator.codebuild.exceptions import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)

PHASE_ORDER = CODEBUILD_PHASES


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Build:
    """One build; the runner changes it while it runs, under the backend's lock."""

    id: str
    arn: str
    build_number: int
    project_name: str
    project: dict  # the project as it was when the build started, with overrides applied
    source_version: str | None
    initiator: str
    start_time: datetime = field(default_factory=utcnow)
    end_time: datetime | None = None
    status: str = "IN_PROGRESS"
    current_phase: str = "SUBMITTED"
    phases: list[dict] = field(default_factory=list)
    resolved_source_version: str | None = None
    artifacts: dict = field(default_factory=dict)
    secondary_artifacts: list[dict] = field(default_factory=list)
    logs: dict = field(default_factory=dict)
    exported_variables: list[dict] = field(default_factory=list)
    report_arns: list[str] = field(default_factory=list)
    complete: bool = False
    stop_requested: bool = False
    work_dir: str = ""

    @property
    def uuid(self) -> str:
        return self.id.split(":", 1)[1]

    def describe(self) -> dict:
        project = self.project
        out = {
            "id": self.id,
            "arn": self.arn,
            "buildNumber": self.build_number,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "currentPhase": self.current_phase,
            "buildStatus": self.status,
            "sourceVersion": self.source_version,
            "resolvedSourceVersion": self.resolved_source_version,
            "projectName": self.project_name,
            "phases": [
                dict(p, contexts=list(p["contexts"])) if "contexts" in p else dict(p)
                for p in self.phases
            ],
            "source": project["source"],
            "secondarySources": project.get("secondarySources", []),
            "secondarySourceVersions": project.get("secondarySourceVersions", []),
            "artifacts": self.artifacts,
            "secondaryArtifacts": self.secondary_artifacts,
            "cache": project.get("cache"),
            "environment": project["environment"],
            "serviceRole": project["serviceRole"],
            "logs": self.logs,
            "timeoutInMinutes": project["timeoutInMinutes"],
            "queuedTimeoutInMinutes": project["queuedTimeoutInMinutes"],
            "buildComplete": self.complete,
            "initiator": self.initiator,
            "encryptionKey": project.get("encryptionKey"),
            "exportedEnvironmentVariables": self.exported_variables,
            "reportArns": self.report_arns,
            "fileSystemLocations": [],
        }
        return out


@dataclass
class ReportGroup:
    arn: str
    name: str
    type: str = "TEST"
    created: datetime = field(default_factory=utcnow)
    last_modified: datetime = field(default_factory=utcnow)
    tags: list[dict] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "arn": self.arn,
            "name": self.name,
            "type": self.type,
            "exportConfig": {"exportConfigType": "NO_EXPORT"},
            "created": self.created,
            "lastModified": self.last_modified,
            "tags": self.tags,
            "status": "ACTIVE",
        }


@dataclass
class Report:
    arn: str
    name: str
    group_arn: str
    execution_id: str  # the build's ARN
    status: str = "GENERATING"
    created: datetime = field(default_factory=utcnow)
    test_cases: list[dict] = field(default_factory=list)
    duration_ns: int = 0

    def describe(self) -> dict:
        counts = {s: 0 for s in ("SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN")}
        for case in self.test_cases:
            counts[case["status"]] = counts.get(case["status"], 0) + 1
        return {
            "arn": self.arn,
            "type": "TEST",
            "name": self.name,
            "reportGroupArn": self.group_arn,
            "executionId": self.execution_id,
            "status": self.status,
            "created": self.created,
            "exportConfig": {"exportConfigType": "NO_EXPORT"},
            "truncated": False,
            "testSummary": {
                "total": len(self.test_cases),
                "statusCounts": counts,
                "durationInNanoSeconds": self.duration_ns,
            },
        }


class CodeBuildBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.projects: dict[str, dict] = {}
        self.builds: dict[str, Build] = {}  # in start order
        self.build_counters: dict[str, int] = {}
        self.idempotency: dict[
            str, tuple[dict, str, float]
        ] = {}  # token -> (params, build id, when)
        self.report_groups: dict[str, ReportGroup] = {}  # by ARN
        self.reports: dict[str, Report] = {}  # by ARN
        self.lock = threading.RLock()

    # --- ARNs ---------------------------------------------------------------------------
    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:codebuild:{self.region}:{self.account_id}:{kind}/{name}"

    # --- projects -----------------------------------------------------------------------
    def list_project_names(self) -> list[str]:
        with self.lock:
            return sorted(self.projects)

    def create_project(self, params: dict) -> dict:
        name = params["name"]
        project_rules.check_name(name)
        with self.lock:
            if name in self.projects:
                raise ResourceAlreadyExistsException(
                    f"Project already exists: {self.arn('project', name)}"
                )
        project = project_rules.normalise(params, self.account_id, self.region)
        now = utcnow()
        project.update(name=name, arn=self.arn("project", name), created=now, lastModified=now)
        with self.lock:
            if name in self.projects:
                raise ResourceAlreadyExistsException(
                    f"Project already exists: {self.arn('project', name)}"
                )
            self.projects[name] = project
        return project

    def update_project(self, params: dict) -> dict:
        name = self._project_name(params["name"])
        with self.lock:
            existing = self.projects.get(name)
        if existing is None:
            raise ResourceNotFoundException(f"Project cannot be found: {self.arn('project', name)}")
        project = project_rules.normalise(params, self.account_id, self.region, existing)
        project["lastModified"] = utcnow()
        with self.lock:
            self.projects[name] = project
        return project

    def get_project(self, name_or_arn: str) -> dict:
        name = self._project_name(name_or_arn)
        with self.lock:
            project = self.projects.get(name)
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {self.arn('project', name)}")
        return project

    def delete_project(self, name_or_arn: str) -> None:
        with self.lock:
            self.projects.pop(self._project_name(name_or_arn), None)

    def _project_name(self, name_or_arn: str) -> str:
        return name_or_arn.rsplit(":project/", 1)[1] if ":project/" in name_or_arn else name_or_arn

    # --- builds -------------------------------------------------------------------------
    def new_build(self, project: dict, source_version: str | None, initiator: str) -> Build:
        name = project["name"]
        build_uuid = str(uuid.uuid4())
        with self.lock:
            number = self.build_counters.get(name, 0) + 1
            self.build_counters[name] = number
            build = Build(
                id=f"{name}:{build_uuid}",
                arn=self.arn("build", f"{name}:{build_uuid}"),
                build_number=number,
                project_name=name,
                project=project,
                source_version=source_version,
                initiator=initiator,
            )
            self.builds[build.id] = build
        return build

    def get_build(self, build_id: str) -> Build:
        build_id = build_id.rsplit(":build/", 1)[1] if ":build/" in build_id else build_id
        if ":" not in build_id:
            raise InvalidInputException(f"Invalid build ID provided: {build_id}")
        with self.lock:
            build = self.builds.get(build_id)
        if build is None:
            raise ResourceNotFoundException(f"Build {build_id} does not exist")
        return build

    def build_ids(self, project: str | None = None, newest_first: bool = True) -> list[str]:
        with self.lock:
            ids = [
                b.id for b in self.builds.values() if project is None or b.project_name == project
            ]
        return ids[::-1] if newest_first else ids

    # --- reports ------------------------------------------------------------------------
    def report_group_for(self, name: str, tags: list[dict] | None = None) -> ReportGroup:
        arn = name if name.startswith("arn:") else self.arn("report-group", name)
        with self.lock:
            group = self.report_groups.get(arn)
            if group is None:
                group = ReportGroup(arn=arn, name=arn.rsplit("/", 1)[1], tags=list(tags or []))
                self.report_groups[arn] = group
            return group

    def add_report(self, group: ReportGroup, build: Build) -> Report:
        report = Report(
            arn=self.arn("report", f"{group.name}:{uuid.uuid4()}"),
            name=group.name,
            group_arn=group.arn,
            execution_id=build.arn,
        )
        with self.lock:
            self.reports[report.arn] = report
            group.last_modified = utcnow()
        return report
