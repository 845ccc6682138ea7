"""`labkit workshop init | status | teardown | report | helped`: what an instructor runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from labkit.errors import LabkitError
from labkit.workshop import policy as policies
from labkit.workshop.roster import (
    DEFAULT_FOLDER,
    Workshop,
    init_workshop,
    load_workshop,
    roster_csv,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)

    def sub(name: str, help_text: str, func):
        made = actions.add_parser(name, help=help_text)
        made.set_defaults(func=func)
        return made

    def connection(made):
        made.add_argument("--profile", help="aws: the instructor's profile in the sandbox account")
        made.add_argument("--state-dir", help="local: the emulator's state folder")
        made.add_argument("--port", help="local: the emulator's port")

    init = sub("init", "write roster.csv and one labkit.toml per learner", cmd_init)
    init.add_argument("--learners", type=int, required=True, metavar="N")
    init.add_argument("--backend", choices=("local", "aws"), default="local")
    init.add_argument("--prefix-base", default="ws1",
                      help="learner prefixes are <base>-01, <base>-02, ... (default ws1)")
    init.add_argument("--region", default="us-east-1")
    init.add_argument("--accounts-file", help="one account id per line (or learner_id,account)")
    init.add_argument("--output", default=DEFAULT_FOLDER, help="the workshop folder (default workshop/)")
    init.add_argument("--progress-store",
                      help="where learners' records go: s3://BUCKET/PREFIX or a shared folder "
                           "(default: aws the workshop's bucket, local <output>/progress)")
    init.add_argument("--bucket", help="aws: the workshop's bucket for progress records")
    init.add_argument("--force", action="store_true", help="replace an existing roster")
    init.add_argument("--create", action="store_true",
                      help="also create the workshop's bucket and, on one shared account, "
                           "an IAM policy per learner")
    connection(init)

    for name, help_text, func in (("status", "a table of learners: progress, stuck, last record", cmd_status),
                                  ("report", "report.csv and report.html after the session", cmd_report)):
        made = sub(name, help_text, func)
        made.add_argument("--dir", default=DEFAULT_FOLDER, help="the workshop folder (default workshop/)")
        made.add_argument("--now", help="judge 'stuck' at this ISO time (default: now)")
        if name == "report":
            made.add_argument("--output", help="folder for the report (default <dir>/report)")
        else:
            made.add_argument("--json", action="store_true")
        connection(made)

    teardown = sub("teardown", "tear down one learner's lab or all of them", cmd_teardown)
    teardown.add_argument("--dir", default=DEFAULT_FOLDER)
    who = teardown.add_mutually_exclusive_group(required=True)
    who.add_argument("--learner", action="append", help="a learner id (repeat for several)")
    who.add_argument("--all", action="store_true", help="every learner on the roster")
    teardown.add_argument("--workshop", action="store_true",
                          help="with --all: also the workshop's own bucket and policies")
    teardown.add_argument("--dry-run", action="store_true", help="show what would go; change nothing")
    teardown.add_argument("--yes", action="store_true", help="aws: do not ask for confirmation")
    connection(teardown)

    helped = sub("helped", "mark a learner helped (the dashboard stops calling them stuck)", cmd_helped)
    helped.add_argument("learner")
    helped.add_argument("--dir", default=DEFAULT_FOLDER)


def connect_instructor(workshop_backend: str, region: str, prefix: str, args=None):
    """The instructor's lab on the workshop's backend (the emulator on this machine, or the
    sandbox account through the instructor's profile)."""
    from labkit.lab import connect

    return connect(backend=workshop_backend, region=region, prefix=prefix,
                   profile=getattr(args, "profile", None), port=getattr(args, "port", None),
                   state_dir=getattr(args, "state_dir", None))


def cmd_init(args) -> int:
    workshop = init_workshop(args.output, args.learners, args.backend, args.prefix_base, args.region,
                             args.accounts_file, args.progress_store, args.bucket, force=args.force)
    folder = workshop.folder
    shown = pd.DataFrame([learner_.__dict__ for learner_ in workshop.learners]).drop(columns=["config"])
    print(f"Workshop {workshop.name!r}: {len(workshop.learners)} learners on the {workshop.backend} "
          f"backend, region {workshop.region}, written to {folder}")
    print(shown.head(5).to_string(index=False) + ("\n ..." if len(shown) > 5 else ""))
    print(f"\n  roster:        {folder / 'roster.csv'}")
    print(f"  learner files: {folder / 'learners'}/<id>.toml  "
          "(export LABKIT_CONFIG=<that file>, or copy it to labkit.toml)")
    print(f"  progress:      {workshop.progress_store}")
    accounts = {learner_.account for learner_ in workshop.learners}
    shared = workshop.backend == "aws" and len(accounts) == 1
    if shared:
        account = next(iter(accounts)) or "*"
        (folder / "policies").mkdir(exist_ok=True)
        for learner in workshop.learners:
            document = policies.learner_policy(learner.prefix, learner.learner_id, account,
                                               workshop.region, workshop.bucket)
            (folder / "policies" / f"{learner.learner_id}.json").write_text(
                json.dumps(document, indent=2), encoding="utf-8")
        first = workshop.learners[0]
        print(f"\nOne shared account: each learner is isolated by prefix and tag. The IAM policy of "
              f"{first.learner_id} (all in {folder / 'policies'}/):")
        print(json.dumps(policies.learner_policy(first.prefix, first.learner_id, account,
                                                 workshop.region, workshop.bucket), indent=1))
        print("Where the policy cannot limit a learner to their prefix:")
        print(policies.limits_text())
    if args.create:
        create_workshop_resources(workshop, args, with_policies=shared)
    return 0


def create_workshop_resources(workshop: Workshop, args=None, with_policies: bool = True) -> dict:
    """The workshop's bucket (aws: progress records; roster.csv beside them) and the policies."""
    lab = connect_instructor(workshop.backend, workshop.region, workshop.name, args)
    made = {"bucket": None, "policies": []}
    if workshop.progress_store.startswith("s3://"):
        from labkit.workshop.progress import S3Store, open_store

        store = open_store(workshop.progress_store, lab=lab)
        assert isinstance(store, S3Store)
        s3 = lab.client("s3")
        try:
            kwargs = ({} if workshop.region == "us-east-1" else
                      {"CreateBucketConfiguration": {"LocationConstraint": workshop.region}})
            s3.create_bucket(Bucket=store.bucket, **kwargs)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass
        s3.put_bucket_tagging(Bucket=store.bucket, Tagging={"TagSet": lab.tags.as_list()})
        store.put_roster(roster_csv(list(workshop.learners)))
        made["bucket"] = store.bucket
        print(f"Bucket {store.bucket}: ready for progress records (roster.csv uploaded).")
    if with_policies:
        for learner in workshop.learners:
            document = policies.learner_policy(learner.prefix, learner.learner_id, lab.account_id,
                                               workshop.region, workshop.bucket)
            made["policies"].append(policies.create_policy(lab, workshop.name, learner.learner_id,
                                                           document))
        print(f"{len(made['policies'])} IAM policies {policies.policy_name(workshop.name, '<id>')}: "
              "attach each to its learner's user or role.")
    return made


def cmd_status(args) -> int:
    from labkit.workshop.status import load_records, status_frame

    workshop = load_workshop(args.dir)
    lab = _lab_for_store(workshop, args)
    store = _store(workshop, lab)
    records, refused = load_records(workshop, store)
    table = status_frame(workshop, records, now=args.now)
    if args.json:
        print(table.reset_index().to_json(orient="records"))
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200,
                               "display.max_colwidth", 60):
            print(table.to_string())
        stuck = table["status"].str.startswith("stuck").sum()
        print(f"\n{len(table)} learners, {stuck} stuck, {len(records)} records from {store.describe()}")
    for message in refused:
        print(f"refused: {message}")
    return 0


