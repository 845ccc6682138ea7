"""Read a buildspec: YAML → BuildSpec, with CodeBuild's YAML_FILE_ERROR messages naming the line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

PHASE_NAMES = ("install", "pre_build", "build", "post_build")
_ON_FAILURE = re.compile(r"^(ABORT|CONTINUE|RETRY(-\d+)?(-.+)?)$")


class BuildspecError(Exception):
    """A buildspec CodeBuild would refuse; the message is the phase context's message."""


@dataclass
class PhaseSpec:
    name: str
    commands: list[str] = field(default_factory=list)
    finally_commands: list[str] = field(default_factory=list)
    on_failure: str = "ABORT"
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass
class ArtifactSpec:
    identifier: str = ""
    files: list[str] = field(default_factory=list)
    name: str | None = None
    base_directory: str = ""
    discard_paths: bool = False
    exclude_paths: list[str] = field(default_factory=list)


@dataclass
class ReportSpec:
    name: str
    files: list[str]
    base_directory: str = ""
    file_format: str = "JUNITXML"
    discard_paths: bool = False


@dataclass
class BuildSpec:
    version: str
    shell: str = "bash"
    run_as: list[str] = field(default_factory=list)  # where `run-as` was asked for (not emulated)
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: list[str] = field(default_factory=list)
    phases: dict[str, PhaseSpec] = field(default_factory=dict)
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    cache_paths: list[str] = field(default_factory=list)
    reports: list[ReportSpec] = field(default_factory=list)

    def phase(self, name: str) -> PhaseSpec:
        return self.phases.get(name) or PhaseSpec(name)


