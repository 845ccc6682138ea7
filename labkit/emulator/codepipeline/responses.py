"""CodePipeline requests: JSON in, model call, JSON out."""

from __future__ import annotations

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codepipeline.exceptions import ValidationException
from labkit.emulator.codepipeline.models import CodePipelineBackend
from labkit.emulator.json_api import JsonService


class CodePipelineResponses(JsonService):
    service_name = "codepipeline"
    validation_error = ValidationException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodePipelineBackend)
        runtime.on_reset(self.backends.reset)

    def list_pipelines(self, params, ctx):
        backend = self.backends.get(ctx.account_id, ctx.region)
        return {"pipelines": backend.list_pipelines()}
