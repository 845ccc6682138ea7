"""CodeCommit state: repositories per account and region."""

from __future__ import annotations

import threading


class CodeCommitBackend:
    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region
        self.repositories: dict[str, dict] = {}
        self.lock = threading.RLock()

    def list_repositories(self) -> list[dict]:
        with self.lock:
            return [
                {"repositoryName": r["repositoryName"], "repositoryId": r["repositoryId"]}
                for r in self.repositories.values()
            ]
