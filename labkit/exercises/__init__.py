"""Exercises with check(), hint() and solution(); every checked attempt is recorded for the workshop.

A chapter module defines its exercises with `Exercise(...)`; a notebook binds them to its lab:

    ex = labkit.exercises.for_chapter("02", lab)
    ex.failed_phase.check(answer)     # inspects the real resources, says what is wrong
    ex.failed_phase.hint()
    ex.failed_phase.solution()
"""

from __future__ import annotations

import importlib
import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

DEFAULT_LEARNER = "me"


class NotAttempted(Exception):
    """Raised by a checker when the learner has not answered yet (nothing is recorded)."""


class Wrong(Exception):
    """Raised by a checker with a kind, precise message saying what is wrong."""


@dataclass
class Result:
    passed: bool | None  # None: not attempted yet
    message: str

    def __bool__(self) -> bool:
        return bool(self.passed)

    def _ipython_display_(self) -> None:
        pass  # check() has printed the message already; a notebook shows it once


@dataclass(frozen=True)
class Exercise:
    """One exercise: `checker(lab, answer)` returns a success message or raises Wrong/NotAttempted;
    `solve(lab)` does what the solution shows and returns the answer to check."""

    name: str
    chapter: str
    task: str
    checker: Callable
    hints: tuple[str, ...]
    solution_code: str
    solve: Callable

    def bind(self, lab) -> BoundExercise:
        return BoundExercise(self, lab)


def learner_name(lab=None) -> str:
    """`LABKIT_LEARNER`, else labkit.toml's learner_id, else 'me'."""
    configured = getattr(getattr(lab, "config", None), "learner_id", None)
    return os.environ.get("LABKIT_LEARNER") or configured or DEFAULT_LEARNER


def progress_file(state_dir: Path, learner: str) -> Path:
    return Path(state_dir) / "progress" / f"{learner}.jsonl"


def read_progress(state_dir: Path, learner: str) -> list[dict]:
    path = progress_file(state_dir, learner)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _store_record(lab, record: dict) -> None:
    """On this machine (`<state_dir>/progress/`) and, when configured, in the workshop's store
    (labkit.workshop.progress: a shared folder or an S3 bucket, one object per learner)."""
    from labkit.workshop.progress import record_progress

    record_progress(lab, record)


class BoundExercise:
    """An exercise tied to a lab: the methods a learner calls."""

    def __init__(self, exercise: Exercise, lab):
        self.exercise = exercise
        self.lab = lab

    def check(self, answer=None) -> Result:
        """Inspect the real resources (and `answer`), print a verdict, record the attempt; never raise."""
        try:
            message = self.exercise.checker(self.lab, answer)
            result = Result(True, f"Correct: {message}" if message else "Correct!")
        except NotAttempted as exc:
            result = Result(None, f"Not attempted yet. {exc}".strip())
        except Wrong as exc:
            result = Result(False, f"Not yet: {exc}")
        if result.passed is not None:
            self._record(result.passed)
        print(result.message)
        return result

    def hint(self, number: int = 1) -> None:
        hints = self.exercise.hints
        index = max(1, min(number, len(hints)))
        more = f" (hint({index + 1}) for another)" if index < len(hints) else ""
        print(f"Hint {index} of {len(hints)}{more}: {hints[index - 1]}")

    def solution(self) -> None:
        print(textwrap.dedent(self.exercise.solution_code).strip())

    def solve(self):
        """Do what the solution does (test runs use this through SOLVE_EXERCISES) and return the answer."""
        return self.exercise.solve(self.lab)

    def task(self) -> None:
        print(self.exercise.task)

    def _record(self, passed: bool) -> None:
        learner = learner_name(self.lab)
        earlier = [r for r in read_progress(self.lab.state_dir, learner)
                   if r.get("chapter") == self.exercise.chapter and r.get("exercise") == self.exercise.name]
        record = {"learner": learner, "chapter": self.exercise.chapter, "exercise": self.exercise.name,
                  "passed": passed, "attempts": len(earlier) + 1,
                  "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _store_record(self.lab, record)

    def __repr__(self) -> str:
        return f"<exercise {self.exercise.chapter}/{self.exercise.name}: .check() .hint() .solution()>"


def exercises_of(chapter: str) -> dict[str, Exercise]:
    """The chapter's exercises by name (module labkit.exercises.chNN)."""
    chapter = str(chapter).zfill(2)[:2]
    try:
        module = importlib.import_module(f"labkit.exercises.ch{chapter}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"Chapter {chapter!r} has no exercises (no module labkit.exercises.ch{chapter}).") from exc
    return {e.name: e for e in module.EXERCISES}


def finish_chapter(lab, chapter: str) -> None:
    """A chapter's last cell: record that the learner reached the end (the workshop dashboard reads it)."""
    chapter = str(chapter).zfill(2)[:2]
    learner = learner_name(lab)
    record = {"learner": learner, "chapter": chapter, "event": "chapter-finished",
              "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _store_record(lab, record)
    print(f"Chapter {chapter} finished.")


def for_chapter(chapter: str, lab) -> SimpleNamespace:
    """`ex.<name>` for each exercise of the chapter, bound to `lab`."""
    return SimpleNamespace(**{name: e.bind(lab) for name, e in exercises_of(chapter).items()})
