"""The benchmarks cannot rot: every module imports, and the cheapest runs in its quick mode.
(Figures are printed by `make bench`; no test asserts a duration.)"""

from __future__ import annotations

import importlib

import pytest

MODULES = ["harness", "course_pipeline", "roundtrip", "cache", "course", "overhead", "scale",
           "profile", "__main__"]


@pytest.mark.parametrize("module", MODULES)
def test_benchmark_module_imports(module):
    importlib.import_module(f"benchmarks.{module}")


def test_quick_overhead_benchmark_fills_the_table(tmp_path):
    from benchmarks.__main__ import run, table

    results = run(["overhead"], quick=True)
    assert "error" not in results["overhead"], results["overhead"]
    assert results["overhead"]["emulator"]["get_pipeline_state"]["calls"] == 5
    assert set(results["overhead"]) >= {"emulator", "moto_server", "moto_routed_overhead_percent"}
    markdown = table(results)
    assert "| Overhead on moto-routed calls (p50, %) |" in markdown


@pytest.mark.slow
def test_quick_runs_of_the_other_benchmarks_fill_the_table():
    """Each end-to-end benchmark once at its smallest size (about two minutes): the pipeline,
    the floor script, the cache projects, `labkit run`, an emulator per learner and py-spy."""
    from benchmarks.__main__ import run, table

    results = run(["roundtrip", "cache", "course", "scale", "profile"], quick=True)
    failed = {name: value["error"] for name, value in results.items()
              if isinstance(value, dict) and "error" in value}
    assert not failed, failed
    assert results["roundtrip"]["round_trip"]["runs"] == 1 and results["roundtrip"]["ratio"] > 0
    assert set(results["cache"]) >= {"NO_CACHE", "LOCAL", "S3"}
    assert results["course"]["chapters"]["00-welcome"]["status"] == "passed"
    assert len(results["scale"]["learners"]["start_seconds"]) == 1
    assert set(results["profile"]["stages"]) == {"Source", "Build", "Deploy"}
    assert "| Round trip / floor |" in table(results)
