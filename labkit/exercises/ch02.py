"""Chapter 02's exercise: read a failed build's phase context and log to say what broke."""

from __future__ import annotations

import re

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names
from labkit.services.codebuild import failure_reason, latest_build


def _diagnosis(lab) -> tuple[str, str]:
    build = latest_build(lab, course_names(lab).build_project, status="FAILED")
    if build is None:
        raise Wrong("There is no failed build of your project yet: run the cells that break the build first.")
    phase, message = failure_reason(build) or ("", "")
    found = re.search(r"Error while executing command: (.*)\. Reason", message)
    return phase, found.group(1) if found else ""


def _check_failed_phase(lab, answer) -> str:
    if answer is None:
        raise NotAttempted('Set `answer = ("PHASE", "command")`, e.g. ("INSTALL", "npm ci").')
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Wrong('Give two things: the phase and the command, as ("PHASE", "command").')
    phase, command = (str(a).strip() for a in answer)
    real_phase, real_command = _diagnosis(lab)
    if phase.upper() != real_phase:
        raise Wrong(f"{phase!r} is not the phase that failed. Look for the row whose status is FAILED "
                    "in the phase table (phase names are like PRE_BUILD).")
    if command != real_command:
        raise Wrong(f"{real_phase} is right, but {command!r} is not the command that failed. The phase's "
                    "context message names it: 'Error while executing command: ...'.")
    return f"{real_command} failed in {real_phase}; the log above it says which rule it broke."


def _solve_failed_phase(lab) -> tuple[str, str]:
    return _diagnosis(lab)


EXERCISES = [
    Exercise(
        name="failed_phase", chapter="02",
        task="The build of the `broken` branch failed. Which phase failed, and which command?",
        checker=_check_failed_phase,
        hints=("`phases_table(build)` shows one row per phase with its status and reason.",
               "The reason reads 'Error while executing command: <command>. Reason: exit status 1'."),
        solution_code="""
            build = cb.batch_get_builds(ids=[broken_id])["builds"][0]
            failed = [p for p in build["phases"] if p.get("phaseStatus") == "FAILED"][0]
            message = failed["contexts"][0]["message"]
            answer = (failed["phaseType"], message.split("command: ")[1].split(". Reason")[0])
        """,
        solve=_solve_failed_phase,
    ),
]
