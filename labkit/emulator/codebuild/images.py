"""The runtime versions each curated CodeBuild image offers, and how the host stands in for them."""

from __future__ import annotations

import shutil
import subprocess

# From the images' runtimes.yml (aws-codebuild-docker-images); see ../shared AWS_FACTS.md.
# A value of None means "any other version is installed on demand" (standard:8.0).
_RUNTIMES: dict[str, dict[str, list[str]]] = {
    "aws/codebuild/standard:5.0": {
        "nodejs": ["12", "14"],
        "python": ["3.7", "3.8", "3.9"],
        "java": ["corretto8", "corretto11"],
        "golang": ["1.15", "1.16", "1.17", "1.18"],
        "php": ["7.3", "7.4", "8.0"],
        "ruby": ["2.6", "2.7"],
        "dotnet": ["3.1", "5.0"],
    },
    "aws/codebuild/standard:6.0": {
        "nodejs": ["16"],
        "python": ["3.10"],
        "java": ["corretto17"],
        "golang": ["1.18"],
        "php": ["8.1", "8.2"],
        "ruby": ["3.1"],
        "dotnet": ["6.0"],
    },
    "aws/codebuild/standard:7.0": {
        "nodejs": ["18", "20"],
        "python": ["3.11", "3.12"],
        "java": ["corretto17", "corretto21"],
        "golang": ["1.20", "1.21"],
        "php": ["8.2"],
        "ruby": ["3.2"],
        "dotnet": ["6.0", "8.0"],
    },
    "aws/codebuild/standard:8.0": {
        "nodejs": ["22", "24"],
        "python": ["3.10", "3.11", "3.12", "3.13", "3.14"],
        "java": [f"corretto{v}" for v in (8, 11, 17, 21, 25)],
        "golang": ["1.24", "1.25", "1.26"],
        "rust": ["1.93"],
        "ruby": ["3.3", "3.4", "4.0"],
    },
    "aws/codebuild/amazonlinux2-x86_64-standard:5.0": {
        "nodejs": ["18"],
        "python": ["3.11"],
        "java": ["corretto17"],
        "golang": ["1.20"],
        "php": ["8.2"],
        "ruby": ["3.2"],
        "dotnet": ["6.0"],
    },
}
# Images that install languages' other versions when a buildspec asks for them.
_ON_DEMAND = {"aws/codebuild/standard:8.0": {"nodejs", "python"}}

# How to ask the host which version of a runtime it has.
_HOST_PROBES = {
    "nodejs": (["node", "--version"], lambda out: out.strip().lstrip("v")),
    "python": (["python3", "--version"], lambda out: out.split()[-1]),
    "golang": (["go", "version"], lambda out: out.split()[2].removeprefix("go")),
    "ruby": (["ruby", "--version"], lambda out: out.split()[1]),
    "java": (["java", "-version"], lambda out: out.split('"')[1] if '"' in out else out),
    "php": (["php", "--version"], lambda out: out.split()[1]),
    "dotnet": (["dotnet", "--version"], lambda out: out.strip()),
    "rust": (["rustc", "--version"], lambda out: out.split()[1]),
}


def known_image(image: str) -> bool:
    return _normalise(image) in _RUNTIMES


def offered_versions(image: str, runtime: str) -> list[str] | None:
    """The versions `image` offers for `runtime`; None when the image is not a curated one."""
    table = _RUNTIMES.get(_normalise(image))
    if table is None:
        return None
    return list(table.get(runtime, []))


def check_runtime(image: str, runtime: str, version: str) -> str | None:
    """None if the image can give `runtime` `version`; otherwise CodeBuild's YAML_FILE_ERROR message."""
    offered = offered_versions(image, runtime)
    if offered is None:
        return None  # a custom image: CodeBuild ignores runtime-versions' table there
    if runtime not in _RUNTIMES[_normalise(image)]:
        return (
            f"Unknown runtime named '{runtime}'. This build image has the following runtimes: "
            + ", ".join(sorted(_RUNTIMES[_normalise(image)]))
        )
    if _matches(version, offered) or runtime in _ON_DEMAND.get(_normalise(image), set()):
        return None
    return (
        f"Unknown runtime version named '{version}' of {runtime}. "
        f"This build image has the following versions: {', '.join(offered)}"
    )


def host_version(runtime: str) -> str | None:
    """The version of `runtime` installed on this machine, or None if it has none."""
    probe = _HOST_PROBES.get(runtime)
    if probe is None or shutil.which(probe[0][0]) is None:
        return None
    try:
        done = subprocess.run(probe[0], capture_output=True, text=True, timeout=10)
        return probe[1](done.stdout or done.stderr)
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def host_satisfies(requested: str, host: str) -> bool:
    """Does the host's version stand for the requested one (`20` matches `20.19.1`)?"""
    requested = requested.removeprefix("corretto")
    if requested in ("latest", ""):
        return True
    return host == requested or host.startswith(requested + ".")


def _matches(version: str, offered: list[str]) -> bool:
    # "latest" selects the newest; "20.x" style aliases name a major version.
    version = version.removesuffix(".x")
    return version == "latest" or version in offered


def _normalise(image: str) -> str:
    return image.strip()
