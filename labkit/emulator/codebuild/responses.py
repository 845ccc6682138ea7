"""CodeBuild requests: JSON in, model call, JSON out."""

from __future__ import annotations

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codebuild.exceptions import InvalidInputException
from labkit.emulator.codebuild.models import CodeBuildBackend
from labkit.emulator.json_api import JsonService


class CodeBuildResponses(JsonService):
    service_name = "codebuild"
    validation_error = InvalidInputException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodeBuildBackend)
        runtime.on_reset(self.backends.reset)

    def list_projects(self, params, ctx):
        backend = self.backends.get(ctx.account_id, ctx.region)
        return {"projects": backend.list_project_names()}
