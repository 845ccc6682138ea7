"""CodeBuild state: projects and builds per account and region."""

from __future__ import annotations

import threading


class CodeBuildBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.projects: dict[str, dict] = {}
        self.lock = threading.RLock()

    def list_project_names(self) -> list[str]:
        with self.lock:
            return sorted(self.projects)
