"""Run the emulator in this process: bind 127.0.0.1, record pid and port, serve until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.serving import make_server

from labkit.statedir import INFO_FILE, clear_run_dirs, ensure_writable, write_json

# Only loopback: the emulator accepts unsigned git pushes and dummy credentials.
HOST = "127.0.0.1"


def serve(state_dir: Path, port: int) -> int:
    logging.basicConfig(
        level=os.environ.get("LABKIT_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger("labkit.emulator")
    ensure_writable(state_dir)
    clear_run_dirs(state_dir)
    # AWS managed policies (AWSCodeBuildDeveloperAccess, ...) exist in IAM as on AWS, so roles
    # can attach them and the engines' permission checks read them.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from labkit.emulator.app import EmulatorApp
    from labkit.emulator.authorization import ENFORCE_ENV, enforcing
    from labkit.emulator.runtime import EmulatorRuntime

    runtime = EmulatorRuntime(state_dir, port, HOST)
    app = EmulatorApp(runtime)
    try:
        server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", HOST, port, exc)
        return 2
    server.daemon_threads = True
    background = _start_background_tasks(runtime)

    def shut_down(signum, _frame):
        log.info("signal %s: shutting down", signum)
        runtime.stopping.set()
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    write_json(state_dir / INFO_FILE, {
        "pid": os.getpid(), "port": port, "url": runtime.url,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    log.info("labkit emulator listening on %s (state dir %s)", runtime.url, state_dir)
    log.info("service-role permissions are %s (%s=%s)",
             "ENFORCED: engines act with their role's policies" if enforcing()
             else "NOT enforced", ENFORCE_ENV, os.environ.get(ENFORCE_ENV, "1"))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        runtime.stopping.set()
        for task in background:
            task.join(timeout=5)
        ended = runtime.processes.end()
        log.info("stopped; ended %d child process(es)", ended)
        (state_dir / INFO_FILE).unlink(missing_ok=True)
    return 0


def _start_background_tasks(runtime) -> list[threading.Thread]:
    """Loops that run beside request handling (alarm evaluation, and later engines' pollers)."""
    from labkit.emulator.alarms import AlarmEvaluator

    tasks = []
    evaluator = AlarmEvaluator(runtime)
    thread = threading.Thread(target=evaluator.run_forever, name="alarm-evaluator", daemon=True)
    thread.start()
    tasks.append(thread)
    return tasks
