"""The project's own set-up files agree with each other."""

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _normalise(spec: str) -> str:
    """Compare requirement specs without caring about spacing or name case."""
    name, rest = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)(.*)$", spec).groups()
    return name.lower().replace("_", "-") + re.sub(r"\s+", "", rest)


def test_environment_yml_mirrors_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {p for p in pip_section if not p.startswith("-e")}
    assert {_normalise(d) for d in declared} == {_normalise(p) for p in listed}


def test_environment_yml_brings_node_20_and_git():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "nodejs=20" in plain and "git" in plain
    assert any(d.startswith("python") for d in plain)


def test_moto_is_pinned_to_one_minor_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    moto = next(d for d in project["dependencies"] if d.startswith("moto"))
    assert re.search(r">=5\.(\d+),<5\.(\d+)", moto), moto


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
