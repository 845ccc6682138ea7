"""Chapter 06's library code and exercises: the request loop and its chart, revisions made from a
built bundle, the traffic-control policy against what the emulator's CodeDeploy checks, the roles
table, and both exercise checkers on real resources (passing on their solution, failing with their
message on wrong answers)."""

from __future__ import annotations

import fnmatch
import io
import json
import zipfile

import pytest
from bundles import emulator_hosts, http_get, wait_until
from conftest import free_port
from course_helpers import lab_on, terminate_lab_instances
from elb_helpers import end, start_backend
from pipeline_helpers import action, declaration, make_bucket, make_role, s3_source, zip_bytes

from labkit.exercises import NotAttempted, Wrong, exercises_of
from labkit.names import course_names
from labkit.services import iam as iam_helpers
from labkit.services import traffic
from labkit.services.sample_app import rebundle, sample_app_dir

# -- the request loop -------------------------------------------------------------------------

def test_request_loop_counts_answers_then_failures_and_charts_them():
    port = free_port()
    backend = start_backend(port, "hello")
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: http_get(url)[0] == 200, 20, "the backend")
        with traffic.RequestLoop(url, pace=0.01) as up:
            wait_until(lambda: up.sent >= 5, 20, "five requests")
    finally:
        end(backend)
    assert up.failed == 0 and up.ok == up.sent >= 5
    assert up.answers == {"hello": up.sent} and not up.failures

    with traffic.RequestLoop(url, pace=0.01, timeout=2) as down:  # nothing listens any more
        wait_until(lambda: down.sent >= 3, 20, "three requests")
    assert down.ok == 0 and down.failed == down.sent >= 3
    assert set(down.failures) == {"ConnectionRefusedError"}, down.failures

    per_second = up.per_second()
    assert list(per_second.columns) == ["ok", "failed"] and per_second["ok"].sum() == up.sent
    assert list(traffic.RequestLoop(url).per_second().columns) == ["ok", "failed"]  # never started
    figure = traffic.requests_chart({"up": up, "down": down})
    assert len(figure.axes) == 2
    assert "0 of" in figure.axes[0].get_title() and f"{down.sent} of {down.sent}" in figure.axes[1].get_title()


# -- revisions made from a built bundle --------------------------------------------------------

def _bundle() -> bytes:
    app = sample_app_dir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as made:
        made.writestr(zipfile.ZipInfo("scripts/"), b"")
        for name, mode in (("package.json", 0o644), ("server.js", 0o644), ("scripts/start_server.sh", 0o755)):
            entry = zipfile.ZipInfo(name)
            entry.external_attr = (0o100000 | mode) << 16
            made.writestr(entry, (app / name).read_bytes())
    return buffer.getvalue()


def _entries(data: bytes) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: ((i.external_attr >> 16) & 0o777, archive.read(i)) for i in archive.infolist()}


def test_rebundle_sets_the_version_switches_a_failure_and_keeps_modes():
    original = _entries(_bundle())
    crashing = _entries(rebundle(_bundle(), version="9.9.9", failure="crash-on-start"))
    assert json.loads(crashing["package.json"][1])["version"] == "9.9.9"
    assert b"DATABASE_URL" in crashing["server.js"][1] and b"DATABASE_URL" not in original["server.js"][1]
    assert crashing["scripts/start_server.sh"] == original["scripts/start_server.sh"]  # same bytes, mode 755
    assert crashing["scripts/start_server.sh"][0] == 0o755 and "scripts/" in crashing

    unhealthy = _entries(rebundle(_bundle(), failure="failing-health"))
    assert unhealthy["FAIL_HEALTH"][0] == 0o644  # a file the switch adds
    assert json.loads(unhealthy["package.json"][1])["version"] == json.loads(original["package.json"][1])["version"]
    with pytest.raises(ValueError, match="Unknown failure switch"):
        rebundle(_bundle(), failure="no-such-switch")


# -- least privilege ---------------------------------------------------------------------------

def _allows(policies: list[dict], action_name: str, resource: str) -> bool:
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] == "Allow" and \
                    any(fnmatch.fnmatchcase(action_name, a) for a in statement["Action"]) and \
                    any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"]):
                return True
    return False


