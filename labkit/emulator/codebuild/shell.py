"""One shell session per build: every command of every phase runs in it, as buildspec 0.2 says.

How it works. The build's shell (bash, or sh for `env.shell: /bin/sh`) reads its commands from
a pipe. Each buildspec command is written to its own file and sourced in the session
(`. cmd-7.sh </dev/null`), so `cd` and `export` persist; stdin comes from /dev/null so a
command can never swallow the commands that follow. After each command the session dumps its
exported variables (`export -p`) and working directory to files, then prints a marker line
with a per-build random token and the exit status. The marker goes to fd 9, a copy of the
output pipe made when the shell starts: output and marker share one pipe, so the marker arrives
after the command's last line, and a command that redirects the shell (`exec >file`) cannot
hide it. Our own lines are kept out of `set -x` traces.

A command may end the shell itself (`exit 3`, `set -e` then a failure). An EXIT trap saves the
variables and prints the marker with the status first, so the command fails with
`exit status 3`; the next command then gets a fresh shell that sources the saved variables
and returns to the saved directory. So a failed command never loses what was exported before
it (shell functions and options set by commands do not survive such a restart).
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Longest piece of one output line kept as one log event; longer lines are split.
MAX_LINE = 32 * 1024


@dataclass
class CommandOutcome:
    status: int | None  # exit status, or None when the command was interrupted
    interrupted: str = ""  # "timeout" | "stopped" when it was


class ShellSession:
    def __init__(
        self,
        *,
        spawn: Callable,
        shell: str,
        cwd: Path,
        env: dict[str, str],
        session_dir: Path,
        on_output: Callable[[str], None],
    ):
        self._spawn = spawn
        self._shell = shell
        self._cwd = cwd
        self._env = env
        self._dir = session_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._on_output = on_output
        self._marker = f"__LABKIT_CMD_DONE_{secrets.token_hex(8)}__"
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue(maxsize=2000)  # bounded: back-pressure on the build
        self._count = 0
        self._saved = False
        self._forced: dict[str, str] = {}
        self._closed = threading.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def set_variable(self, name: str, value: str) -> None:
        """Export a variable into the session (e.g. CODEBUILD_BUILD_SUCCEEDING) before a command."""
        self._env[name] = value
        self._forced[name] = value  # re-applied after a restart, over the saved variables
        if self._alive():
            self._send(f"export {name}={_quote(value)}\n")

    def run(
        self,
        command: str,
        deadline: float,
        should_stop: Callable[[], bool],
        pump: Callable[[], None] = lambda: None,
    ) -> CommandOutcome:
        """Run one command in the session; return its exit status or why it was interrupted."""
        if not self._alive():
            self._start()
        self._count += 1
        script = self._dir / f"cmd-{self._count}.sh"
        # xtrace (`set -x` by an earlier command) is paused around our own lines and resumed
        # by the script's first line, so the log shows the command's trace and nothing else.
        script.write_text(
            "case $__lk_opts in *x*) set -x ;; esac\n" + command + "\n", encoding="utf-8"
        )
        self._send(
            "{ __lk_opts=$-; set +x; } 2>/dev/null; "
            f". {_quote(str(script))} </dev/null\n"
            "{ __lk_status=$? __lk_opts=$-; set +x; } 2>/dev/null; __lk_save; "
            f"printf '%s%s\\n' {self._marker} \"$__lk_status\" >&9; "
            "case $__lk_opts in *x*) set -x ;; esac\n"
        )
        shell_gone_at = None
        while True:
            if should_stop():
                return CommandOutcome(None, "stopped")
            if time.monotonic() >= deadline:
                return CommandOutcome(None, "timeout")
            try:
                kind, value = self._lines.get(timeout=0.1)
            except queue.Empty:
                pump()
                # The shell died without a marker while a background process keeps the pipe
                # open (so no end of output comes): after a short grace, take its exit code.
                if self._proc is not None and self._proc.poll() is not None:
                    shell_gone_at = shell_gone_at or time.monotonic()
                    if time.monotonic() - shell_gone_at > 0.5:
                        kind, value = "eof", None
                    else:
                        continue
                else:
                    continue
            if kind == "line":
                self._on_output(value)
            elif kind == "status":
                return CommandOutcome(value)
            elif kind == "exit":
                self._reap()
                return CommandOutcome(value)
            else:  # the shell ended without a marker (killed, or its trap was replaced)
                code = self._proc.wait() if self._proc else 1
                self._proc = None
                return CommandOutcome(code if code >= 0 else 128 - code)

    def close(self) -> None:
        """End the shell (the caller ends the rest of the build's processes by owner)."""
        self._closed.set()
        proc, self._proc = self._proc, None
        if proc and proc.poll() is None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def exported(self) -> dict[str, str]:
        """The session's exported variables after the last command."""
        env = dict(self._env)
        state = self._dir / "state.env"
        if state.exists():
            env.update(_parse_export_p(state.read_text(encoding="utf-8", errors="replace")))
        return env

    # --- internals -----------------------------------------------------------------------
    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        state, cwd_file = self._dir / "state.env", self._dir / "state.cwd"
        init = self._dir / "init.sh"
        init.write_text(
            f"__lk_save() {{ export -p > {_quote(str(state))}.tmp 2>/dev/null && "
            f"mv -f {_quote(str(state))}.tmp {_quote(str(state))}; pwd > {_quote(str(cwd_file))}; }}\n"
            f"__lk_on_exit() {{ {{ __lk_status=$?; set +x; }} 2>/dev/null; __lk_save; "
            f"printf '%sX%s\\n' {self._marker} \"$__lk_status\" >&9; }}\n"
            # Markers go to fd 9, a copy of the output pipe, so `exec >file` cannot hide them.
            "exec 9>&1\n"
            "trap __lk_on_exit EXIT\n",
            encoding="utf-8",
        )
        cwd = self._cwd
        if self._saved and cwd_file.exists():
            saved_cwd = Path(cwd_file.read_text(encoding="utf-8").strip() or str(cwd))
            cwd = saved_cwd if saved_cwd.is_dir() else cwd
        args = ["bash", "--noprofile", "--norc", "-s"] if self._shell == "bash" else ["sh", "-s"]
        self._proc = self._spawn(
            args,
            cwd=str(cwd),
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._lines = queue.Queue(maxsize=2000)
        threading.Thread(
            target=self._read,
            args=(self._proc, self._lines),
            daemon=True,
            name="codebuild-shell-reader",
        ).start()
        self._send(f". {_quote(str(init))}\n")
        if self._saved and state.exists():
            self._send(f". {_quote(str(state))} 2>/dev/null\n")
            for name, value in self._forced.items():
                self._send(f"export {name}={_quote(value)}\n")
        self._saved = True

    def _send(self, text: str) -> None:
        try:
            self._proc.stdin.write(text.encode())
            self._proc.stdin.flush()
        except (OSError, ValueError, AttributeError):
            pass  # the shell is gone; the reader reports it

    def _reap(self) -> None:
        # After `exit N` the trap printed the marker; reap the shell so the next command starts a new one.
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _read(self, proc: subprocess.Popen, lines: queue.Queue) -> None:
        def put(item) -> None:
            # Blocks while the queue is full (back-pressure), but gives up once the session is
            # closed, so a reader never outlives its build waiting for a consumer.
            while not self._closed.is_set():
                try:
                    lines.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        marker = self._marker.encode()
        keep = len(marker) + 16  # room for a marker and its status at the end of a line
        pending = b""
        stream = proc.stdout
        while True:
            chunk = stream.readline(MAX_LINE)
            if not chunk:
                break
            pending += chunk
            # readline stops at a newline, so a marker can only sit in the last `keep` bytes:
            # an endless line is cut into MAX_LINE pieces without ever splitting a marker.
            while not pending.endswith(b"\n") and len(pending) >= MAX_LINE + keep:
                put(("line", _text(pending[:MAX_LINE])))
                pending = pending[MAX_LINE:]
            if not pending.endswith(b"\n"):
                continue
            line, pending = pending, b""
            at = line.find(marker)
            if at < 0:
                put(("line", _text(line)))
                continue
            before, status = line[:at], line[at + len(marker) :].strip()
            if before:
                put(("line", _text(before)))
            exiting = status.startswith(b"X")  # printed by the EXIT trap: the shell is ending
            status = status.lstrip(b"X")
            put(("exit" if exiting else "status", int(status) if status.isdigit() else 1))
        if pending:
            put(("line", _text(pending)))
        put(("eof", None))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\r\n")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _parse_export_p(text: str) -> dict[str, str]:
    """Values from `export -p` output (bash's `declare -x` or sh's `export`), via a throwaway shell."""
    done = subprocess.run(
        [
            "bash",
            "--noprofile",
            "--norc",
            "-c",
            "set -a; env -i >/dev/null; . /dev/stdin >/dev/null 2>&1; env -0",
        ],
        input=text.encode(),
        capture_output=True,
        env={"PATH": os.environ.get("PATH", "")},
        timeout=10,
    )
    out = {}
    for item in done.stdout.split(b"\0"):
        if b"=" in item:
            key, _, value = item.partition(b"=")
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out
