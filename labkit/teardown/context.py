"""The context every finder gets: the lab's clients, account, region, ARNs and ownership rule."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from labkit.teardown.core import Ownership


@dataclass
class FindContext:
    lab: object
    ownership: Ownership
    wait_seconds: float = 300.0

    def client(self, service: str):
        return self.lab.client(service)

    @property
    def prefix(self) -> str:
        return self.ownership.prefix

    @property
    def region(self) -> str:
        return self.lab.region

    @property
    def local(self) -> bool:
        return self.lab.backend == "local"

    @cached_property
    def account_id(self) -> str:
        return self.lab.account_id

    @cached_property
    def partition(self) -> str:
        return self.lab.session.get_partition_for_region(self.region) or "aws"

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    def owns(self, kind: str, name: str, tags: dict | None = None) -> bool:
        return self.ownership.owns(kind, name, tags)
