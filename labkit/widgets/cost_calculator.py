"""A cost calculator: sliders for builds, minutes, compute type, pipelines and deployments that
update the projected monthly cost table and bar chart live (plain text when headless)."""

from __future__ import annotations

import io
import os

from labkit import prices
from labkit.observe.costs import monthly_projection

COMPUTE_TYPES = ["general1.small", "arm1.small", "general1.medium", "general1.large"]


def _headless() -> bool:
    return os.environ.get("LABKIT_HEADLESS") == "1"


def projection_chart(frame):
    """Bars of the monthly cost per service, with and without the free tier."""
    from matplotlib.figure import Figure

    per_service = (
        frame[frame["service"] != "Total"]
        .groupby("service")[["cost_without_free_tier", "cost_with_free_tier"]]
        .sum()
    )
    figure = Figure(figsize=(7, 3.2))
    ax = figure.add_subplot()
    positions = range(len(per_service))
    ax.bar(
        [p - 0.2 for p in positions],
        per_service["cost_without_free_tier"],
        width=0.4,
        label="without free tier",
    )
    ax.bar(
        [p + 0.2 for p in positions],
        per_service["cost_with_free_tier"],
        width=0.4,
        label="with free tier",
    )
    ax.set_xticks(list(positions), per_service.index, rotation=15, fontsize="small")
    ax.set_title("Projected monthly cost per service")
    ax.set_xlabel("service")
    ax.set_ylabel("cost (USD per month)")
    ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


class CostCalculator:
    """`CostCalculator().show()` in a notebook; `.projection()` gives the current frame."""

    def __init__(
        self,
        builds_per_month: int = 100,
        minutes_per_build: float = 5,
        compute_type: str = "general1.small",
        pipelines: int = 1,
        pipeline_type: str = "V1",
        deployments: int = 50,
    ):
        self.settings = {
            "builds_per_month": builds_per_month,
            "minutes_per_build": minutes_per_build,
            "compute_type": compute_type,
            "pipelines": pipelines,
            "pipeline_type": pipeline_type,
            "deployments": deployments,
        }
        self._widget = None

    def projection(self):
        return monthly_projection(**self.settings)

    def text(self) -> str:
        frame = self.projection()
        table = frame[
            ["service", "usage_type", "quantity", "cost_without_free_tier", "cost_with_free_tier"]
        ].to_string(index=False, float_format=lambda v: f"{v:,.4f}")
        settings = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"Monthly projection ({settings}; prices read {prices.DATE_READ})\n{table}"

    def update(self, **changes) -> None:
        self.settings.update(changes)
        if self._widget is not None:
            self._refresh()

    def widget(self):
        """The ipywidgets box: sliders and dropdowns on the left, table and chart below."""
        import ipywidgets as w

        s = self.settings
        self.controls = {
            "builds_per_month": w.IntSlider(
                value=s["builds_per_month"], min=0, max=2000, step=10, description="builds/month"
            ),
            "minutes_per_build": w.FloatSlider(
                value=s["minutes_per_build"], min=0.5, max=60, step=0.5, description="min/build"
            ),
            "compute_type": w.Dropdown(
                options=COMPUTE_TYPES, value=s["compute_type"], description="compute"
            ),
            "pipelines": w.IntSlider(value=s["pipelines"], min=0, max=20, description="pipelines"),
            "pipeline_type": w.ToggleButtons(
                options=["V1", "V2"], value=s["pipeline_type"], description="type"
            ),
            "deployments": w.IntSlider(
                value=s["deployments"], min=0, max=1000, step=5, description="deployments"
            ),
        }
        self.table = w.HTML()
        self.chart = w.Image(format="png")
        for name, control in self.controls.items():
            control.observe(
                lambda change, name=name: self.update(**{name: change["new"]}), names="value"
            )
        self._widget = w.VBox(
            [w.HBox([w.VBox(list(self.controls.values()))]), self.table, self.chart]
        )
        self._refresh()
        return self._widget

    def _refresh(self) -> None:
        frame = self.projection()
        self.table.value = frame.to_html(index=False, float_format=lambda v: f"{v:,.4f}", na_rep="")
        buffer = io.BytesIO()
        projection_chart(frame).savefig(buffer, format="png", dpi=90)
        self.chart.value = buffer.getvalue()

    def show(self):
        """The live widget in JupyterLab; the table as text when headless (papermill, nbval)."""
        if _headless():
            print(self.text())
            return None
        from IPython.display import display

        display(self.widget())
        return None
