"""DeploymentView: hosts × lifecycle events of one deployment, with status colours."""

from __future__ import annotations

from labkit.services.codedeploy import FINAL, lifecycle_table
from labkit.widgets.base import LiveView

EVENTS = ("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
          "ApplicationStart", "ValidateService")


class DeploymentView(LiveView):
    columns = ("host", *EVENTS)

    def __init__(self, lab, deployment_id: str, **kwargs):
        super().__init__(lab, **kwargs)
        self.deployment_id = deployment_id
        self._status = ""

    def title(self) -> str:
        return f"Deployment {self.deployment_id}: {self._status}"

    def rows(self) -> list[dict]:
        self._status = self.lab.client("codedeploy").get_deployment(
            deploymentId=self.deployment_id)["deploymentInfo"]["status"]
        table = lifecycle_table(self.lab, self.deployment_id)
        rows: dict[str, dict] = {}
        for record in table.to_dict("records"):
            rows.setdefault(record["host"], {"host": record["host"]})[record["event"]] = record["status"]
        return [rows[h] for h in sorted(rows)]

    def refresh(self) -> str:
        value = super().refresh()
        # Every event column holds a status: colour them all, not only a column named "status".
        from labkit.widgets.base import badge

        for status in {s for r in self._last_rows for k, s in r.items() if k != "host"}:
            value = value.replace(f"<td>{status}</td>", f"<td>{badge(status)}</td>")
        self.html.value = value
        return value

    def finished(self) -> bool:
        info = self.lab.client("codedeploy").get_deployment(deploymentId=self.deployment_id)["deploymentInfo"]
        return info["status"] in FINAL