def cmd_report(args) -> int:
    from labkit.workshop.status import write_report

    workshop = load_workshop(args.dir)
    store = _store(workshop, _lab_for_store(workshop, args))
    paths = write_report(workshop, Path(args.output) if args.output else None, args.now, store)
    print(f"report: {paths['csv']} and {paths['html']}")
    return 0


def cmd_helped(args) -> int:
    from labkit.workshop.status import mark_helped

    workshop = load_workshop(args.dir)
    mark_helped(workshop, args.learner)
    print(f"{args.learner} marked helped: earlier failures and idle time no longer count as stuck.")
    return 0


def _lab_for_store(workshop: Workshop, args):
    if workshop.progress_store.startswith("s3://"):
        return connect_instructor(workshop.backend, workshop.region, workshop.name, args)
    return None


def _store(workshop: Workshop, lab):
    from labkit.workshop.progress import open_store

    return open_store(workshop.progress_store, lab=lab)


def teardown_learners(workshop: Workshop, learner_ids: list[str], lab, dry_run: bool = False,
                      retry_seconds: float = 120.0, include_workshop: bool = False):
    """Teardown, one learner's prefix at a time; a row per learner and the reports by learner."""
    from labkit.teardown import teardown

    rows, reports = [], {}
    for learner_id in learner_ids:
        learner = workshop.learner(learner_id)
        if workshop.backend == "aws" and learner.account and learner.account != lab.account_id:
            rows.append({"learner": learner_id, "prefix": learner.prefix, "resources": 0,
                         "result": f"skipped: in account {learner.account}, not {lab.account_id}"})
            continue
        report = teardown(lab, dry_run, prefix=learner.prefix, retry_seconds=retry_seconds)
        reports[learner_id] = report
        rows.append({"learner": learner_id, "prefix": learner.prefix, "resources": len(report.rows),
                     "result": report.summary().splitlines()[0]})
    if include_workshop:
        report = teardown(lab, dry_run, prefix=workshop.name, retry_seconds=retry_seconds)
        reports["(workshop)"] = report
        rows.append({"learner": "(workshop)", "prefix": workshop.name, "resources": len(report.rows),
                     "result": report.summary().splitlines()[0]})
    return pd.DataFrame(rows, columns=["learner", "prefix", "resources", "result"]), reports


