"""Figure 5: 10 sample-app pipelines (each its own repository and hosts) pushed at once on one
emulator; and, since learners cannot share a process, one emulator per learner: start and memory."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import labkit
from benchmarks.course_pipeline import make_pipeline, push_round_trip, wait_for_first_execution
from benchmarks.harness import lab_on, own_emulator, resident_mb, timed


def pipelines_at_once(count: int = 10) -> dict:
    with own_emulator() as info, lab_on(info):
        labs = [labkit.connect(backend="local", port=info.port, state_dir=info.state_dir,
                               prefix=f"scale{n}") for n in range(count)]
        # Set up one after another; their first executions (cold caches) overlap, untimed.
        pipelines = [make_pipeline(lab, wait=False) for lab in labs]
        for lab, pipeline in zip(labs, pipelines, strict=True):
            wait_for_first_execution(lab, pipeline)
        busy_mb = resident_mb(info.pid)

        def push_all():
            with ThreadPoolExecutor(count) as pool:
                return list(pool.map(lambda pair: push_round_trip(*pair, "Scale push."),
                                     zip(labs, pipelines, strict=True)))

        seconds, trips = timed(push_all)
    return {"pipelines": count, "succeeded": sum(t["status"] == "Succeeded" for t in trips),
            "total_seconds": round(seconds, 1),
            "seconds_per_pipeline": round(seconds / count, 2),
            "slowest_pipeline_seconds": round(max(t["seconds"] for t in trips), 1),
            "emulator_memory_mb_with_all": busy_mb}


def emulator_per_learner(learners: int = 3) -> dict:
    """Start `learners` emulators one after another (all kept running): start time, memory."""
    starts, memory = [], []
    stack = []
    try:
        for _ in range(learners):
            emulator = own_emulator()
            seconds, info = timed(emulator.__enter__)
            stack.append(emulator)
            starts.append(round(seconds, 2))
            memory.append(resident_mb(info.pid))
    finally:
        for emulator in reversed(stack):
            emulator.__exit__(None, None, None)
    mean_mb = sum(memory) / len(memory)
    return {"learners_measured": learners, "start_seconds": starts, "idle_memory_mb": memory,
            "projected_30_learners_mb": round(30 * mean_mb)}
