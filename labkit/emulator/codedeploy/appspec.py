"""The AppSpec file of an EC2/on-premises revision: read, checked as the agent checks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
# Hooks an EC2/on-premises appspec may name, in the order the agent runs them.
HOOK_EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
               "ValidateService", "BeforeBlockTraffic", "AfterBlockTraffic",
               "BeforeAllowTraffic", "AfterAllowTraffic")
MAX_TIMEOUT = 3600
FILE_EXISTS_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")
DOCS = "https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html"


class AppSpecError(Exception):
    """The revision's AppSpec file is missing or invalid; the message says what to fix."""


@dataclass
class Script:
    location: str
    timeout: int = MAX_TIMEOUT
    runas: str | None = None


@dataclass
class FileMapping:
    source: str
    destination: str


@dataclass
class Permission:
    object: str
    pattern: str = "**"
    excepts: list[str] = field(default_factory=list)
    owner: str | None = None
    group: str | None = None
    mode: int | None = None
    types: list[str] = field(default_factory=lambda: ["file", "directory"])


@dataclass
class AppSpec:
    os: str
    files: list[FileMapping]
    permissions: list[Permission]
    hooks: dict[str, list[Script]]
    file_exists_behavior: str | None = None


def find_appspec(bundle_dir: Path) -> Path:
    for name in APPSPEC_NAMES:
        if (bundle_dir / name).is_file():
            return bundle_dir / name
    raise AppSpecError(
        'The CodeDeploy agent did not find an AppSpec file within the unpacked revision '
        'directory at revision-relative path "appspec.yml". The revision was unpacked to '
        f'directory "{bundle_dir}", and the AppSpec file was expected but not found at path '
        f'"{bundle_dir / "appspec.yml"}". Consult the AWS CodeDeploy Appspec documentation '
        f"for more information at {DOCS}")


def load_appspec(bundle_dir: Path) -> AppSpec:
    """Parse and check the bundle's appspec.yml; AppSpecError names the first problem."""
    path = find_appspec(bundle_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise AppSpecError(f"The AppSpec file {path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise AppSpecError(f"The AppSpec file {path.name} must be a YAML mapping with "
                           f"'version', 'os', 'files' and 'hooks'; see {DOCS}")
    version = data.get("version")
    if version is None or str(version) != "0.0":
        raise AppSpecError(
            f"The deployment failed because an invalid version value ({version}) was entered "
            'in the application specification file. Make sure your AppSpec file specifies '
            '"0.0" as the version, and then try again.')
    os_name = data.get("os")
    if os_name not in ("linux", "windows"):
        raise AppSpecError(
            f"The deployment failed because the application specification file specifies an "
            f"invalid operating system ({os_name}). Make sure 'os' is 'linux' or 'windows'.")
    if os_name == "windows":
        raise AppSpecError("The AppSpec file is for Windows ('os: windows'); labkit's local "
                           "hosts stand for Amazon Linux instances. Use 'os: linux'.")
    behavior = data.get("file_exists_behavior")
    if behavior is not None and str(behavior).upper() not in FILE_EXISTS_BEHAVIORS:
        raise AppSpecError(f"file_exists_behavior must be one of {', '.join(FILE_EXISTS_BEHAVIORS)}; "
                           f"found {behavior!r}.")
    return AppSpec(
        os=os_name,
        files=_files(data.get("files")),
        permissions=_permissions(data.get("permissions")),
        hooks=_hooks(data.get("hooks")),
        file_exists_behavior=str(behavior).upper() if behavior is not None else None,
    )


def _files(value) -> list[FileMapping]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AppSpecError("'files' must be a list of {source, destination} entries.")
    mappings = []
    for entry in value:
        if not isinstance(entry, dict) or "source" not in entry or "destination" not in entry:
            raise AppSpecError(f"Each 'files' entry needs 'source' and 'destination'; found {entry!r}.")
        destination = str(entry["destination"])
        if not destination.startswith("/"):
            raise AppSpecError(f"The destination {destination!r} in 'files' must be an absolute "
                               "path on the instance, such as /home/ec2-user/my-app.")
        mappings.append(FileMapping(str(entry["source"]), destination))
    return mappings


def _permissions(value) -> list[Permission]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AppSpecError("'permissions' must be a list of entries with an 'object'.")
    found = []
    for entry in value:
        if not isinstance(entry, dict) or "object" not in entry:
            raise AppSpecError(f"Each 'permissions' entry needs an 'object'; found {entry!r}.")
        mode = entry.get("mode")
        try:
            mode_value = int(str(mode), 8) if mode is not None else None
        except ValueError:
            raise AppSpecError(f"The permission mode {mode!r} is not an octal number such as 755.") from None
        kinds = entry.get("type") or ["file", "directory"]
        found.append(Permission(
            object=str(entry["object"]), pattern=str(entry.get("pattern", "**")),
            excepts=[str(e) for e in entry.get("except") or []],
            owner=entry.get("owner"), group=entry.get("group"), mode=mode_value,
            types=[str(k) for k in (kinds if isinstance(kinds, list) else [kinds])]))
    return found


def _hooks(value) -> dict[str, list[Script]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AppSpecError("'hooks' must map lifecycle event names to lists of scripts.")
    hooks: dict[str, list[Script]] = {}
    for event, scripts in value.items():
        if event not in HOOK_EVENTS:
            raise AppSpecError(f"'{event}' is not a lifecycle event an EC2/on-premises "
                               f"deployment runs scripts for; use one of {', '.join(HOOK_EVENTS)}.")
        if scripts is None:
            continue
        if not isinstance(scripts, list):
            raise AppSpecError(f"The hook {event} must be a list of scripts with a 'location'.")
        hooks[event] = [_script(event, s) for s in scripts]
    return hooks


def _script(event: str, entry) -> Script:
    if not isinstance(entry, dict) or not entry.get("location"):
        raise AppSpecError(f"Each script of the hook {event} needs a 'location'; found {entry!r}.")
    location = str(entry["location"])
    if ".." in PurePosixPath(location).parts:
        raise AppSpecError(f"The script location {location!r} of {event} leaves the revision; "
                           "locations are relative to the root of the bundle.")
    timeout = entry.get("timeout", MAX_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT:
        raise AppSpecError(f"The timeout of {location} ({timeout!r}) must be a whole number of "
                           f"seconds from 1 to {MAX_TIMEOUT}.")
    return Script(location=location, timeout=timeout, runas=entry.get("runas"))
