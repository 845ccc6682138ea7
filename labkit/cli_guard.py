"""The sandbox guard for the AWS CLI: an awscli plugin, so `!aws` cells on the aws backend obey it too.

`labkit.connect(backend="aws")` writes a CLI config (the learner's own, plus a `[plugins]` line
naming this module) into the state dir and points AWS_CONFIG_FILE at it. Every `aws` command in
the kernel then loads this plugin, which checks each changing call against the same allow-list
as the lab's boto3 clients, before the request is signed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from labkit.guard import SandboxGuard

ACTIVE_ENV = "LABKIT_CLI_GUARD"
CONFIG_NAME = "aws-cli-config"
PLUGIN_LINE = "labkit_sandbox_guard = labkit.cli_guard"


USER_CONFIG_ENV = "LABKIT_USER_AWS_CONFIG_FILE"  # the learner's own AWS_CONFIG_FILE, to put back


def user_config_file() -> Path:
    """The CLI config the learner had before labkit pointed AWS_CONFIG_FILE at its copy."""
    current = os.environ.get("AWS_CONFIG_FILE")
    if is_labkit_cli_config(current):
        current = os.environ.get(USER_CONFIG_ENV)
    return Path(current) if current else Path.home() / ".aws" / "config"


def switch_on(state_dir: Path) -> Path:
    """Make every `aws` command of this process and its children pass the guard."""
    original = os.environ.get("AWS_CONFIG_FILE")
    if original and not is_labkit_cli_config(original):
        os.environ[USER_CONFIG_ENV] = original
    path = write_cli_config(state_dir, user_config_file())
    os.environ["AWS_CONFIG_FILE"] = str(path)
    os.environ[ACTIVE_ENV] = "1"
    return path


def switch_off() -> None:
    """Back to the learner's own CLI config (the local backend needs no guard)."""
    os.environ.pop(ACTIVE_ENV, None)
    if is_labkit_cli_config(os.environ.get("AWS_CONFIG_FILE")):
        original = os.environ.pop(USER_CONFIG_ENV, None)
        if original:
            os.environ["AWS_CONFIG_FILE"] = original
        else:
            os.environ.pop("AWS_CONFIG_FILE", None)


def write_cli_config(state_dir: Path, user_config: Path | None = None) -> Path:
    """The learner's CLI config with this plugin added; returns its path in the state dir."""
    source = user_config or user_config_file()
    text = source.read_text(encoding="utf-8") if source.is_file() else ""
    if PLUGIN_LINE not in text:
        if re.search(r"^\[plugins\]\s*$", text, flags=re.MULTILINE):
            # A second [plugins] section would make the file unreadable: join the existing one.
            text = re.sub(r"^\[plugins\]\s*$", f"[plugins]\n{PLUGIN_LINE}", text, count=1,
                          flags=re.MULTILINE)
        else:
            text = f"{text.rstrip()}\n\n[plugins]\n{PLUGIN_LINE}\n".lstrip()
    target = Path(state_dir) / CONFIG_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def is_labkit_cli_config(path: str | None) -> bool:
    return bool(path) and Path(path).name == CONFIG_NAME


def _guard(session) -> SandboxGuard:
    from labkit.config import load_config

    config = load_config(backend="aws")
    cached: dict[str, str] = {}

    def account_id() -> str:
        # Read-only, and asked once per command: the account the CLI's own credentials belong to.
        if "id" not in cached:
            cached["id"] = session.create_client("sts").get_caller_identity()["Account"]
        return cached["id"]

    regions = config.sandbox_regions or (config.region,)
    return SandboxGuard(config.sandbox_accounts, regions, account_id)


def awscli_initialize(event_hooks) -> None:
    """Entry point the AWS CLI calls for each plugin; inert unless labkit switched it on."""
    if os.environ.get(ACTIVE_ENV) != "1":
        return
    state: dict = {}

    def remember_session(session, **_kwargs) -> None:
        state["guard"] = _guard(session)

    def before_sign(**kwargs) -> None:
        if "guard" in state:
            state["guard"].before_sign(**kwargs)

    event_hooks.register("session-initialized", remember_session, unique_id="labkit-cli-guard-session")
    event_hooks.register("before-sign", before_sign, unique_id="labkit-cli-guard")
