"""Sandbox safety for the aws backend: refuse any account not declared a sandbox."""

from __future__ import annotations

from labkit.errors import SandboxRefused


def check_sandbox_account(account_id: str, allowed: tuple[str, ...]) -> None:
    """Raise unless `account_id` is on the sandbox allow-list."""
    if account_id in allowed:
        return
    listed = ", ".join(allowed) if allowed else "none"
    raise SandboxRefused(
        f"Refusing to use AWS account {account_id}: it is not on the sandbox allow-list "
        f"(allowed: {listed}). If this account is a sandbox you may change freely, allow it "
        f"with `export LABKIT_SANDBOX_ACCOUNTS={account_id}` or `sandbox_accounts = "
        f"[\"{account_id}\"]` in labkit.toml."
    )
