"""Figure 2: the sample app's INSTALL phase and whole build with an empty and a warm cache
(NO_CACHE, LOCAL and S3), and the saving in percent."""

from __future__ import annotations

import statistics

from benchmarks.harness import lab_on, own_emulator
from labkit import ensure
from labkit.names import course_names
from labkit.services import codebuild, iam

CACHES = {
    "NO_CACHE": lambda bucket: {"type": "NO_CACHE"},
    "LOCAL": lambda bucket: {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
    "S3": lambda bucket: {"type": "S3", "location": f"{bucket}/build-cache"},
}
ARTICLE_CLAIM = "60-80%"


def seconds_of(build: dict) -> dict:
    install = next(p for p in build["phases"] if p["phaseType"] == "INSTALL")
    return {"install": (install["endTime"] - install["startTime"]).total_seconds(),
            "build": (build["endTime"] - build["startTime"]).total_seconds()}


def run_build(lab, project: str) -> dict:
    build_id = lab.client("codebuild").start_build(projectName=project)["build"]["id"]
    build = codebuild.wait_for_build(lab, build_id, timeout=600)
    if build["buildStatus"] != "SUCCEEDED":
        raise RuntimeError(f"build {build_id} ended {build['buildStatus']}: "
                           f"{codebuild.failure_reason(build)}")
    return seconds_of(build)


def measure(warm_runs: int = 2) -> dict:
    """Per cache type: the first build (empty cache), then `warm_runs` builds (medians)."""
    results = {}
    with own_emulator() as info, lab_on(info) as lab:
        names = course_names(lab)
        for step in ensure.BUILD_STEPS:
            step(lab, names)
        projects = {kind: f"{names.build_project}-{kind.lower()}" for kind in CACHES}
        # The course's least-privilege build policy, widened to these projects' logs and reports.
        role = iam.ensure_service_role(lab, names.codebuild_role, "codebuild.amazonaws.com",
                                       iam.codebuild_policy(names, list(projects.values())),
                                       "bench builds")
        for kind, cache in CACHES.items():
            definition = codebuild.project_definition(lab, names, role)
            definition.update(name=projects[kind], cache=cache(names.artifact_bucket))
            codebuild.ensure_project(lab, definition)
            empty = run_build(lab, definition["name"])
            warm = [run_build(lab, definition["name"]) for _ in range(warm_runs)]
            results[kind] = {
                "empty": {k: round(v, 2) for k, v in empty.items()},
                "warm": {k: round(statistics.median(w[k] for w in warm), 2) for k in empty}}
    baseline = results["NO_CACHE"]["warm"]
    for kind in ("LOCAL", "S3"):
        results[kind]["saving_percent"] = {
            k: round(100 * (1 - results[kind]["warm"][k] / baseline[k]), 1) for k in baseline}
    results["article_claim"] = ARTICLE_CLAIM
    results["warm_runs"] = warm_runs
    return results
