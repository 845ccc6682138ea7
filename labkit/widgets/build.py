"""BuildView: a build's phases with their durations, and the tail of its log."""

from __future__ import annotations

from labkit.services.codebuild import build_log, get_build
from labkit.widgets.base import LiveView, seconds_text


class BuildView(LiveView):
    columns = ("phase", "status", "duration", "reason")

    def __init__(self, lab, build_id: str, log_lines: int = 8, **kwargs):
        super().__init__(lab, **kwargs)
        self.build_id = build_id
        self.log_lines = log_lines
        self._build: dict = {}

    def title(self) -> str:
        return f"Build {self.build_id}: {self._build.get('buildStatus', '')}"

    def rows(self) -> list[dict]:
        self._build = get_build(self.lab, self.build_id)
        rows = []
        for phase in self._build.get("phases", []):
            context = (phase.get("contexts") or [{}])[0]
            rows.append({"phase": phase["phaseType"], "status": phase.get("phaseStatus", "" if phase["phaseType"] == "COMPLETED" else "IN_PROGRESS"),
                         "duration": seconds_text(phase.get("durationInSeconds")),
                         "reason": context.get("message", "")})
        return rows

    def footer(self) -> str:
        if not self.log_lines or not self._build:
            return ""
        return build_log(self.lab, self._build, last=self.log_lines)

    def finished(self) -> bool:
        return bool(get_build(self.lab, self.build_id).get("buildComplete"))