def test_traffic_control_policy_covers_what_codedeploy_does_with_a_target_group():
    from types import SimpleNamespace

    from labkit.emulator.codedeploy.permissions import service_role_actions

    names = course_names(SimpleNamespace(prefix="p6", account_id="123456789012", region="us-east-1"))
    policies = [iam_helpers.codedeploy_policy(names), iam_helpers.traffic_control_policy(names)]
    settings = {"ec2TagFilters": [{"Key": "Name", "Value": names.hosts_tag, "Type": "KEY_AND_VALUE"}],
                "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                "loadBalancerInfo": {"targetGroupInfoList": [{"name": names.target_group}]}}
    needed = service_role_actions(settings, names.region, names.account)
    assert any(a == "elasticloadbalancing:RegisterTargets" for a, _ in needed)
    assert all(_allows(policies, a, r) for a, r in needed), needed
    # ... and no more than that: another target group is out of reach.
    other = names.arn("elasticloadbalancing", "targetgroup/someone-else/0123")
    assert not _allows(policies, "elasticloadbalancing:RegisterTargets", other)
    assert not _allows([iam_helpers.codedeploy_policy(names)], "elasticloadbalancing:RegisterTargets",
                       names.arn("elasticloadbalancing", f"targetgroup/{names.target_group}/0123"))


def test_role_permissions_table_reads_inline_and_managed_policies(emulator):
    with lab_on(emulator) as lab:
        names = course_names(lab)
        iam_helpers.ensure_service_role(lab, names.events_role, "events.amazonaws.com",
                                        iam_helpers.events_policy(names), "test")
        iam_helpers.ensure_service_role(lab, names.codedeploy_role, "codedeploy.amazonaws.com",
                                        iam_helpers.codedeploy_policy(names), "test")
        lab.client("iam").put_role_policy(
            RoleName=names.codedeploy_role, PolicyName=iam_helpers.TRAFFIC_CONTROL_POLICY_NAME,
            PolicyDocument=json.dumps(iam_helpers.traffic_control_policy(names)))
        lab.client("iam").attach_role_policy(RoleName=names.events_role,
                                             PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        table = iam_helpers.role_permissions_table(lab, [names.codedeploy_role, names.events_role])
    assert list(table["policy"]) == ["least-privilege", "traffic-control", "traffic-control",
                                     "least-privilege", "AmazonS3ReadOnlyAccess (managed)"]
    assert set(table["trusts"]) == {"codedeploy.amazonaws.com", "events.amazonaws.com"}
    assert table.iloc[3]["actions"] == "codepipeline:StartPipelineExecution"
    assert table.iloc[2]["resources"].endswith(f"targetgroup/{names.target_group}/*")


# -- the exercises -----------------------------------------------------------------------------

def test_narrowest_statement_passes_its_solution_and_refuses_wider_or_wrong_ones(aws, emulator):
    exercise = exercises_of("06")["narrowest_statement"]
    with lab_on(emulator) as lab:
        names = course_names(lab)
        with pytest.raises(Wrong, match="no AccessDenied"):  # no pipeline at all yet
            exercise.checker(lab, {"Effect": "Allow", "Action": "x:Y", "Resource": "*"})
        assert exercise.solve(lab) is None

        # The course's pipeline name, with a role that may use S3 but not start builds.
        store, source = make_bucket(aws), make_bucket(aws)
        aws("s3").put_object(Bucket=source, Key="source.zip", Body=zip_bytes({"a": "b"}))
        cp = aws("codepipeline")
        cp.create_pipeline(pipeline=declaration(names.pipeline, make_role(aws, actions=["s3:*"]), store, [
            ("Source", [s3_source(source)]),
            ("Build", [action("Build", "Build", "CodeBuild", {"ProjectName": "any-project"},
                              inputs=["SourceOutput"], outputs=["BuildOutput"])])]))
        wait_until(lambda: exercise.solve(lab), 60, "the Build action to be denied")
        project = names.arn("codebuild", "project/any-project")

        right = {"Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": project}
        assert exercise.solve(lab) == right
        assert "exactly codebuild:StartBuild" in exercise.checker(lab, right)
        assert exercise.checker(lab, {**right, "Action": ["codebuild:startbuild"], "Resource": [project]})

        wrong = {
            "an action wildcard": ({**right, "Action": "codebuild:*"}, "wildcard"),
            "another action": ({**right, "Action": "codebuild:BatchGetBuilds"}, "is the action the role lacked"),
            "one action too many": ({**right, "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]},
                                    "Only codebuild:StartBuild was missing"),
            "any resource": ({**right, "Resource": "*"}, "every build project"),
            "another resource": ({**right, "Resource": names.arn("codebuild", "project/other")},
                                 "does not cover the resource"),
            "a deny": ({**right, "Effect": "Deny"}, "must say 'Allow'"),
            "a missing key": ({"Effect": "Allow", "Action": "codebuild:StartBuild"}, "lacks Resource"),
            "not a dict": ("codebuild:StartBuild", "is a dict"),
            "a bad type": ({**right, "Action": 3}, "string or a list of strings"),
        }
        for case, (answer, message) in wrong.items():
            with pytest.raises(Wrong, match=message):
                exercise.checker(lab, answer)
                pytest.fail(f"{case} passed")
        with pytest.raises(NotAttempted):
            exercise.checker(lab, None)
        assert exercise.bind(lab).check(right).passed is True


def test_serving_fleet_passes_the_healthy_targets_only(aws, emulator):
    exercise = exercises_of("06")["serving_fleet"]
    with lab_on(emulator) as lab:
        names = course_names(lab)
        with pytest.raises(Wrong, match="no target group"):
            exercise.checker(lab, ["i-1"])
        elbv2, ec2 = lab.client("elbv2"), lab.client("ec2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
        group = elbv2.create_target_group(Name=names.target_group, Protocol="HTTP", Port=3000, VpcId=vpc,
                                          HealthCheckPath="/", Tags=lab.tags.as_list(),
                                          **traffic.FAST_HEALTH_CHECKS)["TargetGroups"][0]["TargetGroupArn"]
        balancer = elbv2.create_load_balancer(Name=names.load_balancer, Subnets=subnets, Type="application",
                                              Tags=lab.tags.as_list())["LoadBalancers"][0]["LoadBalancerArn"]
        elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
        assert traffic.wait_for_load_balancer(lab, balancer)["State"]["Code"] == "active"
        url = traffic.load_balancer_url(lab, balancer)
        assert url.startswith("http://127.0.0.1:")

        ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2,
                                                          TagSpecifications=[{"ResourceType": "instance",
                                                                              "Tags": lab.tags.as_list()}])["Instances"]]
        hosts = wait_until(lambda: (lambda h: h if all(i in h for i in ids) else None)(emulator_hosts(emulator)),
                           20, "hosts for the instances")
        live, dead = sorted(ids)
        backend = start_backend(hosts[live]["port"], "live")
        try:
            elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": i} for i in ids])
            with pytest.raises(Wrong, match="No target of the target group is healthy"):
                exercise.checker(lab, [live])  # both still in their first health checks
            table = traffic.wait_for_healthy_targets(lab, group, [live])
            assert list(table["target"]) == [live] and list(table["state"]) == ["healthy"]
            assert exercise.solve(lab) == [live]
            assert "these 1 instances" in exercise.checker(lab, [live])
            assert exercise.checker(lab, live)  # one id as a string
            with pytest.raises(Wrong, match="get no traffic"):
                exercise.checker(lab, [live, dead])
            with pytest.raises(Wrong, match="more healthy target"):
                exercise.checker(lab, [])
            with pytest.raises(NotAttempted):
                exercise.checker(lab, None)
            states = traffic.target_health_table(lab, group).set_index("target")["state"].to_dict()
            assert states[live] == "healthy" and states[dead] in ("initial", "unhealthy")
            assert http_get(url + "/") == (200, "live")
        finally:
            end(backend)
            elbv2.delete_load_balancer(LoadBalancerArn=balancer)
            terminate_lab_instances(lab)
