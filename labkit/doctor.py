"""`labkit doctor`: check the tools, the emulator or the AWS credentials, the sandbox allow-list and a budget.

Each check says what it found and, when something is missing, the command that fixes it.
Credentials are never printed: only the account id, the caller's ARN and where the keys
came from.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabkitError

MIN_PYTHON = (3, 10)
MIN_NODE = 20
BUDGET_SUFFIX = "monthly-budget"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Check:
    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("local", "aws", "moto"))
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--prefix")
    parser.add_argument("--state-dir", help="state folder (default: .labkit/ at the project root)")
    parser.add_argument("--budget", type=float, metavar="USD",
                        help="aws: create a monthly cost budget of this amount if none exists")
    parser.add_argument("--budget-email", help="aws: who gets the budget's alerts")
    parser.add_argument("--no-input", action="store_true", help="never ask questions")


def run(args) -> int:
    from labkit.config import load_config

    state_dir = Path(args.state_dir).expanduser().resolve() if args.state_dir else None
    config = load_config(backend=args.backend, region=args.region, prefix=args.prefix,
                         profile=args.profile, state_dir=state_dir)
    ask = None if args.no_input or not sys.stdin.isatty() else input
    checks = run_checks(config, budget=args.budget, budget_email=args.budget_email, ask=ask)
    print(f"labkit doctor ({config.backend} backend, region {config.region}, "
          f"prefix {config.prefix})")
    print(format_checks(checks))
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        print(f"{len(failed)} problem(s): fix them and run `labkit doctor` again.")
        return 1
    print("All set.")
    return 0


def format_checks(checks: list[Check]) -> str:
    marks = {"ok": "[ok]  ", "warn": "[warn]", "fail": "[FAIL]"}
    lines = []
    for check in checks:
        lines.append(f"  {marks[check.status]} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"         fix: {check.fix}")
    return "\n".join(lines)


def run_checks(config, *, session=None, budget: float | None = None,
               budget_email: str | None = None, ask=None) -> list[Check]:
    """Every check for `config`'s backend; `session` (aws) defaults to the configured profile."""
    checks = [check_python(), check_git(), check_node(), check_npm()]
    if config.backend == "local":
        checks.append(check_emulator(config))
    else:
        checks.extend(check_aws(config, session, budget, budget_email, ask))
    return checks


# --- tools ---------------------------------------------------------------------------------

def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("Python", "ok", f"{version} at {sys.executable}")
    return Check("Python", "fail", f"{version} is too old",
                 "install Python 3.10 or newer and run `make setup` again")


def _tool_version(command: list[str]) -> str | None:
    if not shutil.which(command[0]):
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else None


def check_git() -> Check:
    version = _tool_version(["git", "--version"])
    if version:
        return Check("git", "ok", version)
    return Check("git", "fail", "not found on PATH",
                 "install git (e.g. `sudo apt-get install git` or `brew install git`)")


def check_node() -> Check:
    version = _tool_version(["node", "--version"])
    if not version:
        return Check("Node.js", "fail", "not found on PATH",
                     "install Node.js 20 (https://nodejs.org or `nvm install 20`); builds and "
                     "deployments of the sample app need it")
    match = re.match(r"v?(\d+)", version)
    major = int(match.group(1)) if match else 0
    if major < MIN_NODE:
        return Check("Node.js", "warn", f"{version} is older than {MIN_NODE}",
                     "install Node.js 20 (`nvm install 20`)")
    return Check("Node.js", "ok", version)


def check_npm() -> Check:
    version = _tool_version(["npm", "--version"])
    if version:
        return Check("npm", "ok", version)
    return Check("npm", "fail", "not found on PATH", "install npm (it comes with Node.js)")


# --- local backend -------------------------------------------------------------------------

def check_emulator(config) -> Check:
    from labkit import emulator_control

    info = emulator_control.find_running(config.state_dir)
    if info is None:
        if not emulator_control.port_is_free(config.port):
            return Check("emulator", "fail",
                         f"not running, and port {config.port} is taken by another program",
                         f"`labkit emulator start --port {config.port + 1}` (or set LABKIT_PORT)")
        return Check("emulator", "warn", f"not running (state dir {config.state_dir})",
                     "`labkit emulator start`, or just call labkit.connect() which starts it")
    health = emulator_control.health(info.url)
    if not health:
        return Check("emulator", "fail", f"pid {info.pid} at {info.url} does not answer",
                     "`labkit emulator stop` then `labkit emulator start`")
    return Check("emulator", "ok", f"running at {info.url} (pid {info.pid}, "
                                   f"version {health.get('version')})")


# --- aws backend ---------------------------------------------------------------------------

