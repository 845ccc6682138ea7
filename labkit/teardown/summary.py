"""Teardown in numbers: how many resources of each type a lab has, finder by finder, so a
notebook can show what a dry run would delete and prove that nothing is left afterwards."""

from __future__ import annotations

import pandas as pd

from labkit import ledger
from labkit.teardown import FINDERS
from labkit.teardown.context import FindContext
from labkit.teardown.core import LOOKUP_ERRORS, Ownership


def _type_name(finder) -> str:
    return finder.__name__.removeprefix("find_").replace("_", " ")


def resource_types() -> list[str]:
    """Every type teardown looks for, in the order it deletes them."""
    return [_type_name(f) for f in FINDERS]


def count_by_type(lab, wait_seconds: float = 60.0) -> pd.DataFrame:
    """One row per type teardown looks for: how many of the lab's resources it finds now, and
    which (kind name). A type the backend cannot list says so instead of a number."""
    recorded = {(e.get("kind", ""), e.get("name", "")) for e in ledger.entries(lab)}
    ctx = FindContext(lab, Ownership(lab.prefix, recorded), wait_seconds=wait_seconds)
    rows = []
    for finder in FINDERS:
        try:
            found = finder(ctx)
        except (*LOOKUP_ERRORS, OSError, TimeoutError, NotImplementedError) as exc:
            rows.append({"type": _type_name(finder), "found": None,
                         "names": f"not listed: {type(exc).__name__}"})
            continue
        rows.append({"type": _type_name(finder), "found": len(found),
                     "names": ", ".join(sorted(r.name for r in found))})
    frame = pd.DataFrame(rows, columns=["type", "found", "names"])
    frame["found"] = frame["found"].astype("Int64")
    return frame


def local_leftovers(lab) -> dict[str, int]:
    """Local backend: the lab's hosts still known to the emulator, the processes running on them,
    and the local proxies still serving its load balancers (all 0 after a teardown)."""
    import json
    import urllib.request

    from labkit.services.hosts import hosts

    mine = [h for h in hosts(lab) if (h.get("tags") or {}).get("labkit:lab") == lab.prefix]
    with urllib.request.urlopen(f"{lab.endpoint_url}/_labkit/load-balancers", timeout=10) as answer:
        balancers = json.load(answer).get("loadBalancers", [])
    # arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>
    proxies = [b for b in balancers
               if b["loadBalancerArn"].split("/")[-2].startswith(f"{lab.prefix}-")]
    return {"hosts": len(mine), "processes on them": sum(h.get("processes", 0) for h in mine),
            "load balancer proxies": len(proxies)}
