"""Pull requests: creation, updates from pushes, merges (fast-forward, squash, three-way), comments."""

from __future__ import annotations


class PullRequestBook:
    def __init__(self, backend):
        self.backend = backend

    def references_moved(self, repo, changes, caller: str) -> None:
        pass
