"""lab.ensure(chapter) builds what earlier chapters leave, and a second call changes nothing."""

from __future__ import annotations

import shutil

import pytest
from course_helpers import lab_on, terminate_lab_instances

from labkit.ensure import STEPS
from labkit.names import course_names
from labkit.services import codebuild

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="the catch-up build needs npm")


def test_unknown_chapter_is_refused_clearly(emulator):
    with lab_on(emulator) as lab, pytest.raises(ValueError, match="Unknown chapter '99'"):
        lab.ensure("99")


def test_every_chapter_is_idempotent_and_later_chapters_find_their_resources(emulator):
    with lab_on(emulator) as lab:
        try:
            names = course_names(lab)
            assert list(lab.ensure("00")["step"]) == []
            assert list(lab.ensure("01")["step"]) == []
            first = lab.ensure("02")
            assert list(first["result"]) == ["created"]
            assert set(lab.ensure("02")["result"]) == {"exists"}

            fleet = lab.ensure("04")
            assert dict(zip(fleet["step"], fleet["result"], strict=True))["repository with app"] == "exists"
            assert "created" in set(fleet["result"])
            again = lab.ensure("04")
            assert set(again["result"]) == {"exists"}, again

            built = lab.ensure("03")
            assert dict(zip(built["step"], built["result"], strict=True))["successful build"] == "created"
            assert set(lab.ensure("03")["result"]) == {"exists"}
            assert len(STEPS["03"]) == len(built)

            build = codebuild.latest_build(lab, names.build_project, status="SUCCEEDED")
            assert build["artifacts"]["location"].endswith(f"{names.artifact_bucket}/builds/my-app.zip")
            group = lab.client("codedeploy").get_deployment_group(
                applicationName=names.codedeploy_app, deploymentGroupName=names.deployment_group)
            assert group["deploymentGroupInfo"]["ec2TagFilters"][0]["Value"] == names.hosts_tag
            s3 = lab.client("s3")
            assert s3.get_bucket_versioning(Bucket=names.artifact_bucket)["Status"] == "Enabled"
            running = lab.client("ec2").describe_instances(Filters=[
                {"Name": "tag:Name", "Values": [names.hosts_tag]},
                {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
            assert sum(len(r["Instances"]) for r in running) == 3

            part_two = lab.ensure("05")
            made = dict(zip(part_two["step"], part_two["result"], strict=True))
            assert made["pipeline"] == made["source rule"] == "created"
            assert made["build project"] == "exists"
            assert set(lab.ensure("06")["result"]) == {"exists"}
            executions = lab.client("codepipeline").list_pipeline_executions(
                pipelineName=names.pipeline)["pipelineExecutionSummaries"]
            assert [e["status"] for e in executions] == ["Succeeded"]
            assert lab.client("events").list_targets_by_rule(Rule=names.source_rule)["Targets"][0]["Arn"] \
                == names.arn("codepipeline", names.pipeline)
        finally:
            terminate_lab_instances(lab)
