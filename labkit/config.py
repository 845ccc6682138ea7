"""LabConfig: backend, region, prefix, state dir and sandbox settings, from arguments, env and labkit.toml."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from labkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

BACKENDS = ("local", "aws")
# "moto" is accepted because the emulator is built on moto; it means the same as "local".
BACKEND_ALIASES = {"moto": "local", "emulator": "local"}
DEFAULT_PORT = 4747
DEFAULT_PREFIX = "labkit"
DEFAULT_REGION = "us-east-1"
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
CONFIG_KEYS = {"backend", "region", "prefix", "profile", "sandbox_accounts", "learner_id", "port",
               "sandbox_regions", "enforce_iam"}


@dataclass(frozen=True)
class LabConfig:
    """Everything labkit needs to know about where a lab runs."""

    backend: str = "local"
    region: str = DEFAULT_REGION
    prefix: str = DEFAULT_PREFIX
    profile: str | None = None
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    port: int = DEFAULT_PORT
    sandbox_accounts: tuple[str, ...] = ()
    learner_id: str | None = None
    # Regions where the guard lets the aws backend change things; empty means `region` only.
    sandbox_regions: tuple[str, ...] = ()

    def with_changes(self, **changes) -> LabConfig:
        return replace(self, **changes)


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` whose pyproject.toml is labkit's."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _is_labkit_pyproject(candidate):
            return folder
    return None


def _is_labkit_pyproject(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return data.get("project", {}).get("name") == "labkit"


def default_state_dir() -> Path:
    """`LABKIT_STATE_DIR`, else `.labkit/` at the project root, else `~/.labkit`."""
    override = os.environ.get("LABKIT_STATE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    root = find_project_root()
    return (root / ".labkit") if root else Path.home() / ".labkit"


def config_file_path() -> Path | None:
    """`LABKIT_CONFIG`, else labkit.toml at the project root (or the working directory)."""
    override = os.environ.get("LABKIT_CONFIG")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ConfigError(f"LABKIT_CONFIG points at {path}, which is not a file.")
        return path
    root = find_project_root() or Path.cwd()
    path = root / "labkit.toml"
    return path if path.is_file() else None


def read_config_file(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or remove it.") from None
    section = data.get("labkit", data)
    unknown = set(section) - CONFIG_KEYS
    if unknown:
        raise ConfigError(
            f"{path} has unknown setting(s) {', '.join(sorted(unknown))}; "
            f"known settings are {', '.join(sorted(CONFIG_KEYS))}."
        )
    return section


def _is_workshop_file(path: Path | None) -> bool:
    """A learner file written by `labkit workshop init`: a [labkit] and a [workshop] table."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("labkit"), dict) and isinstance(data.get("workshop"), dict)


def normalise_backend(value: str) -> str:
    name = str(value).strip().lower()
    name = BACKEND_ALIASES.get(name, name)
    if name not in BACKENDS:
        raise ConfigError(
            f"Unknown backend {value!r}: use 'local' (the emulator on this machine) "
            "or 'aws' (a sandbox AWS account)."
        )
    return name


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region botocore knows in any partition (commercial, China, GovCloud, ...)."""
    import boto3

    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(regions)


def validate_region(region: str) -> str:
    if region not in known_regions():
        near = sorted(r for r in known_regions() if r.split("-")[0] == str(region).split("-")[0])
        hint = f" Did you mean one of: {', '.join(near[:6])}?" if near else ""
        raise ConfigError(f"Unknown AWS region {region!r}.{hint}")
    return region


def validate_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.match(prefix):
        raise ConfigError(
            f"Invalid prefix {prefix!r}: use 3-20 lowercase letters, digits or hyphens, "
            "starting with a letter (it becomes part of S3 bucket names)."
        )
    return prefix


def parse_port(value) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid port {value!r}: use a number from 1024 to 65535.") from None
    if not 1024 <= port <= 65535:
        raise ConfigError(f"Invalid port {port}: use a number from 1024 to 65535.")
    return port


def parse_accounts(value) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    accounts = tuple(str(a).strip() for a in items if str(a).strip())
    for account in accounts:
        if not re.fullmatch(r"\d{12}", account):
            raise ConfigError(
                f"Invalid sandbox account id {account!r}: an AWS account id is 12 digits."
            )
    return accounts


def load_config(
    backend: str | None = None,
    region: str | None = None,
    prefix: str | None = None,
    profile: str | None = None,
    port: int | None = None,
    state_dir: str | Path | None = None,
) -> LabConfig:
    """Resolve settings: arguments win over environment variables, which win over labkit.toml."""
    env = os.environ
    path = config_file_path()
    file = read_config_file(path)
    if file and _is_workshop_file(path):
        # A workshop learner's file decides their prefix, backend and region: a chapter's
        # parameters cell that still holds the course defaults must not put them in the shared lab.
        backend = None if backend == "local" and file.get("backend") else backend
        region = None if region == DEFAULT_REGION and file.get("region") else region
        prefix = None if prefix == DEFAULT_PREFIX and file.get("prefix") else prefix

    def pick(arg, env_name, file_key, default):
        if arg is not None:
            return arg
        if env.get(env_name):
            return env[env_name]
        if file.get(file_key) is not None:
            return file[file_key]
        return default

    chosen_backend = normalise_backend(pick(backend, "LABKIT_BACKEND", "backend", "local"))
    chosen_region = validate_region(
        pick(region, "LABKIT_REGION", "region", env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)
    )
    chosen_prefix = validate_prefix(pick(prefix, "LABKIT_PREFIX", "prefix", DEFAULT_PREFIX))
    chosen_state = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
    return LabConfig(
        backend=chosen_backend,
        region=chosen_region,
        prefix=chosen_prefix,
        profile=pick(profile, "LABKIT_PROFILE", "profile", None),
        state_dir=chosen_state,
        port=parse_port(pick(port, "LABKIT_PORT", "port", DEFAULT_PORT)),
        sandbox_accounts=parse_accounts(
            pick(None, "LABKIT_SANDBOX_ACCOUNTS", "sandbox_accounts", ())
        ),
        learner_id=pick(None, "LABKIT_LEARNER", "learner_id", None),
        sandbox_regions=parse_regions(pick(None, "LABKIT_SANDBOX_REGIONS", "sandbox_regions", ())),
    )


def parse_regions(value) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return tuple(validate_region(str(r).strip()) for r in items if str(r).strip())
