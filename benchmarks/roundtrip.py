"""Figure 1: `git push` of a one-line change → pipeline Succeeded, app healthy on 2 hosts; beside
the floor (the same work run directly in a shell) measured in the same run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.course_pipeline import healthy, make_pipeline, push_round_trip
from benchmarks.harness import free_port, lab_on, own_emulator, spread, timed, wait_until
from labkit.procs import end_process_tree
from labkit.services.sample_app import copy_sample_app

FLOOR_SCRIPT = Path(__file__).resolve().parent / "floor.sh"


def floor_once(folder: Path, cache: Path) -> float:
    """Seconds for floor.sh plus starting node on two ports until both answer /health."""
    work, hosts = folder / "work", [folder / "host-1", folder / "host-2"]
    if not work.exists():
        copy_sample_app(work)
    servers: list[subprocess.Popen] = []

    def run() -> None:
        subprocess.run(["bash", str(FLOOR_SCRIPT), str(work), str(cache), *map(str, hosts)],
                       check=True, capture_output=True, timeout=600)
        ports = [free_port() for _ in hosts]
        for host, port in zip(hosts, ports, strict=True):
            servers.append(subprocess.Popen(
                ["node", "server.js"], cwd=host, env={**os.environ, "PORT": str(port),
                                                      "NODE_ENV": "production"},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_until(lambda: all(healthy(f"http://127.0.0.1:{p}") for p in ports), 30,
                   "node on both ports", interval=0.02)

    try:
        seconds, _ = timed(run)
    finally:
        for server in servers:
            end_process_tree(server.pid)
            server.wait(timeout=10)
    return seconds


def measure(runs: int = 5) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="labkit-floor-"))
    try:
        cache = folder / "npm-cache"
        floor_once(folder, cache)  # fills the npm cache, as the pipeline's first build does
        floors = [floor_once(folder, cache) for _ in range(runs)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    with own_emulator() as info, lab_on(info) as lab:
        pipeline = make_pipeline(lab)
        trips = [push_round_trip(lab, pipeline, f"Round trip {n}.") for n in range(runs)]
    failed = [t["status"] for t in trips if t["status"] != "Succeeded"]
    if failed:
        raise RuntimeError(f"round trips ended {failed}")
    round_trip, floor = spread([t["seconds"] for t in trips]), spread(floors)
    return {"round_trip": round_trip, "floor": floor,
            "ratio": round(round_trip["median"] / floor["median"], 2),
            "stages_of_median_run": sorted(trips, key=lambda t: t["seconds"])[len(trips) // 2][
                "stages"]}
