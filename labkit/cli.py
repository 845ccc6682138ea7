"""The `labkit` command: manage the local emulator (and, in later chapters, runs and teardown)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from labkit import __version__, emulator_control
from labkit.config import DEFAULT_PORT, default_state_dir, parse_port
from labkit.errors import LabkitError


def _state_dir(args) -> Path:
    return Path(args.state_dir).expanduser().resolve() if args.state_dir else default_state_dir()


def _port(args) -> int:
    import os

    if args.port is not None:
        return parse_port(args.port)
    return parse_port(os.environ.get("LABKIT_PORT") or DEFAULT_PORT)


def cmd_start(args) -> int:
    state_dir = _state_dir(args)
    already = emulator_control.find_running(state_dir)
    info = emulator_control.start(state_dir, _port(args))
    verb = "already running" if already and already.pid == info.pid else "started"
    print(f"labkit emulator {verb} at {info.url} (pid {info.pid}, state dir {state_dir})")
    print(f"  use it with: export AWS_ENDPOINT_URL={info.url}")
    return 0


def cmd_stop(args) -> int:
    info = emulator_control.stop(_state_dir(args))
    print(f"labkit emulator stopped (pid {info.pid}, port {info.port} is free)")
    return 0


def cmd_status(args) -> int:
    state_dir = _state_dir(args)
    info = emulator_control.find_running(state_dir)
    health = emulator_control.health(info.url) if info else None
    if args.json:
        print(json.dumps({"running": bool(health), "pid": info.pid if info else None,
                          "url": info.url if info else None, "health": health,
                          "stateDir": str(state_dir)}))
    elif not info:
        print(f"labkit emulator is not running (state dir {state_dir})")
    elif not health:
        print(f"labkit emulator pid {info.pid} is recorded at {info.url} but does not answer")
    else:
        print(f"labkit emulator running at {info.url} (pid {info.pid}, "
              f"up {health['uptime']:.0f} s, version {health['version']})")
    return 0 if health else 1


def cmd_logs(args) -> int:
    state_dir = _state_dir(args)
    print(emulator_control.tail_log(state_dir, args.lines))
    if not args.follow:
        return 0
    path = state_dir / "emulator.log"
    with open(path, encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    print(line, end="")
                else:
                    time.sleep(0.3)
        except KeyboardInterrupt:
            return 0


def cmd_reset(args) -> int:
    info = emulator_control.find_running(_state_dir(args))
    if info is None:
        raise LabkitError("No emulator is running; there is nothing to reset. "
                          "Start one with `labkit emulator start`.")
    result = emulator_control.request(info.url, "/_labkit/reset", method="POST")
    print(f"labkit emulator reset: all state cleared, {result['processesEnded']} process(es) ended")
    return 0


def cmd_serve(args) -> int:
    from labkit.emulator.serve import serve

    return serve(_state_dir(args), _port(args))


def cmd_run(args) -> int:
    from labkit.locks import prefix_for_run
    from labkit.runner import ALL_CHAPTERS, RunOptions, load_parameters, run_series

    prefix = args.prefix
    if prefix is None and args.backend == "aws" and args.run_id:
        prefix = prefix_for_run(args.run_id)  # two scheduled runs never share a prefix
    options = RunOptions(
        output=Path(args.output).resolve(), backend=args.backend, region=args.region,
        profile=args.profile, prefix=prefix, chapters=args.chapters or ALL_CHAPTERS,
        parameters=load_parameters(Path(args.parameters)) if args.parameters else {},
        timeout_per_cell=args.timeout_per_cell, keep_going=args.keep_going,
        notebooks_dir=Path(args.notebooks).resolve() if args.notebooks else None,
        teardown=not args.no_teardown, progress=not args.no_progress)
    series = run_series(options)
    if not series.chapters:
        print(f"No chapters in range {options.chapters} were found; nothing ran.")
    for result in series.chapters:
        line = f"  {result.chapter:<40} {result.status:<7} {result.seconds:>7.1f} s"
        print(line + (f"  {result.error}" if result.error else ""))
    print(f"  {'teardown':<40} {series.teardown.status:<7}  {series.teardown.message.splitlines()[0]}")
    passed = sum(r.status == "passed" for r in series.chapters)
    print(f"{passed} passed, {len(series.failed)} failed (prefix {series.prefix}); "
          f"report: {options.output / 'report.html'}")
    return series.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"labkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="run the local AWS emulator")
    actions = emulator.add_subparsers(dest="action", required=True)

    def add(name, func, help_text):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--state-dir", help="state folder (default: .labkit/ at the project root)")
        sub.set_defaults(func=func)
        return sub

    for name, func, help_text in (("start", cmd_start, "start it (or reuse the running one)"),
                                  ("serve", cmd_serve, argparse.SUPPRESS)):
        sub = add(name, func, help_text)
        sub.add_argument("--port", help=f"port on 127.0.0.1 (default {DEFAULT_PORT} or LABKIT_PORT)")
    add("stop", cmd_stop, "stop it and every process it started")
    add("status", cmd_status, "is it running, where").add_argument("--json", action="store_true")
    logs = add("logs", cmd_logs, "show its log")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    add("reset", cmd_reset, "forget all state (repositories, builds, moto resources)")

    run = commands.add_parser("run", help="run the course's chapters in order with papermill")
    run.add_argument("--backend", choices=("local", "aws"), default="local")
    run.add_argument("--profile", help="aws backend: the AWS profile of the sandbox account")
    run.add_argument("--region")
    run.add_argument("--prefix", help="the lab's prefix (aws default: run-<run id> when --run-id is set)")
    run.add_argument("--run-id", default=os.environ.get("GITHUB_RUN_ID"),
                     help="a scheduled run's id, for a prefix of its own (default: $GITHUB_RUN_ID)")
    run.add_argument("--chapters", help="range such as 00-10, 04 or 01,03-05 (default: all); "
                                        "the tear-down chapter always runs last")
    run.add_argument("--output", default="output", help="folder for executed notebooks and reports")
    run.add_argument("--parameters", help="YAML file of parameters for every chapter")
    run.add_argument("--timeout-per-cell", type=float, metavar="S",
                     help="fail a cell that runs longer than S seconds (default: no limit)")
    run.add_argument("--keep-going", action="store_true", help="run later chapters after a failure")
    run.add_argument("--notebooks", help="folder of chapters (default: notebooks/)")
    run.add_argument("--no-teardown", action="store_true",
                     help="do not call labkit teardown after the chapters (local debugging)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)

    from labkit import doctor
    from labkit.teardown import command as teardown_command

    teardown = commands.add_parser("teardown", help="delete everything a lab made; prove none is left")
    teardown_command.add_arguments(teardown)
    teardown.set_defaults(func=teardown_command.run)
    check = commands.add_parser("doctor", help="check tools, emulator or credentials, sandbox, budget")
    doctor.add_arguments(check)
    check.set_defaults(func=doctor.run)

    from labkit.workshop import commands as workshop_commands

    workshop = commands.add_parser("workshop", help="instructor-led workshops: roster, progress, "
                                                    "status, teardown, report")
    workshop_commands.add_arguments(workshop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
