"""Find everything a lab made (by tag, name prefix and ledger), delete it in dependency order, prove none is left.

`labkit.teardown.teardown(lab)` (and `labkit teardown` on the command line) returns a
TeardownReport: one row per resource (resource, action, result) and the leftovers found by
listing again afterwards. Running it twice is safe; a run after an interrupted one finishes
the job; nothing without the lab's tag or prefix is touched.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from labkit import ledger
from labkit.teardown.code_services import (
    find_approval_rule_templates,
    find_build_projects,
    find_deploy_applications,
    find_deployment_configs,
    find_pipelines,
    find_report_groups,
    find_repositories,
)
from labkit.teardown.compute import (
    find_auto_scaling_groups,
    find_instances,
    find_launch_configurations,
    find_launch_templates,
    find_load_balancers,
    find_security_groups,
    find_stacks,
    find_target_groups,
)
from labkit.teardown.context import FindContext
from labkit.teardown.core import (
    LOOKUP_ERRORS,
    Ownership,
    Resource,
    Row,
    format_table,
    run_with_retries,
)
from labkit.teardown.data import (
    find_buckets,
    find_parameters,
    find_queues,
    find_secrets,
    find_topics,
)
from labkit.teardown.iam import find_instance_profiles, find_policies, find_roles, find_users
from labkit.teardown.local import find_local_dirs, find_local_hosts
from labkit.teardown.monitoring import (
    find_alarms,
    find_budgets,
    find_dashboards,
    find_event_rules,
    find_log_groups,
    find_log_resource_policies,
)

# Dependency order: what uses a thing goes before it. Stacks first (they delete their own
# resources); pipelines before the builds and deployments they start; instances before their
# security groups and instance profiles; roles after everything that runs as them; buckets
# late (pipelines, builds and the ledger copy use them).
FINDERS = (
    find_stacks,
    find_pipelines,
    find_deploy_applications,
    find_deployment_configs,
    find_build_projects,
    find_report_groups,
    find_approval_rule_templates,
    find_repositories,
    find_auto_scaling_groups,
    find_load_balancers,
    find_target_groups,
    find_instances,
    find_local_hosts,
    find_launch_templates,
    find_launch_configurations,
    find_security_groups,
    find_event_rules,
    find_alarms,
    find_dashboards,
    find_topics,
    find_queues,
    find_parameters,
    find_secrets,
    find_log_groups,
    find_log_resource_policies,
    find_instance_profiles,
    find_roles,
    find_policies,
    find_users,
    find_buckets,
    find_local_dirs,
    find_budgets,
)

__all__ = ["FINDERS", "TeardownReport", "find_lab_resources", "teardown"]


@dataclass
class TeardownReport:
    """What teardown did: a row per resource, and what a fresh listing found left over."""

    prefix: str
    dry_run: bool
    rows: list[Row] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # kinds the backend cannot list

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.result.startswith("failed")]

    @property
    def ok(self) -> bool:
        """True when nothing failed and (after a real run) nothing of the lab is left."""
        return not self.failed and not self.leftovers

    def table(self) -> str:
        if not self.rows:
            return f"Nothing of lab {self.prefix!r} found."
        return format_table(self.rows)

    def summary(self) -> str:
        skipped = "".join(f"\n  not listed: {s}" for s in self.skipped)
        return self._outcome() + skipped

    def _outcome(self) -> str:
        if self.dry_run:
            return f"dry run: {len(self.rows)} resource(s) of lab {self.prefix!r} would be deleted"
        if self.ok:
            return f"lab {self.prefix!r}: {len(self.rows)} resource(s) handled, nothing left"
        lines = [f"lab {self.prefix!r}: {len(self.failed)} failure(s), "
                 f"{len(self.leftovers)} resource(s) left:"]
        lines += [f"  {left}" for left in self.leftovers]
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # a notebook shows the table as is
        import html

        return f"<pre>{html.escape(self.table())}\n\n{html.escape(self.summary())}</pre>"


def _context(lab, wait_seconds: float) -> FindContext:
    recorded = {(e.get("kind", ""), e.get("name", "")) for e in ledger.entries(lab)}
    return FindContext(lab, Ownership(lab.prefix, recorded), wait_seconds=wait_seconds)


def find_lab_resources(lab, wait_seconds: float = 300.0) -> tuple[list[Resource], list[Row]]:
    """Everything of the lab, in deletion order, plus a row for each listing that failed."""
    ctx = _context(lab, wait_seconds)
    resources: list[Resource] = []
    problems: list[Row] = []
    seen: set[str] = set()
    for finder in FINDERS:
        try:
            found = finder(ctx)
        except (*LOOKUP_ERRORS, OSError, TimeoutError) as exc:
            problems.append(Row(_what(finder), "list", f"failed: {_short(exc)}"))
            continue
        except NotImplementedError as exc:
            # Only in-process moto says this (an operation it lacks); AWS and the emulator
            # answer every listing teardown makes.
            problems.append(Row(_what(finder), "list", f"skipped: {exc}"))
            continue
        for resource in found:
            if resource.label not in seen:
                seen.add(resource.label)
                resources.append(resource)
    return resources, problems


def teardown(lab, dry_run: bool = False, *, prefix: str | None = None,
             wait_seconds: float = 300.0, retry_seconds: float = 120.0) -> TeardownReport:
    """Delete everything of the lab (or of `prefix`); list again and report what is left."""
    if prefix and prefix != lab.prefix:
        lab = _lab_with_prefix(lab, prefix)
    if lab.backend == "aws" and not dry_run:
        from labkit.guard import check_sandbox_account

        check_sandbox_account(lab.account_id, lab.config.sandbox_accounts)
    report = TeardownReport(lab.prefix, dry_run)
    resources, problems = find_lab_resources(lab, wait_seconds)
    report.skipped = [f"{p.resource}: {p.result}" for p in problems if _is_skip(p)]
    problems = [p for p in problems if not _is_skip(p)]
    if dry_run:
        report.rows = [Row(_label(r), "would delete", "not run (dry run)") for r in resources]
        report.rows += problems
        return report
    for resource in resources:
        result = run_with_retries(resource.delete, retry_seconds)
        report.rows.append(Row(_label(resource), "delete", result))
    report.rows += problems
    left, list_problems = find_lab_resources(lab, wait_seconds)
    report.leftovers = [_label(r) for r in left] + [f"{p.resource}: {p.result}"
                                                     for p in list_problems if not _is_skip(p)]
    if report.ok:
        ledger.clear(lab)
    return report


def _is_skip(row: Row) -> bool:
    return row.result.startswith("skipped")


def _what(finder) -> str:
    return finder.__name__.removeprefix("find_").replace("_", " ")


def _label(resource: Resource) -> str:
    return f"{resource.label} ({resource.detail})" if resource.detail else resource.label


def _short(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}"[:300]
    return str(exc)[:300]


def _lab_with_prefix(lab, prefix: str):
    from labkit.config import validate_prefix
    from labkit.lab import Lab

    config = lab.config.with_changes(prefix=validate_prefix(prefix))
    return Lab(config, lab.session, endpoint_url=lab.endpoint_url)


class _CallableModule(__import__("types").ModuleType):
    """Lets `labkit.teardown(lab)` work as the issue and the course spell it."""

    def __call__(self, lab, dry_run: bool = False, **kwargs) -> TeardownReport:
        return teardown(lab, dry_run, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule


class _CallableModule(types.ModuleType):
    """Lets `labkit.teardown(lab)` call teardown() while `labkit.teardown.core` stays a package."""

    def __call__(self, *args, **kwargs):
        return teardown(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
