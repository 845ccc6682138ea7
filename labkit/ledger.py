"""The lab's ledger: resources labkit made that carry no tags, recorded before they are created.

Teardown finds most of a lab by its tags and name prefix; a few things cannot be tagged
(CodeDeploy deployment configs, CodeCommit approval rule templates, launch configurations,
dashboards, budgets, SNS subscriptions ...). Helpers call `record(lab, ...)` before creating
one, so an interrupted chapter still leaves a trace teardown can follow. The ledger is a JSON
file in the state dir; on the aws backend it is also copied to the lab's S3 bucket, so a
teardown from another machine finds it.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

LEDGER_FOLDER = "ledger"
S3_KEY = "labkit/ledger.json"
_lock = threading.Lock()


def ledger_path(lab) -> Path:
    """`<state>/ledger/<backend>-<prefix>.json` (aws: also the account, whose names differ)."""
    if lab.backend == "aws":
        name = f"aws-{lab.account_id}-{lab.region}-{lab.prefix}.json"
    else:
        name = f"local-{lab.region}-{lab.prefix}.json"
    return Path(lab.state_dir) / LEDGER_FOLDER / name


def lab_bucket(lab) -> str:
    """The lab's artifact bucket, which also holds the ledger's copy on aws."""
    from labkit.names import course_names

    return course_names(lab).artifact_bucket


def entries(lab) -> list[dict]:
    """Every recorded resource: {"service", "kind", "name", "region", "recorded"}."""
    found = {_key(e): e for e in _read_local(lab)}
    if lab.backend == "aws":
        for entry in _read_s3(lab):
            found.setdefault(_key(entry), entry)
    return list(found.values())


def names(lab, kind: str) -> set[str]:
    """The recorded names of one kind of resource (e.g. "codedeploy deployment config")."""
    return {e["name"] for e in entries(lab) if e.get("kind") == kind}


def record(lab, service: str, kind: str, name: str, **extra) -> dict:
    """Note a resource the lab is about to create (call it before the create call)."""
    entry = {"service": service, "kind": kind, "name": name, "region": lab.region,
             "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}
    with _lock:
        current = {_key(e): e for e in _read_local(lab)}
        current[_key(entry)] = entry
        _write(lab, list(current.values()))
    return entry


def forget(lab, kind: str, name: str) -> None:
    """Drop a resource from the ledger once it is deleted."""
    with _lock:
        kept = [e for e in _read_local(lab) if _key(e) != (kind, name)]
        _write(lab, kept)


def clear(lab) -> None:
    """Forget the whole ledger (after a teardown proved nothing is left)."""
    with _lock:
        ledger_path(lab).unlink(missing_ok=True)


def _key(entry: dict) -> tuple[str, str]:
    return entry.get("kind", ""), entry.get("name", "")


def _read_local(lab) -> list[dict]:
    try:
        data = json.loads(ledger_path(lab).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in data.get("resources", []) if isinstance(e, dict)]


def _write(lab, resources: list[dict]) -> None:
    from labkit.statedir import write_json

    path = ledger_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"prefix": lab.prefix, "backend": lab.backend, "resources": resources}
    write_json(path, document)
    if lab.backend == "aws":
        _write_s3(lab, document)


def _write_s3(lab, document: dict) -> None:
    # Best effort: the bucket may not exist yet (the local file is the record of truth).
    from botocore.exceptions import ClientError

    try:
        lab.client("s3").put_object(Bucket=lab_bucket(lab), Key=S3_KEY,
                                    Body=json.dumps(document, indent=2).encode(),
                                    ContentType="application/json")
    except ClientError:
        pass


def _read_s3(lab) -> list[dict]:
    from botocore.exceptions import ClientError

    try:
        body = lab.client("s3").get_object(Bucket=lab_bucket(lab), Key=S3_KEY)["Body"].read()
        return [e for e in json.loads(body).get("resources", []) if isinstance(e, dict)]
    except (ClientError, ValueError):
        return []
