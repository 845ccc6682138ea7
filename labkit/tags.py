"""The lab's tags in the shape each AWS service wants them."""

from __future__ import annotations

from collections.abc import Mapping

LAB_TAG = "labkit:lab"
CREATED_BY_TAG = "labkit:created-by"
LEARNER_TAG = "labkit:learner"


class LabTags(Mapping):
    """A read-only mapping of tag key to value, with converters for the services' shapes."""

    def __init__(self, prefix: str, learner_id: str | None = None):
        self._tags = {LAB_TAG: prefix, CREATED_BY_TAG: "labkit"}
        if learner_id:
            self._tags[LEARNER_TAG] = learner_id

    def __getitem__(self, key: str) -> str:
        return self._tags[key]

    def __iter__(self):
        return iter(self._tags)

    def __len__(self) -> int:
        return len(self._tags)

    def as_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        """`[{"Key": k, "Value": v}]` (EC2, S3, IAM, CloudFormation...); `key="key"` for CodeBuild."""
        return [{key: k, value: v} for k, v in self._tags.items()]

    def as_dict(self) -> dict[str, str]:
        """`{k: v}` (CodeCommit, Secrets-less maps, Lambda...)."""
        return dict(self._tags)

    def __repr__(self) -> str:
        return f"LabTags({self._tags!r})"
