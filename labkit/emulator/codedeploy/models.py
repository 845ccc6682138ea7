"""CodeDeploy state: applications, deployment groups and deployments per account and region."""

from __future__ import annotations

import threading


class CodeDeployBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.applications: dict[str, dict] = {}
        self.lock = threading.RLock()

    def list_application_names(self) -> list[str]:
        with self.lock:
            return sorted(self.applications)
