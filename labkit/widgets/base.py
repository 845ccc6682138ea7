"""LiveView: an ipywidgets view refreshed by a background thread; plain text, synchronously, when headless."""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets
from IPython.display import display

from labkit.progress import headless, poll

STATUS_COLOURS = {  # one colour per family of states, across the three services
    "Succeeded": "#2e7d32", "SUCCEEDED": "#2e7d32", "InProgress": "#1565c0", "IN_PROGRESS": "#1565c0",
    "Failed": "#c62828", "FAILED": "#c62828", "FAULT": "#c62828", "TIMED_OUT": "#c62828",
    "Stopped": "#6d4c41", "STOPPED": "#6d4c41", "Skipped": "#9e9e9e", "Pending": "#9e9e9e",
    "Superseded": "#9e9e9e", "Cancelled": "#9e9e9e", "Abandoned": "#9e9e9e",
}


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#616161")
    return (f'<span style="background:{colour};color:white;padding:1px 6px;border-radius:3px">'
            f"{html.escape(status or '—')}</span>")


def seconds_text(seconds) -> str:
    """Durations as 'N s', a form the notebooks' sanitizer recognises."""
    return "" if seconds is None else f"{round(seconds)} s"


class LiveView:
    """Subclasses give `rows()` (list of dicts), `title()`, and `finished()`; the rest is shared."""

    columns: tuple[str, ...] = ()
    interval = 1.0

    def __init__(self, lab, timeout: float = 1800):
        self.lab = lab
        self.timeout = timeout
        self.html = widgets.HTML()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.widget = widgets.VBox([self.html, self.refresh_button])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # what subclasses provide
    def title(self) -> str:
        raise NotImplementedError

    def rows(self) -> list[dict]:
        raise NotImplementedError

    def finished(self) -> bool:
        return True

    def footer(self) -> str:
        return ""

    # shared behaviour
    def refresh(self) -> str:
        """Read the current state from the API and redraw; returns the HTML."""
        rows = self.rows()
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{badge(r.get(c, '')) if c == 'status' else html.escape(str(r.get(c, '')))}</td>"
                             for c in self.columns) + "</tr>" for r in rows)
        footer = self.footer()
        self.html.value = (f"<b>{html.escape(self.title())}</b><table>{'<tr>' + head + '</tr>'}{body}</table>"
                           + (f"<pre>{html.escape(footer)}</pre>" if footer else ""))
        self._last_rows = rows
        return self.html.value

    def text(self) -> str:
        """The same content as plain text (used when headless)."""
        rows = getattr(self, "_last_rows", None) or self.rows()
        widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in self.columns}
        lines = [self.title(), "  ".join(c.ljust(widths[c]) for c in self.columns)]
        lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in self.columns).rstrip() for r in rows]
        footer = self.footer()
        return "\n".join(lines + ([footer] if footer else []))

    def show(self):
        """Live: display and keep refreshing in the background. Headless: wait until done, print text."""
        if headless():
            poll(self.finished, self.timeout, what=self.title())
            self.refresh()
            print(self.text())
            return None
        self.refresh()
        display(self.widget)
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return None

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
                if self.finished():
                    return
            except Exception as exc:  # a transient API error should not kill the view
                self.html.value += f"<p>refresh failed: {html.escape(str(exc))}</p>"
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
