"""`labkit teardown [--prefix P] [--dry-run] [--yes]`: the command-line face of teardown()."""

from __future__ import annotations

import argparse
from pathlib import Path

from labkit.errors import LabkitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", help="the lab to tear down (default: the configured prefix)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be deleted; change nothing")
    parser.add_argument("--yes", action="store_true",
                        help="aws backend: do not ask to type the prefix to confirm")
    parser.add_argument("--give-up-after", type=float, default=120.0, metavar="SECONDS",
                        help="how long to retry a resource that is still in use (default 120)")
    parser.add_argument("--backend", choices=("local", "aws", "moto"))
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--state-dir", help="state folder (default: .labkit/ at the project root)")


def run(args) -> int:
    from labkit import emulator_control
    from labkit.config import load_config
    from labkit.lab import connect
    from labkit.teardown import teardown

    state_dir = Path(args.state_dir).expanduser().resolve() if args.state_dir else None
    config = load_config(backend=args.backend, region=args.region, prefix=args.prefix,
                         profile=args.profile, state_dir=state_dir)
    if config.backend == "local" and emulator_control.find_running(config.state_dir) is None:
        # The emulator keeps everything in memory and a restart clears its folders.
        print(f"No emulator is running for {config.state_dir}: nothing of lab "
              f"{config.prefix!r} exists, so there is nothing to tear down.")
        return 0
    lab = connect(backend=config.backend, region=config.region, prefix=config.prefix,
                  profile=config.profile, state_dir=config.state_dir)
    where = f"the emulator at {lab.endpoint_url}" if lab.endpoint_url else (
        f"AWS account {lab.account_id}, region {lab.region}")
    if lab.backend == "aws" and not args.dry_run and not args.yes:
        plan = teardown(lab, dry_run=True)
        print(plan.table())
        if not plan.rows:
            print(plan.summary())
            return 0
        if not _confirmed(lab.prefix, len(plan.rows), where):
            print("Not confirmed: nothing was deleted.")
            return 1
    print(f"Tearing down lab {lab.prefix!r} in {where}{' (dry run)' if args.dry_run else ''}...")
    report = teardown(lab, dry_run=args.dry_run, retry_seconds=args.give_up_after)
    print(report.table())
    print(report.summary())
    return 0 if report.ok else 1


def _confirmed(prefix: str, count: int, where: str) -> bool:
    print(f"This deletes the {count} resource(s) above from {where}, for good.")
    try:
        answer = input(f"Type the lab's prefix ({prefix}) to go ahead: ")
    except EOFError:
        raise LabkitError("No answer to the confirmation (stdin is not a terminal); "
                          "run with --yes to tear down without asking.") from None
    return answer.strip() == prefix
