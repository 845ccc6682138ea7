"""Progress for every wait: a live bar in notebooks and terminals, one plain line when headless."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def headless() -> bool:
    """True under papermill, nbval and `labkit run` (LABKIT_HEADLESS=1): outputs must not vary."""
    return os.environ.get("LABKIT_HEADLESS") == "1"


class Progress:
    """`with Progress(total, "build") as bar: bar.update(n, "BUILD")` then `bar.done("SUCCEEDED")`."""

    def __init__(self, total: int, description: str, unit: str = "step"):
        self.description = description
        self._bar = None
        if not headless():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=unit, leave=True)

    def update(self, position: int, status: str = "") -> None:
        if self._bar is None:
            return
        self._bar.n = min(position, self._bar.total)
        self._bar.set_postfix_str(status, refresh=False)
        self._bar.refresh()

    def done(self, message: str) -> None:
        if self._bar is not None:
            self._bar.n = self._bar.total
            self._bar.set_postfix_str(message)
            self._bar.close()
            self._bar = None
        else:
            print(f"{self.description}: {message}")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()


class WaitTimedOut(TimeoutError):
    pass


def poll(check: Callable[[], object], timeout: float, interval: float = 0.5,
         what: str = "the operation", last_state: Callable[[], str] | None = None) -> object:
    """Call `check` until it returns something truthy; raise WaitTimedOut after `timeout` s,
    naming `what` and, when `last_state` is given, the state it was last seen in."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            seen = f" It was last seen {last_state()}." if last_state else ""
            raise WaitTimedOut(f"Gave up waiting for {what} after {timeout:.0f} s.{seen}")
        time.sleep(interval)
