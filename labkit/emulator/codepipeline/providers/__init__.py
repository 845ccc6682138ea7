"""Action providers: the code that really runs each kind of pipeline action."""

from __future__ import annotations

from collections.abc import Callable

from labkit.emulator.codepipeline.context import ActionContext, ActionFailed
from labkit.emulator.codepipeline.providers import approval, build, cloudformation, deploy, source

Provider = Callable[[ActionContext], None]

PROVIDERS: dict[tuple[str, str], Provider] = {
    ("Source", "CodeCommit"): source.codecommit,
    ("Source", "S3"): source.s3,
    ("Build", "CodeBuild"): build.codebuild,
    ("Test", "CodeBuild"): build.codebuild,
    ("Deploy", "CodeDeploy"): deploy.codedeploy,
    ("Deploy", "S3"): deploy.s3,
    ("Deploy", "CloudFormation"): cloudformation.cloudformation,
    ("Approval", "Manual"): approval.manual,
}


def find(type_id: dict) -> Provider:
    provider = PROVIDERS.get((type_id["category"], type_id["provider"]))
    if provider is None:
        return _not_emulated(type_id)
    return provider


def _not_emulated(type_id: dict) -> Provider:
    def fail(_ctx: ActionContext) -> None:
        raise ActionFailed(
            f"labkit's emulator does not run {type_id['category']} actions of provider "
            f"{type_id['provider']} ({type_id['owner']}). Emulated providers: "
            + ", ".join(f"{c}/{p}" for c, p in PROVIDERS) + ".")

    return fail
