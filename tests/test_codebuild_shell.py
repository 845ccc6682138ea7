"""The build shell session on its own: one real bash per session, as the phase engine uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from labkit.emulator.codebuild.shell import MAX_LINE, ShellSession
from labkit.procs import end_process_tree


@pytest.fixture
def session(tmp_path):
    started: list[subprocess.Popen] = []

    def spawn(args, **kwargs):
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        started.append(proc)
        return proc

    output: list[str] = []
    shell = ShellSession(
        spawn=spawn,
        shell="bash",
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        session_dir=tmp_path / "session",
        on_output=output.append,
    )
    shell.output = output
    yield shell
    shell.close()
    for proc in started:
        end_process_tree(proc.pid, grace=1)
        try:  # the group outlives a dead shell when a background child is left in it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run(shell: ShellSession, command: str, seconds: float = 10):
    return shell.run(command, time.monotonic() + seconds, lambda: False)


def test_state_survives_exit_and_set_e(session, tmp_path):
    assert run(session, "export A=1; mkdir -p d && cd d").status == 0
    assert run(session, "export B=2; exit 7").status == 7
    assert run(session, "set -e; export C=3; false; echo unreachable").status == 1
    assert run(session, 'echo "$A $B $C $(basename $PWD)"').status == 0
    assert session.output == ["1 2 3 d"]
    assert session.exported()["C"] == "3"


def test_set_x_shows_the_command_but_not_the_bookkeeping(session):
    run(session, "set -x")
    run(session, "echo traced")
    # Only the command is traced (one level deeper, as it is sourced), none of the bookkeeping.
    assert len(session.output) == 2 and session.output[0].endswith("+ echo traced")


def test_commands_cannot_read_the_next_commands(session):
    assert run(session, "cat").status == 0
    assert run(session, "echo still-here").status == 0
    assert session.output == ["still-here"]


def test_output_without_a_newline_and_endless_lines(session):
    run(session, "printf no-newline")
    run(session, f"head -c {MAX_LINE * 3} /dev/zero | tr '\\0' y; echo")
    assert session.output[0] == "no-newline"
    assert sum(len(line) for line in session.output[1:]) == MAX_LINE * 3
    assert all(len(line) <= MAX_LINE + 100 for line in session.output)


def test_timeout_and_stop_interrupt_a_command(session):
    assert run(session, "sleep 30", seconds=0.3).interrupted == "timeout"
    stopped = session.run("sleep 30", time.monotonic() + 30, lambda: True)
    assert stopped.interrupted == "stopped"


def test_a_set_variable_wins_over_the_restored_state(session):
    run(session, "export CODEBUILD_BUILD_SUCCEEDING=1; exit 2")
    session.set_variable("CODEBUILD_BUILD_SUCCEEDING", "0")
    run(session, "echo $CODEBUILD_BUILD_SUCCEEDING")
    assert session.output == ["0"]


def test_a_command_that_redirects_the_shell_output_does_not_hang_it(session, tmp_path):
    assert run(session, f"exec > {tmp_path / 'out.txt'}").status == 0
    assert run(session, "echo into-the-file").status == 0
    assert (tmp_path / "out.txt").read_text() == "into-the-file\n"


def test_a_shell_that_dies_without_a_marker_is_noticed(session):
    # The trap is gone and a background process holds the output pipe open.
    outcome = run(session, "trap - EXIT; sleep 30 & exit 5")
    assert outcome.status == 5
    assert run(session, "echo next").status == 0 and session.output[-1] == "next"
