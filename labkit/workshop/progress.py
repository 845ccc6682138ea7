"""Where learners' progress records go: a pluggable store, one append-only stream per learner.

A record is one JSON object per line, as course part 1 defines it: an attempt
(`learner, chapter, exercise, passed, attempts, time`) or a chapter's end
(`learner, chapter, event="chapter-finished", time`).

Stores:
- `LocalStore(state_dir)`: `<state_dir>/progress/<learner>.jsonl` (the default, always written);
- `PathStore(folder)`: `<folder>/<learner>.jsonl`, e.g. a shared JupyterHub volume;
- `S3Store(bucket, key_prefix)`: one object per learner, `<key_prefix>/<learner>.jsonl`, so no two
  learners ever write the same object.

`store_for(lab)` picks them: the local store, plus the one named by `LABKIT_PROGRESS_STORE`
or by `progress_store` in the `[workshop]` table of labkit.toml (`s3://bucket/prefix` or a path).
When a store holds a roster (`roster.csv` beside or above the records), a record from a learner
who is not on it is refused with UnknownLearner.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading
from pathlib import Path

try:  # POSIX: several processes may append for the same learner
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

STORE_ENV = "LABKIT_PROGRESS_STORE"
LEARNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ATTEMPT_KEYS = {"learner", "chapter", "exercise", "passed", "attempts", "time"}
FINISHED_KEYS = {"learner", "chapter", "event", "time"}


class UnknownLearner(ValueError):
    """A record names a learner the workshop's roster does not list."""


class InvalidRecord(ValueError):
    """A record that is neither an attempt nor a chapter's end."""


def validate_record(record: dict, roster: set[str] | None = None) -> dict:
    """The record itself, or InvalidRecord / UnknownLearner saying what is wrong with it."""
    if not isinstance(record, dict):
        raise InvalidRecord(f"A progress record is a JSON object, not {type(record).__name__}.")
    learner = record.get("learner")
    if not isinstance(learner, str) or not LEARNER_ID.match(learner):
        raise InvalidRecord(f"Progress record {record!r} has no valid 'learner' "
                            "(letters, digits, '-', '_' or '.').")
    if record.get("event") == "chapter-finished":
        missing = FINISHED_KEYS - set(record)
    else:
        missing = ATTEMPT_KEYS - set(record)
    if missing:
        raise InvalidRecord(f"Progress record of {learner} lacks {', '.join(sorted(missing))}.")
    if roster is not None and learner not in roster:
        raise UnknownLearner(
            f"Progress record from unknown learner {learner!r}: the workshop's roster lists "
            f"{_some(roster)}. Point the learner at their own learners/<id>.toml "
            "(LABKIT_CONFIG) or add them with `labkit workshop init`.")
    return record


def _some(ids: set[str], limit: int = 4) -> str:
    ordered = sorted(ids)
    if not ordered:
        return "no learners"
    more = f" ... ({len(ordered)} in all)" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def parse_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def roster_ids(text: str) -> set[str]:
    return {row["learner_id"] for row in csv.DictReader(io.StringIO(text)) if row.get("learner_id")}


class ProgressStore:
    """One append-only stream of records per learner."""

    def append(self, record: dict) -> None:
        raise NotImplementedError

    def read(self, learner: str) -> list[dict]:
        raise NotImplementedError

    def learners(self) -> list[str]:
        raise NotImplementedError

    def roster(self) -> set[str] | None:
        """The learner ids the store accepts, or None when it accepts anyone."""
        return None

    def read_all(self) -> list[dict]:
        return [r for learner in self.learners() for r in self.read(learner)]

    def describe(self) -> str:
        return type(self).__name__


