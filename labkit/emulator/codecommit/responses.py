"""CodeCommit requests: JSON in, model call, JSON out."""

from __future__ import annotations

from labkit.emulator.backends import RegionalBackends
from labkit.emulator.codecommit.models import CodeCommitBackend
from labkit.emulator.json_api import JsonService


class CodeCommitResponses(JsonService):
    service_name = "codecommit"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.backends = RegionalBackends(CodeCommitBackend)
        runtime.on_reset(self.backends.reset)

    def list_repositories(self, params, ctx):
        backend = self.backends.get(ctx.account_id, ctx.region)
        return {"repositories": backend.list_repositories()}
