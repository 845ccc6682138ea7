"""ApprovalPanel: Approve or Reject a waiting manual approval with a comment (PutApprovalResult)."""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display


class ApprovalPanel:
    """Buttons for one approval action; `panel.result` holds PutApprovalResult's answer once clicked."""

    def __init__(self, lab, pipeline: str, stage: str, action: str, token: str):
        self.lab, self.pipeline, self.stage, self.action, self.token = lab, pipeline, stage, action, token
        self.comment = widgets.Textarea(placeholder="Why you approve or reject", description="Comment")
        self.approve_button = widgets.Button(description="Approve", button_style="success")
        self.reject_button = widgets.Button(description="Reject", button_style="danger")
        self.message = widgets.HTML()
        self.approve_button.on_click(lambda _b: self.decide("Approved"))
        self.reject_button.on_click(lambda _b: self.decide("Rejected"))
        self.widget = widgets.VBox([widgets.HTML(f"<b>{stage}/{action}</b> in {pipeline} waits for a decision"),
                                    self.comment, widgets.HBox([self.approve_button, self.reject_button]),
                                    self.message])
        self.result: dict | None = None

    def decide(self, status: str) -> dict | None:
        """Send the decision; the summary is the comment (AWS requires one, so a default is used)."""
        summary = self.comment.value.strip() or f"{status} in the labkit notebook"
        client = self.lab.client("codepipeline")
        try:
            self.result = client.put_approval_result(
                pipelineName=self.pipeline, stageName=self.stage, actionName=self.action,
                result={"summary": summary, "status": status}, token=self.token)
        except client.exceptions.ClientError as exc:
            self.message.value = f"Could not record the decision: {exc.response['Error']['Message']}"
            return None
        self.approve_button.disabled = self.reject_button.disabled = True
        self.message.value = f"{status}: {summary}"
        return self.result

    def show(self) -> None:
        display(self.widget)
