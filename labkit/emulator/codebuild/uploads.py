"""UPLOAD_ARTIFACTS: test reports into report groups, artifacts into S3, then the build cache."""

from __future__ import annotations

import re

from labkit.emulator.codebuild import artifacts as artifact_store
from labkit.emulator.codebuild import aws_actions, reports
from labkit.emulator.codebuild.aws_actions import ActionError
from labkit.emulator.codebuild.globs import matching_files


class UploadFailed(Exception):
    def __init__(self, status_code: str, message: str):
        super().__init__(message)
        self.status_code, self.message = status_code, message


class Uploader:
    """Works on a running build's state (the BuildRunner): its spec, source folder, log and env."""

    def __init__(self, runner):
        self.runner = runner
        self.backend, self.build, self.project = runner.backend, runner.build, runner.project
        self.spec, self.src_dir, self.log = runner.spec, runner.src_dir, runner.log
        self.pipeline, self.env, self.cache = runner.pipeline, runner.env, runner.cache
        self.identity = runner.identity

    @property
    def failed(self) -> bool:
        return self.runner.failed

    def run(self) -> None:
        """Reports, then primary and secondary artifacts, then the cache; raise on an artifact problem."""
        problems = []
        try:
            self._make_reports()
        except ActionError as exc:  # the role may not write reports: UPLOAD_ARTIFACTS fails, as on AWS
            self.log.container(f"Error in UPLOAD_ARTIFACTS phase: {exc.code}: {exc.message}")
            problems.append(f"{exc.code}: {exc.message}")
        project_artifacts = self.project.get("artifacts") or {}
        try:
            self._upload_primary(project_artifacts)
        except artifact_store.ArtifactError as exc:
            problems.append(str(exc))
        for extra in self.project.get("secondaryArtifacts", []):
            try:
                self._upload_secondary(extra)
            except artifact_store.ArtifactError as exc:
                problems.append(str(exc))
        if self.cache.enabled and self.spec.cache_paths and not self.failed and not problems:
            try:
                self.log.container(self.cache.save(self.src_dir, self.spec.cache_paths))
            except (OSError, ActionError) as exc:
                self.log.container(f"Unable to save cache: {exc}")
        if problems:
            raise UploadFailed("CLIENT_ERROR", problems[0])

    def _upload_primary(self, project_artifacts: dict) -> None:
        kind = project_artifacts.get("type")
        if kind == "NO_ARTIFACTS":
            return
        spec = self.spec.artifacts
        if kind == "CODEPIPELINE":
            outputs = self.pipeline.outputs if self.pipeline else []
            if not outputs:
                return
            target = artifact_store.ArtifactTarget(outputs[0]["bucket"], outputs[0]["key"])
        else:
            name = _expand(spec.name, self.env) if spec and spec.name else None
            target = artifact_store.project_target(project_artifacts, self.build.uuid, name)
        if spec is None:
            raise artifact_store.ArtifactError("no matching artifact paths found")
        files = artifact_store.collect(self.src_dir, spec)
        self.log.container(f"Expanding base directory path: {spec.base_directory or '.'}")
        self.log.container(f"Found {len(files)} file(s)")
        self._put(files, target)
        with self.backend.lock:
            self.build.artifacts = {
                "location": target.location,
                "encryptionDisabled": False,
                "overrideArtifactName": bool(project_artifacts.get("overrideArtifactName")),
            }

    def _upload_secondary(self, project_artifacts: dict) -> None:
        identifier = project_artifacts["artifactIdentifier"]
        spec = self.spec.secondary_artifacts.get(identifier)
        if spec is None:
            raise artifact_store.ArtifactError(
                f"no matching artifact paths found for secondary artifact {identifier}"
            )
        if project_artifacts.get("type") == "CODEPIPELINE":
            output = next(
                (
                    o
                    for o in (self.pipeline.outputs if self.pipeline else [])
                    if o["name"] == identifier
                ),
                None,
            )
            if output is None:
                return
            target = artifact_store.ArtifactTarget(output["bucket"], output["key"])
        elif project_artifacts.get("type") == "S3":
            target = artifact_store.project_target(
                project_artifacts,
                self.build.uuid,
                _expand(spec.name, self.env) if spec.name else None,
            )
        else:
            return
        self._put(artifact_store.collect(self.src_dir, spec), target)
        with self.backend.lock:
            self.build.secondary_artifacts.append(
                {
                    "location": target.location,
                    "artifactIdentifier": identifier,
                    "encryptionDisabled": False,
                }
            )

    def _put(self, files, target) -> None:
        try:
            artifact_store.upload(self.identity, files, target)
        except ActionError as exc:
            raise artifact_store.ArtifactError(f"{exc.code}: {exc.message}") from None
        self.log.container(f"Uploaded {len(files)} file(s) to s3://{target.bucket}/{target.key}")

    def _make_reports(self) -> None:
        for spec in self.spec.reports:
            base = self.src_dir / spec.base_directory if spec.base_directory else self.src_dir
            files = [base / rel for rel in matching_files(base, spec.files)]
            group_name = (
                spec.name
                if spec.name.startswith("arn:")
                else f"{self.build.project_name}-{spec.name}"
            )
            self.log.container(f"Preparing to copy {spec.name} report files")
            if not files:
                self.log.container(
                    f"Report files not found for report group {group_name}: no matching paths "
                    f"{', '.join(spec.files)} under {spec.base_directory or '.'}"
                )
                continue
            group = aws_actions.report_group(
                self.identity, self.backend, group_name, self.project.get("tags")
            )
            report = aws_actions.put_report(self.identity, self.backend, group, self.build)
            with self.backend.lock:
                self.build.report_arns.append(report.arn)
            parsed = reports.parse_files(files, spec.file_format)
            for case in parsed.test_cases:
                case["reportArn"] = report.arn
            with self.backend.lock:
                report.test_cases = parsed.test_cases
                report.duration_ns = parsed.duration_ns
                report.status = (
                    "INCOMPLETE" if parsed.problems and not parsed.test_cases else parsed.status
                )
            for problem in parsed.problems:
                self.log.container(f"Unable to parse report file {problem}")


def _expand(text: str, env: dict[str, str]) -> str:
    """$VAR and ${VAR} in an artifact name, from the build's variables."""
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), text)
