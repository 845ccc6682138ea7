"""`python -m benchmarks`: run the benchmarks, print the table, write results/<date>.json and .md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import cache, course, overhead, profile, roundtrip, scale

RESULTS = Path(__file__).resolve().parent / "results"

# Each benchmark at full size and in a quick mode (the smoke test's, seconds instead of minutes).
BENCHMARKS: dict[str, tuple[Callable[[], dict], Callable[[], dict]]] = {
    "overhead": (overhead.measure, lambda: overhead.measure(calls=5, calls_per_client=2)),
    "roundtrip": (roundtrip.measure, lambda: roundtrip.measure(runs=1)),
    "cache": (cache.measure, lambda: cache.measure(warm_runs=1)),
    "course": (course.measure, lambda: course.measure(chapters="00")),
    "scale": (lambda: {"pipelines": scale.pipelines_at_once(10),
                       "learners": scale.emulator_per_learner(3)},
              lambda: {"learners": scale.emulator_per_learner(1)}),
    "profile": (profile.measure, profile.measure),
}


def run(names: list[str], quick: bool = False) -> dict:
    """Run the named benchmarks in order; a failing one is recorded, the others still run."""
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "system": platform.platform()},
                     "quick": quick, "seconds": {}}
    for name in names:
        started = time.monotonic()
        try:
            results[name] = BENCHMARKS[name][1 if quick else 0]()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results["seconds"][name] = round(time.monotonic() - started, 1)
        print(f"{name}: {results['seconds'][name]} s", file=sys.stderr, flush=True)
    return results


def _get(results: dict, *path, default="—"):
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return default
        results = results[key]
    return results


def table(results: dict) -> str:
    """The headline figures beside their targets, as a markdown table."""
    g = lambda *path: _get(results, *path)  # noqa: E731
    rt, fl = g("roundtrip", "round_trip"), g("roundtrip", "floor")
    chapters = _get(results, "course", "chapters", default={})
    rows = [
        ("Round trip, push → healthy on 2 hosts (median [min–max] s)",
         f"{_get(rt, 'median')} [{_get(rt, 'min')}–{_get(rt, 'max')}] over {_get(rt, 'runs')} runs",
         "< 15 s"),
        ("Floor, same work in a shell (median [min–max] s)",
         f"{_get(fl, 'median')} [{_get(fl, 'min')}–{_get(fl, 'max')}]", ""),
        ("Round trip / floor", g("roundtrip", "ratio"), "≤ 1.5×"),
        ("Build cache saving, LOCAL (install / whole build %)",
         f"{g('cache', 'LOCAL', 'saving_percent', 'install')} / "
         f"{g('cache', 'LOCAL', 'saving_percent', 'build')}", "≥ 60% (article: 60–80%)"),
        ("Build cache saving, S3 (install / whole build %)",
         f"{g('cache', 'S3', 'saving_percent', 'install')} / "
         f"{g('cache', 'S3', 'saving_percent', 'build')}", "≥ 60% (article: 60–80%)"),
        *[(f"Chapter {name} (s, {row['status']})", row["seconds"], "")
          for name, row in chapters.items()],
        ("Course: chapters / whole `labkit run` with teardown (s)",
         f"{g('course', 'chapters_seconds')} / {g('course', 'series_seconds')}", "< 300 s"),
        ("S3 ListObjectsV2 p50 / p99, emulator (ms)",
         f"{g('overhead', 'emulator', 's3_list_objects_v2', 'p50_ms')} / "
         f"{g('overhead', 'emulator', 's3_list_objects_v2', 'p99_ms')}", ""),
        ("S3 ListObjectsV2 p50 / p99, plain moto_server (ms)",
         f"{g('overhead', 'moto_server', 's3_list_objects_v2', 'p50_ms')} / "
         f"{g('overhead', 'moto_server', 's3_list_objects_v2', 'p99_ms')}", ""),
        ("Overhead on moto-routed calls (p50, %)", g("overhead", "moto_routed_overhead_percent"),
         "< 10%"),
        ("GetPipelineState p50 / p99 (ms)",
         f"{g('overhead', 'emulator', 'get_pipeline_state', 'p50_ms')} / "
         f"{g('overhead', 'emulator', 'get_pipeline_state', 'p99_ms')}", ""),
        ("BatchGetBuilds p50 / p99 (ms)",
         f"{g('overhead', 'emulator', 'batch_get_builds', 'p50_ms')} / "
         f"{g('overhead', 'emulator', 'batch_get_builds', 'p99_ms')}", ""),
        ("Requests/s, 8 clients: S3 via emulator / moto_server / GetPipelineState",
         f"{g('overhead', 'emulator', 's3_rps_8_clients')} / "
         f"{g('overhead', 'moto_server', 's3_rps_8_clients')} / "
         f"{g('overhead', 'emulator', 'get_pipeline_state_rps_8_clients')}", ""),
        ("Emulator memory idle / after the course (MB)",
         f"{g('course', 'emulator_memory_mb', 'idle')} / "
         f"{g('course', 'emulator_memory_mb', 'after_course')}", ""),
        ("10 pipelines pushed at once: succeeded, total s, s per pipeline",
         f"{g('scale', 'pipelines', 'succeeded')}, {g('scale', 'pipelines', 'total_seconds')}, "
         f"{g('scale', 'pipelines', 'seconds_per_pipeline')}", "all succeed"),
        ("One emulator per learner: start s, idle MB, 30 learners MB",
         f"{g('scale', 'learners', 'start_seconds')}, {g('scale', 'learners', 'idle_memory_mb')}, "
         f"{g('scale', 'learners', 'projected_30_learners_mb')}", ""),
        ("Profiled push: Build / Deploy stage (s)",
         f"{g('profile', 'stages', 'Build')} / {g('profile', 'stages', 'Deploy')}", ""),
    ]
    errors = [f"- {name}: {value['error']}" for name, value in results.items()
              if isinstance(value, dict) and "error" in value]
    lines = ["| Figure | Measured | Target |", "|---|---|---|",
             *[f"| {figure} | {measured} | {target} |" for figure, measured, target in rows]]
    return "\n".join(lines + ([""] + ["Failed benchmarks:"] + errors if errors else [])) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run, of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="reduced sizes; figures not comparable")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results = run(args.names or list(BENCHMARKS), quick=args.quick)
    markdown = table(results)
    print(markdown)
    args.output.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y-%m-%d", time.gmtime()) + ("-quick" if args.quick else "")
    (args.output / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.output / f"{stem}.md").write_text(markdown)
    print(f"written: {args.output / stem}.json and .md", file=sys.stderr)
    return 1 if any(isinstance(v, dict) and "error" in v for v in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