def check_aws(config, session, budget, budget_email, ask) -> list[Check]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from labkit.lab import Lab

    try:
        session = session or boto3.Session(profile_name=config.profile, region_name=config.region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        return [Check("credentials", "fail", str(exc), "run `aws configure` (or --profile NAME)")]
    if credentials is None:
        return [Check("credentials", "fail", "no AWS credentials found",
                      "run `aws configure`, choose a profile with --profile, or use the local "
                      "backend")]
    lab = Lab(config, session)
    try:
        identity = lab.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return [Check("credentials", "fail", f"AWS refused them ({_code(exc)})",
                      "refresh them (`aws sso login`, new keys) and try again")]
    account = identity["Account"]
    lab.__dict__["account_id"] = account  # the guard asks for it; no need to ask STS twice
    # Where the keys came from (env, a profile, SSO ...), never the keys themselves.
    checks = [Check("credentials", "ok", f"account {account} as {identity['Arn']} "
                                         f"(from {credentials.method})")]
    allowed = account in config.sandbox_accounts
    if allowed:
        checks.append(Check("sandbox allow-list", "ok", f"account {account} is listed"))
    else:
        listed = ", ".join(config.sandbox_accounts) or "none"
        checks.append(Check(
            "sandbox allow-list", "fail",
            f"account {account} is not listed (allowed: {listed}); labkit will change nothing in it",
            f"if it is a sandbox: `export LABKIT_SANDBOX_ACCOUNTS={account}` or "
            f"sandbox_accounts = [\"{account}\"] in labkit.toml"))
    regions = config.sandbox_regions or (config.region,)
    if config.region in regions:
        checks.append(Check("region", "ok", f"{config.region} (allowed: {', '.join(regions)})"))
    else:
        checks.append(Check("region", "fail", f"{config.region} is not among the sandbox "
                                              f"regions {', '.join(regions)}",
                            f"`export LABKIT_SANDBOX_REGIONS={','.join((*regions, config.region))}`"))
    checks.append(check_budget(lab, allowed, budget, budget_email, ask))
    return checks


def check_budget(lab, allowed: bool, amount: float | None, email: str | None, ask) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        budgets = existing_budgets(lab)
    except (ClientError, BotoCoreError) as exc:
        return Check("budget", "warn", f"cannot read AWS Budgets ({_code(exc)})",
                     "ask the account owner whether a budget with an alert exists")
    if budgets:
        first = budgets[0]
        limit = first.get("BudgetLimit", {})
        return Check("budget", "ok", f"{first['BudgetName']}: {limit.get('Amount')} "
                                     f"{limit.get('Unit')} per {first.get('TimeUnit', '').lower()}")
    fix = ("`labkit doctor --backend aws --budget 10 --budget-email you@example.com` creates a "
           "monthly cost budget that emails you at 80% and at a forecast of 100%")
    if amount is None and ask is not None and allowed:
        amount, email = _ask_budget(ask)
    if amount is None:
        return Check("budget", "fail", "no AWS Budget in this account", fix)
    if not allowed:
        return Check("budget", "fail", "no AWS Budget; not created, the account is not a sandbox",
                     fix)
    try:
        name = create_budget(lab, amount, email or "")
    except (ValueError, ClientError, BotoCoreError) as exc:
        return Check("budget", "fail", f"could not create the budget: {_code(exc)}", fix)
    return Check("budget", "ok", f"created {name}: {amount:g} USD per month, alerts to {email}")


def existing_budgets(lab) -> list[dict]:
    from botocore.exceptions import ClientError

    client = lab.client("budgets")
    try:
        return client.describe_budgets(AccountId=lab.account_id).get("Budgets", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return []
        raise


def create_budget(lab, amount: float, email: str) -> str:
    """A monthly cost budget `<prefix>-monthly-budget` that emails at 80% actual and 100% forecast."""
    from labkit import ledger

    if not amount or amount <= 0:
        raise ValueError("the budget amount must be a positive number of USD")
    if not EMAIL_PATTERN.match(email or ""):
        raise ValueError(f"{email!r} is not an email address")
    name = lab.name(BUDGET_SUFFIX)
    subscribers = [{"SubscriptionType": "EMAIL", "Address": email}]
    # Budgets cannot be found by tag everywhere yet: the ledger remembers it for teardown.
    ledger.record(lab, "budgets", "budgets budget", name)
    lab.client("budgets").create_budget(
        AccountId=lab.account_id,
        Budget={"BudgetName": name, "BudgetLimit": {"Amount": f"{amount:g}", "Unit": "USD"},
                "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        NotificationsWithSubscribers=[
            {"Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                              "Threshold": 80.0, "ThresholdType": "PERCENTAGE"},
             "Subscribers": subscribers},
            {"Notification": {"NotificationType": "FORECASTED",
                              "ComparisonOperator": "GREATER_THAN", "Threshold": 100.0,
                              "ThresholdType": "PERCENTAGE"},
             "Subscribers": subscribers},
        ],
        ResourceTags=lab.tags.as_list(),
    )
    return name


def _ask_budget(ask) -> tuple[float | None, str | None]:
    answer = ask("No AWS Budget found. Monthly amount in USD for a budget with an email alert "
                 "(empty to skip): ").strip()
    if not answer:
        return None, None
    try:
        amount = float(answer)
    except ValueError:
        raise LabkitError(f"{answer!r} is not an amount; give a number such as 10.") from None
    return amount, ask("Email address for the alerts: ").strip()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response:
        error = response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)