class PathStore(ProgressStore):
    """`<folder>/<learner>.jsonl`; a `roster.csv` in the folder or its parent limits who may write."""

    def __init__(self, folder: str | Path, roster: set[str] | None = None):
        self.folder = Path(folder).expanduser()
        self._roster = roster

    def path(self, learner: str) -> Path:
        if not LEARNER_ID.match(learner or ""):
            raise InvalidRecord(f"{learner!r} is not a valid learner id.")
        return self.folder / f"{learner}.jsonl"

    def roster(self) -> set[str] | None:
        if self._roster is not None:
            return self._roster
        for candidate in (self.folder / "roster.csv", self.folder.parent / "roster.csv"):
            if candidate.is_file():
                return roster_ids(candidate.read_text(encoding="utf-8"))
        return None

    def append(self, record: dict) -> None:
        validate_record(record, self.roster())
        self._write(self.path(record["learner"]), record)

    @staticmethod
    def _write(path: Path, record: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record) + "\n").encode("utf-8")
        # One write() on an O_APPEND descriptor, under an advisory lock: whole lines, never mixed.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock

    def read(self, learner: str) -> list[dict]:
        path = self.path(learner)
        return parse_lines(path.read_text(encoding="utf-8")) if path.is_file() else []

    def learners(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.jsonl"))

    def describe(self) -> str:
        return str(self.folder)


class LocalStore(PathStore):
    """The default: `<state_dir>/progress/<learner>.jsonl` on the learner's machine."""

    def __init__(self, state_dir: str | Path):
        super().__init__(Path(state_dir) / "progress", roster=None)

    def roster(self) -> set[str] | None:
        return None  # the learner's own record of their own work

    def path(self, learner: str) -> Path:
        return self.folder / f"{learner}.jsonl"  # as part 1 wrote it, whatever the id

    def append(self, record: dict) -> None:
        self._write(self.path(record["learner"]), record)


class S3Store(ProgressStore):
    """One object per learner, `s3://<bucket>/<key_prefix>/<learner>.jsonl`; `roster.csv` beside them.

    Only the learner writes their object (read, add a line, put), so learners never conflict;
    a lock serialises appends within one process.
    """

    _locks: dict[str, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, bucket: str, key_prefix: str = "progress", client=None, lab=None):
        self.bucket = bucket
        self.key_prefix = key_prefix.strip("/")
        self._client = client
        self._lab = lab
        self._roster: set[str] | None = None
        self._roster_read = False

    @property
    def client(self):
        if self._client is None:
            if self._lab is not None:
                self._client = self._lab.client("s3")
            else:
                import boto3

                self._client = boto3.client("s3")
        return self._client

    def key(self, learner: str) -> str:
        if not LEARNER_ID.match(learner or ""):
            raise InvalidRecord(f"{learner!r} is not a valid learner id.")
        return f"{self.key_prefix}/{learner}.jsonl" if self.key_prefix else f"{learner}.jsonl"

    def _get(self, key: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return body.decode("utf-8")

    def roster(self) -> set[str] | None:
        if not self._roster_read:
            key = f"{self.key_prefix}/roster.csv" if self.key_prefix else "roster.csv"
            text = self._get(key)
            self._roster = roster_ids(text) if text is not None else None
            self._roster_read = True
        return self._roster

    def put_roster(self, text: str) -> None:
        key = f"{self.key_prefix}/roster.csv" if self.key_prefix else "roster.csv"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                               ContentType="text/csv")
        self._roster_read = False

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(f"{self.bucket}/{key}", threading.Lock())

    def append(self, record: dict) -> None:
        validate_record(record, self.roster())
        key = self.key(record["learner"])
        with self._lock(key):
            text = self._get(key) or ""
            self.client.put_object(Bucket=self.bucket, Key=key,
                                   Body=(text + json.dumps(record) + "\n").encode("utf-8"),
                                   ContentType="application/x-ndjson")

    def read(self, learner: str) -> list[dict]:
        text = self._get(self.key(learner))
        return parse_lines(text) if text else []

    def learners(self) -> list[str]:
        found = []
        prefix = f"{self.key_prefix}/" if self.key_prefix else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if name.endswith(".jsonl") and "/" not in name:
                    found.append(name[: -len(".jsonl")])
        return sorted(found)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"


class TeeStore(ProgressStore):
    """Reads from and writes to the first store; also writes every record to the others."""

    def __init__(self, primary: ProgressStore, *others: ProgressStore):
        self.primary = primary
        self.others = others

    def append(self, record: dict) -> None:
        for other in self.others:  # the workshop's copy first: an unknown learner is refused
            other.append(record)
        self.primary.append(record)

    def read(self, learner: str) -> list[dict]:
        return self.primary.read(learner)

    def learners(self) -> list[str]:
        return self.primary.learners()

    def describe(self) -> str:
        return " + ".join(s.describe() for s in (self.primary, *self.others))


def open_store(spec: str | Path, lab=None, client=None) -> ProgressStore:
    """`s3://bucket/prefix` → S3Store; anything else is a folder → PathStore."""
    text = str(spec).strip()
    if text.startswith("s3://"):
        bucket, _, key_prefix = text[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError(f"Progress store {text!r} names no bucket: use s3://BUCKET/PREFIX.")
        return S3Store(bucket, key_prefix or "progress", client=client, lab=lab)
    if not text:
        raise ValueError("An empty progress store: use s3://BUCKET/PREFIX or a folder path.")
    return PathStore(Path(text))


def configured_spec() -> str | None:
    """`LABKIT_PROGRESS_STORE`, else `[workshop] progress_store` in labkit.toml (or LABKIT_CONFIG)."""
    if os.environ.get(STORE_ENV):
        return os.environ[STORE_ENV]
    from labkit.config import config_file_path

    try:
        path = config_file_path()
    except Exception:
        return None
    if path is None:
        return None
    from labkit.config import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    workshop = data.get("workshop") or {}
    return workshop.get("progress_store") or None


def store_for(lab) -> ProgressStore:
    """The lab's local store, teed into the workshop's store when one is configured."""
    local = LocalStore(lab.state_dir)
    spec = configured_spec()
    if not spec:
        return local
    return TeeStore(local, open_store(spec, lab=lab))


def record_progress(lab, record: dict) -> None:
    """Append `record` on the learner's machine, then to the workshop's store if one is configured.

    A notebook cell must not fail because the workshop's store is unreachable or refuses the
    record: the record stays on the machine and a line says why it did not reach the workshop.
    """
    LocalStore(lab.state_dir).append(record)
    spec = configured_spec()
    if not spec:
        return
    try:
        store = open_store(spec, lab=lab)
        store.append(record)
    except Exception as exc:  # UnknownLearner, a network or permission error, a bad path ...
        print(f"(Saved on this machine only, not in the workshop's progress store {spec}: {exc})")
