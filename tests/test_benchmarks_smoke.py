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
