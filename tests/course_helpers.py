"""Fixtures' helpers for the course tests: a lab with a prefix of its own on the session emulator."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager


@contextmanager
def lab_on(emulator, prefix: str | None = None):
    """`labkit.connect()` to the session emulator with a fresh prefix; os.environ restored after."""
    import labkit

    saved = dict(os.environ)
    os.environ["LABKIT_STATE_DIR"] = str(emulator.state_dir)
    try:
        yield labkit.connect(backend="local", port=emulator.port, state_dir=emulator.state_dir,
                             prefix=prefix or f"t{uuid.uuid4().hex[:8]}")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def terminate_lab_instances(lab) -> None:
    ec2 = lab.client("ec2")
    found = ec2.describe_instances(Filters=[{"Name": "tag:labkit:lab", "Values": [lab.prefix]}])
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