def parse_buildspec(text: str) -> BuildSpec:
    """Parse and check a buildspec the way CodeBuild does before running any command."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        # CodeBuild words it as "<problem> at line N", e.g. "did not find expected key at line 7".
        raise BuildspecError(f"{exc.problem or exc.context} at line {line}") from None
    except yaml.YAMLError as exc:
        raise BuildspecError(f"yaml: {exc}") from None
    if not isinstance(data, dict):
        raise BuildspecError(
            "Invalid buildspec: the buildspec must be a YAML map with version and phases"
        )
    lines = _LineFinder(root)
    return _Reader(data, lines).read()


class _LineFinder:
    """Line numbers (1-based) of keys and list items in the YAML, for error messages."""

    def __init__(self, root):
        self.root = root

    def line(self, *path) -> int:
        node, line = self.root, 1
        for step in path:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == step), None)
                if match is None:
                    return line
                line, node = match[0].start_mark.line + 1, match[1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(step, int)
                and step < len(node.value)
            ):
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                return line
        return line


class _Reader:
    def __init__(self, data: dict, lines: _LineFinder):
        self.data = data
        self.lines = lines

    def fail(self, message: str, *path, hint: str = "") -> None:
        where = f"{message} at line {self.lines.line(*path)}"
        raise BuildspecError(f"{where}; {hint}" if hint else where)

    def read(self) -> BuildSpec:
        version = self.data.get("version")
        if version is None:
            raise BuildspecError("Invalid buildspec: missing 'version'; use version: 0.2")
        version_text = str(version)
        if version_text not in ("0.1", "0.2"):
            self.fail(
                f"invalid buildspec version '{version_text}'",
                "version",
                hint="supported versions are 0.1 and 0.2",
            )
        spec = BuildSpec(version=version_text)
        self._read_env(spec)
        self._read_phases(spec)
        self._read_artifacts(spec)
        self._read_cache(spec)
        self._read_reports(spec)
        return spec

    def _map(self, value, *path) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"Expected {'.'.join(map(str, path))} to be a map", *path)
        return value

    def _strings(self, value, *path) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (str, int, float)):
            value = [value]
        if not isinstance(value, list):
            self.fail(f"Expected {'.'.join(map(str, path))} to be a list of strings", *path)
        out = []
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)) or item is None:
                kind = (
                    "subkeys"
                    if isinstance(item, dict)
                    else "a list"
                    if isinstance(item, list)
                    else "nothing"
                )
                self.fail(
                    f"Expected {path[-1].capitalize()}[{i}] to be of string type: found {kind} instead",
                    *path,
                    i,
                )
            out.append(_scalar(item))
        return out

    def _string_map(self, value, *path) -> dict[str, str]:
        out = {}
        for key, item in self._map(value, *path).items():
            if isinstance(item, (dict, list)):
                self.fail(
                    f"Expected {'.'.join(map(str, path))}.{key} to be of string type", *path, key
                )
            out[str(key)] = "" if item is None else _scalar(item)
        return out

    def _read_env(self, spec: BuildSpec) -> None:
        env = self._map(self.data.get("env"), "env")
        shell = env.get("shell", "bash")
        if shell not in ("bash", "/bin/sh", "sh"):
            self.fail(f"Unsupported shell '{shell}'", "env", "shell", hint="use bash or /bin/sh")
        spec.shell = "sh" if shell in ("/bin/sh", "sh") else "bash"
        if self.data.get("run-as"):
            spec.run_as.append(f"run-as: {self.data['run-as']}")
        spec.variables = self._string_map(env.get("variables"), "env", "variables")
        spec.parameter_store = self._string_map(
            env.get("parameter-store"), "env", "parameter-store"
        )
        spec.secrets_manager = self._string_map(
            env.get("secrets-manager"), "env", "secrets-manager"
        )
        spec.exported_variables = self._strings(
            env.get("exported-variables"), "env", "exported-variables"
        )
        for name in [*spec.variables, *spec.parameter_store, *spec.secrets_manager]:
            if name.startswith("CODEBUILD_"):
                self.fail(
                    f"Invalid environment variable name {name}",
                    "env",
                    hint="the CODEBUILD_ prefix is reserved",
                )

    def _read_phases(self, spec: BuildSpec) -> None:
        if "phases" not in self.data:
            raise BuildspecError("Invalid buildspec: missing 'phases'")
        phases = self._map(self.data.get("phases"), "phases")
        for name, body in phases.items():
            if name not in PHASE_NAMES:
                self.fail(
                    f"Unknown phase '{name}'",
                    "phases",
                    name,
                    hint=f"a buildspec's phases are {', '.join(PHASE_NAMES)}",
                )
            body = self._map(body, "phases", name)
            phase = PhaseSpec(name=name)
            phase.commands = self._strings(body.get("commands"), "phases", name, "commands")
            phase.finally_commands = self._strings(body.get("finally"), "phases", name, "finally")
            if body.get("run-as"):
                spec.run_as.append(f"phases.{name}.run-as: {body['run-as']}")
            phase.on_failure = str(body.get("on-failure", "ABORT"))
            if not _ON_FAILURE.match(phase.on_failure):
                self.fail(
                    f"Invalid on-failure '{phase.on_failure}' in phase {name}",
                    "phases",
                    name,
                    "on-failure",
                    hint="use ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or "
                    "RETRY-<count>-<regex>",
                )
            if name == "install":
                phase.runtime_versions = self._string_map(
                    body.get("runtime-versions"), "phases", name, "runtime-versions"
                )
            elif "runtime-versions" in body:
                self.fail(
                    f"runtime-versions is only allowed in the install phase, not in {name}",
                    "phases",
                    name,
                    "runtime-versions",
                )
            if not phase.commands and not phase.runtime_versions:
                self.fail(
                    f"Phase {name} has no commands",
                    "phases",
                    name,
                    hint="give it a 'commands' list or remove it",
                )
            spec.phases[name] = phase

    def _artifact(self, body, identifier: str, *path) -> ArtifactSpec:
        body = self._map(body, *path)
        files = self._strings(body.get("files"), *path, "files")
        if not files:
            self.fail(f"Expected {'.'.join(path)}.files to list at least one path", *path)
        name = body.get("name")
        return ArtifactSpec(
            identifier=identifier,
            files=files,
            name=None if name is None else _scalar(name),
            base_directory=_scalar(body.get("base-directory") or "").strip("/")
            if body.get("base-directory")
            else "",
            discard_paths=_yes(body.get("discard-paths")),
            exclude_paths=self._strings(body.get("exclude-paths"), *path, "exclude-paths"),
        )

    def _read_artifacts(self, spec: BuildSpec) -> None:
        body = self.data.get("artifacts")
        if body is None:
            return
        body = self._map(body, "artifacts")
        if "files" in body or not body.get("secondary-artifacts"):
            spec.artifacts = self._artifact(body, "", "artifacts")
        for identifier, item in self._map(
            body.get("secondary-artifacts"), "artifacts", "secondary-artifacts"
        ).items():
            spec.secondary_artifacts[str(identifier)] = self._artifact(
                item, str(identifier), "artifacts", "secondary-artifacts", identifier
            )

    def _read_cache(self, spec: BuildSpec) -> None:
        cache = self._map(self.data.get("cache"), "cache")
        spec.cache_paths = self._strings(cache.get("paths"), "cache", "paths")

    def _read_reports(self, spec: BuildSpec) -> None:
        for name, body in self._map(self.data.get("reports"), "reports").items():
            body = self._map(body, "reports", name)
            fmt = str(body.get("file-format", "JUNITXML")).upper()
            if fmt not in (
                "JUNITXML",
                "CUCUMBERJSON",
                "TESTNGXML",
                "NUNITXML",
                "NUNIT3XML",
                "VISUALSTUDIOTRX",
                "CLOVERXML",
                "COBERTURAXML",
                "JACOCOXML",
                "SIMPLECOV",
            ):
                self.fail(f"Invalid report file-format '{fmt}'", "reports", name, "file-format")
            files = self._strings(body.get("files"), "reports", name, "files")
            if not files:
                self.fail(
                    f"Expected reports.{name}.files to list at least one path", "reports", name
                )
            spec.reports.append(
                ReportSpec(
                    name=str(name),
                    files=files,
                    file_format=fmt,
                    base_directory=str(body.get("base-directory") or "").strip("/"),
                    discard_paths=_yes(body.get("discard-paths")),
                )
            )
        if len(spec.reports) > 5:
            raise BuildspecError("A buildspec can name at most 5 report groups")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yes(value) -> bool:
    return value is True or str(value).lower() in ("yes", "true")
