"""Sandbox safety for the aws backend: refuse any account or region not declared a sandbox.

`check_sandbox_account` runs once when a lab connects; `attach_guard` puts a botocore hook on
every client the lab makes, so no call that creates, changes or deletes anything can run
outside the allowed account and regions. Read-only calls pass, so `labkit doctor` can still
explain the set-up.
"""

from __future__ import annotations

from collections.abc import Callable

from labkit.errors import SandboxRefused

# Operation name prefixes that only read. Anything else (Create, Put, Delete, Start, Test,
# Send, ...) counts as a change and needs an allowed account and region.
READ_ONLY_PREFIXES = (
    "Describe", "Get", "List", "Head", "BatchGet", "Lookup", "Search", "Filter", "Query",
    "Scan", "Validate", "Estimate", "Simulate",
)
# Read-only operations whose names do not say so.
READ_ONLY_OPERATIONS = frozenset({"SelectObjectContent", "StartQuery", "StopQuery"})
# Services whose resources belong to no region: their calls are checked for the account only.
GLOBAL_SERVICES = frozenset({"iam", "sts", "budgets", "ce", "organizations", "route53",
                             "cloudfront", "account", "pricing"})


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


def check_sandbox_region(region: str, allowed: tuple[str, ...]) -> None:
    """Raise unless `region` is one of the regions the lab may change things in."""
    if region in allowed:
        return
    listed = ", ".join(allowed) if allowed else "none"
    wanted = ",".join((*allowed, region))
    raise SandboxRefused(
        f"Refusing to change anything in region {region}: the sandbox regions are {listed}. "
        f"Use the lab's region, or allow this one with `export LABKIT_SANDBOX_REGIONS={wanted}` "
        f"or `sandbox_regions = [...]` in labkit.toml."
    )


def is_read_only(operation_name: str) -> bool:
    """True for operations that only read (DescribeInstances, GetObject, ListBuckets, ...)."""
    return operation_name in READ_ONLY_OPERATIONS or operation_name.startswith(READ_ONLY_PREFIXES)


class SandboxGuard:
    """Decides, call by call, whether a client may run an operation."""

    def __init__(self, allowed_accounts: tuple[str, ...], allowed_regions: tuple[str, ...],
                 account_id: Callable[[], str]):
        self.allowed_accounts = tuple(allowed_accounts)
        self.allowed_regions = tuple(allowed_regions)
        self._account_id = account_id  # called lazily: finding the account is itself a call

    def check(self, service: str, operation_name: str, region: str | None) -> None:
        """Raise SandboxRefused when a changing call would leave the sandbox."""
        if is_read_only(operation_name):
            return
        try:
            check_sandbox_account(self._account_id(), self.allowed_accounts)
            if service not in GLOBAL_SERVICES:
                check_sandbox_region(region or "", self.allowed_regions)
        except SandboxRefused as refused:
            raise SandboxRefused(f"{service}:{operation_name} not run. {refused}") from None

    def attach(self, client) -> None:
        """Check every call `client` makes, before its parameters are even built."""
        service = client.meta.service_model.service_name
        region = client.meta.region_name

        def before_parameter_build(model, **_kwargs):
            self.check(service, model.name, region)

        client.meta.events.register("before-parameter-build", before_parameter_build,
                                    unique_id="labkit-sandbox-guard")

    def attach_to_session(self, session) -> None:
        """Check every call of every client `session` makes from now on (boto3 or botocore)."""
        events = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        events.register("before-sign", self.before_sign, unique_id="labkit-sandbox-guard-session")

    def before_sign(self, operation_name: str, region_name: str | None, signing_name: str | None = None,
                    **_kwargs) -> None:
        """A botocore `before-sign` handler: the client's own region, before anything is sent."""
        # The signing name is the service's name as the guard knows it (iam, sts, s3, logs...).
        self.check(signing_name or "", operation_name, region_name)


def guard_for_lab(lab) -> SandboxGuard:
    """The guard of an aws-backend lab: its allow-listed accounts, and its regions."""
    regions = lab.config.sandbox_regions or (lab.region,)
    return SandboxGuard(lab.config.sandbox_accounts, regions, lambda: lab.account_id)


def attach_guard(client, lab) -> None:
    """Guard `client` when `lab` runs on the aws backend (the emulator needs no guard)."""
    if lab.backend == "aws":
        guard_for_lab(lab).attach(client)