def cmd_teardown(args) -> int:
    workshop = load_workshop(args.dir)
    ids = [learner_.learner_id for learner_ in workshop.learners] if args.all else args.learner
    for learner_id in ids:
        workshop.learner(learner_id)  # an unknown id stops before anything is deleted
    if args.workshop and not args.all:
        raise LabkitError("--workshop tears down the workshop's own bucket and policies: use it "
                          "with --all, after every learner.")
    if workshop.backend == "local":
        from labkit import emulator_control
        from labkit.config import default_state_dir

        state_dir = Path(args.state_dir).expanduser().resolve() if args.state_dir else default_state_dir()
        if emulator_control.find_running(state_dir) is None:
            print(f"No emulator is running for {state_dir}: no lab of this workshop exists on this "
                  "machine, so there is nothing to tear down. Learners with emulators of their own "
                  "run `labkit teardown` there.")
            return 0
    lab = connect_instructor(workshop.backend, workshop.region, workshop.name, args)
    if workshop.backend == "aws" and not args.dry_run and not args.yes:
        plan, _ = teardown_learners(workshop, ids, lab, dry_run=True, include_workshop=args.workshop)
        print(plan.to_string(index=False))
        answer = input(f"Type the workshop's name ({workshop.name}) to delete all of that: ")
        if answer.strip() != workshop.name:
            print("Not confirmed: nothing was deleted.")
            return 1
    table, reports = teardown_learners(workshop, ids, lab, args.dry_run,
                                       include_workshop=args.workshop)
    if len(ids) == 1 and reports:
        print(next(iter(reports.values())).table())
    print(table.to_string(index=False))
    return 0 if all(r.ok or r.dry_run for r in reports.values()) else 1
