"""CodePipeline state: pipelines and executions per account and region."""

from __future__ import annotations

import threading


class CodePipelineBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.pipelines: dict[str, dict] = {}
        self.lock = threading.RLock()

    def list_pipelines(self) -> list[dict]:
        with self.lock:
            return [p["summary"] for p in self.pipelines.values()]
