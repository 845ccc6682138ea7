"""Chapter 10: resources counted per type teardown looks for (a dry run's numbers, then zeros),
the exercise checked against a fresh scan, and the runner treating the chapter as the tear-down."""

from __future__ import annotations

import json
from pathlib import Path

from course_helpers import lab_on

from labkit.exercises import exercises_of
from labkit.runner import is_teardown_chapter
from labkit.teardown import FINDERS, summary, teardown

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "10-teardown.ipynb"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def make_some(lab) -> None:
    """Two build projects (with their role), a bucket and a parameter, tagged as the course does."""
    iam, codebuild = lab.client("iam"), lab.client("codebuild")
    role = iam.create_role(RoleName=lab.name("build-role"), AssumeRolePolicyDocument=TRUST,
                           Tags=lab.tags.as_list())["Role"]["Arn"]
    for name in ("one", "two"):
        codebuild.create_project(
            name=lab.name(name), source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {}\n"},
            artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL"},
            tags=lab.tags.as_list(key="key", value="value"))
    lab.client("s3").create_bucket(Bucket=lab.name("notes"))
    lab.client("ssm").put_parameter(Name=f"/{lab.prefix}/note", Value="x", Type="String",
                                    Tags=lab.tags.as_list())


def test_the_notebook_is_the_runners_tear_down_chapter():
    assert is_teardown_chapter(NOTEBOOK)


def test_an_empty_lab_counts_zero_of_every_type(emulator):
    with lab_on(emulator) as lab:
        counts = summary.count_by_type(lab)
    assert list(counts["type"]) == summary.resource_types() and len(counts) == len(FINDERS)
    assert (counts["found"] == 0).all() and (counts["names"] == "").all()


def test_counts_the_dry_run_then_zero_after_teardown_and_the_exercise_follows(emulator):
    exercise = exercises_of("10")["projects_to_delete"]
    with lab_on(emulator) as lab:
        make_some(lab)
        ex = exercise.bind(lab)
        plan = teardown(lab, dry_run=True)
        assert sum(r.resource.startswith("codebuild project ") for r in plan.rows) == 2
        counts = summary.count_by_type(lab).set_index("type")
        assert counts.loc["build projects", "found"] == 2
        assert counts.loc["roles", "found"] == 1 and counts.loc["buckets", "found"] == 1
        assert counts.loc["parameters", "found"] == 1
        assert counts.loc["build projects", "names"] == f"{lab.name('one')}, {lab.name('two')}"

        assert ex.check(None).passed is None
        assert ex.solve() == 2
        assert ex.check(2).passed and ex.check("2").passed
        wrong = ex.check(3)
        assert wrong.passed is False and "Not 3" in wrong.message and "codebuild project" in wrong.message
        assert ex.check(2.5).passed is False and ex.check("two").passed is False

        report = teardown(lab)
        assert report.ok, report.summary()
        after = summary.count_by_type(lab)
        assert (after["found"] == 0).all(), after[after["found"] > 0]
        assert summary.local_leftovers(lab) == {"hosts": 0, "processes on them": 0,
                                                "load balancer proxies": 0}
        gone = ex.check(2)
        assert gone.passed is False and "torn down already" in gone.message
        assert ex.check(0).passed


def test_another_labs_resources_are_not_counted(emulator):
    with lab_on(emulator) as mine, lab_on(emulator) as other:
        make_some(other)
        try:
            assert (summary.count_by_type(mine)["found"] == 0).all()
        finally:
            assert teardown(other).ok


def test_local_leftovers_sees_a_host_and_a_load_balancer_until_teardown(emulator):
    from labkit.services.hosts import launch_instances

    with lab_on(emulator) as lab:
        launch_instances(lab, 1, name="web")
        elb, ec2 = lab.client("elbv2"), lab.client("ec2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
        group = elb.create_target_group(Name=lab.name("tg"), Protocol="HTTP", Port=3000, VpcId=vpc,
                                        Tags=lab.tags.as_list())["TargetGroups"][0]["TargetGroupArn"]
        balancer = elb.create_load_balancer(Name=lab.name("alb"), Subnets=subnets, Scheme="internal",
                                            Tags=lab.tags.as_list())["LoadBalancers"][0]
        elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
        before = summary.local_leftovers(lab)
        assert before == {"hosts": 1, "processes on them": 0, "load balancer proxies": 1}
        assert teardown(lab).ok
        assert summary.local_leftovers(lab) == {"hosts": 0, "processes on them": 0,
                                                "load balancer proxies": 0}
