"""Live views of pipelines, builds, deployments and approvals (plain text when LABKIT_HEADLESS=1)."""

from labkit.widgets.approval import ApprovalPanel
from labkit.widgets.build import BuildView
from labkit.widgets.cost_calculator import CostCalculator
from labkit.widgets.deployment import DeploymentView
from labkit.widgets.pipeline import PipelineView

__all__ = ["ApprovalPanel", "BuildView", "CostCalculator", "DeploymentView", "PipelineView"]
