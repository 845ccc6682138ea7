"""CodeDeploy requests: JSON in, model call, JSON out."""

from __future__ import annotations

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codedeploy.exceptions import InvalidInputException
from labkit.emulator.codedeploy.models import CodeDeployBackend
from labkit.emulator.json_api import JsonService


class CodeDeployResponses(JsonService):
    service_name = "codedeploy"
    validation_error = InvalidInputException

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodeDeployBackend)
        runtime.on_reset(self.backends.reset)

    def list_applications(self, params, ctx):
        backend = self.backends.get(ctx.account_id, ctx.region)
        return {"applications": backend.list_application_names()}
