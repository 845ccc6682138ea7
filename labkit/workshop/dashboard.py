"""The instructor dashboard's buttons: refresh, mark a learner helped, tear down one or all (dry run first).

`InstructorPanel(workshop, connect=...)` shows ipywidgets in JupyterLab; with LABKIT_HEADLESS=1
(papermill, tests) it prints what it offers instead, and its methods can be called directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd
from IPython.display import display

from labkit.workshop.roster import Workshop

ALL = "(all learners)"


def _headless() -> bool:
    return os.environ.get("LABKIT_HEADLESS") == "1"


class InstructorPanel:
    """Buttons over a workshop; `refresh` is called to redraw the tables (the notebook passes one)."""

    def __init__(self, workshop: Workshop, connect: Callable[[], object],
                 refresh: Callable[[], None] | None = None):
        self.workshop = workshop
        self._connect = connect
        self._lab = None
        self._refresh = refresh
        self.planned: tuple[str, ...] | None = None  # what the last dry run covered
        self.last_result: pd.DataFrame | None = None

    @property
    def lab(self):
        if self._lab is None:
            self._lab = self._connect()
        return self._lab

    def ids(self, choice: str) -> list[str]:
        return [learner_.learner_id for learner_ in self.workshop.learners] if choice == ALL else [choice]

    def mark_helped(self, learner_id: str) -> str:
        from labkit.workshop.status import mark_helped

        mark_helped(self.workshop, learner_id)
        return f"{learner_id} marked helped."

    def dry_run(self, choice: str) -> pd.DataFrame:
        from labkit.workshop.commands import teardown_learners

        table, _ = teardown_learners(self.workshop, self.ids(choice), self.lab, dry_run=True)
        self.planned = tuple(self.ids(choice))
        self.last_result = table
        return table

    def teardown(self, choice: str) -> pd.DataFrame:
        """Only after a dry run of the same choice: the button is disabled until then."""
        from labkit.workshop.commands import teardown_learners

        if self.planned != tuple(self.ids(choice)):
            raise RuntimeError(f"Run a dry run of {choice} first: it shows what would be deleted.")
        table, _ = teardown_learners(self.workshop, self.ids(choice), self.lab)
        self.planned = None
        self.last_result = table
        return table

    def show(self) -> None:
        if _headless():
            print("Buttons (in JupyterLab): Refresh · Mark helped <learner> · "
                  "Teardown <learner | all>: Dry run, then Delete")
            return
        import ipywidgets as widgets

        choices = [ALL] + [learner_.learner_id for learner_ in self.workshop.learners]
        learner = widgets.Dropdown(options=choices[1:], description="Learner")
        target = widgets.Dropdown(options=choices, description="Tear down")
        refresh = widgets.Button(description="Refresh", icon="refresh")
        helped = widgets.Button(description="Mark helped", button_style="info")
        dry = widgets.Button(description="Dry run", button_style="warning")
        delete = widgets.Button(description="Delete", button_style="danger", disabled=True)
        out = widgets.Output()

        def run(action):
            def handler(_button):
                out.clear_output()
                with out:
                    try:
                        action()
                    except Exception as exc:  # shown to the instructor, never raised from a click
                        print(f"{type(exc).__name__}: {exc}")
            return handler

        def do_refresh():
            if self._refresh:
                self._refresh()

        def do_helped():
            print(self.mark_helped(learner.value))
            do_refresh()

        def do_dry():
            display(self.dry_run(target.value))
            delete.disabled = False
            delete.description = f"Delete {target.value}"

        def do_delete():
            display(self.teardown(target.value))
            delete.disabled = True
            delete.description = "Delete"

        def target_changed(_change):
            delete.disabled = True  # a new choice needs its own dry run
            delete.description = "Delete"

        refresh.on_click(run(do_refresh))
        helped.on_click(run(do_helped))
        dry.on_click(run(do_dry))
        delete.on_click(run(do_delete))
        target.observe(target_changed, names="value")
        display(widgets.VBox([widgets.HBox([refresh]), widgets.HBox([learner, helped]),
                              widgets.HBox([target, dry, delete]), out]))
