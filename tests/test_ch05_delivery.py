"""Chapter 05: the release pipeline's definition, the scan's verdicts, the approval helpers and the exercises."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest
import yaml

from labkit.names import CourseNames
from labkit.services import release

NAMES = CourseNames("t05", "123456789012", "us-east-1")
TOPIC = NAMES.arn("sns", NAMES.approval_topic)


def assert_verdict(exercise, answer, passed, text: str) -> None:
    """check() prints and returns a Result (it never raises): its verdict and message."""
    result = exercise.check(answer)
    assert result.passed is passed and text in result.message, result.message


def stage(definition: dict, name: str) -> dict:
    return next(s for s in definition["stages"] if s["name"] == name)


# --- the definition -----------------------------------------------------------------------------

def test_build_stage_runs_build_and_scan_side_by_side_then_the_smoke_test():
    build = stage(release.release_pipeline_definition(NAMES, "arn:role", TOPIC), "Build")
    orders = {a["name"]: a["runOrder"] for a in build["actions"]}
    assert orders == {"Build": 1, "SecurityScan": 1, "SmokeTest": 2}
    smoke = next(a for a in build["actions"] if a["name"] == "SmokeTest")
    assert smoke["inputArtifacts"] == [{"name": "BuildOutput"}]


def test_every_environment_has_its_own_group_and_parameter():
    definition = release.release_pipeline_definition(NAMES, "arn:role", TOPIC)
    assert [s["name"] for s in definition["stages"]] == ["Source", "Build", "Dev", "Staging", "Prod"]
    assert definition["pipelineType"] == "V2"
    groups = {}
    for env in ("Dev", "Staging", "Prod"):
        deploy = next(a for a in stage(definition, env)["actions"] if a["name"] == "Deploy")
        groups[env] = deploy["configuration"]["DeploymentGroupName"]
    assert groups == {"Dev": "t05-my-app-dev", "Staging": "t05-my-app-staging", "Prod": "t05-my-app-prod"}
    for env in ("staging", "prod"):
        configure = next(a for a in stage(definition, env.capitalize())["actions"] if a["name"] == "Configure")
        variables = json.loads(configure["configuration"]["EnvironmentVariables"])
        assert {"name": "LOG_LEVEL", "value": f"/my-app/{env}/log-level", "type": "PARAMETER_STORE"} in variables
        assert configure["outputArtifacts"] == [{"name": f"{env.capitalize()}Bundle"}]


def test_approvals_come_first_in_their_stage_and_can_be_removed():
    gated = release.release_pipeline_definition(NAMES, "arn:role", TOPIC, approvals=("staging", "prod"))
    for env in ("Staging", "Prod"):
        first = stage(gated, env)["actions"][0]
        assert (first["name"], first["runOrder"], first["actionTypeId"]["provider"]) == ("Approve", 1, "Manual")
        assert first["configuration"]["NotificationArn"] == TOPIC
        assert [a["runOrder"] for a in stage(gated, env)["actions"]] == [1, 2, 3]
    continuous = release.release_pipeline_definition(NAMES, "arn:role", TOPIC, approvals=())
    assert not [a for s in continuous["stages"] for a in s["actions"] if a["actionTypeId"]["category"] == "Approval"]
    only_prod = release.release_pipeline_definition(NAMES, "arn:role", TOPIC, approvals=("prod",))
    assert [a["name"] for a in stage(only_prod, "Staging")["actions"]] == ["Configure", "Deploy"]
    assert stage(only_prod, "Prod")["actions"][0]["name"] == "Approve"


def test_the_roles_may_do_what_the_pipeline_needs_and_no_more():
    pipeline_policy = json.dumps(release.release_pipeline_policy(NAMES))
    for needed in ("sns:Publish", "deploymentgroup:t05-my-app/t05-my-app-prod",
                   "project/t05-my-app-scan", "project/t05-my-app-pipeline-build"):
        assert needed in pipeline_policy
    build_policy = release.release_build_policy(NAMES)
    ssm = next(s for s in build_policy["Statement"] if s["Action"] == ["ssm:GetParameters"])
    assert ssm["Resource"] == [NAMES.arn("ssm", "parameter/my-app/staging/*"),
                               NAMES.arn("ssm", "parameter/my-app/prod/*")]


def test_stages_table_lists_each_action_with_its_run_order():
    table = release.stages_table(release.release_pipeline_definition(NAMES, "arn:role", TOPIC))
    build = table[table.stage == "Build"]
    assert list(build.runOrder) == [1, 1, 2]


# --- the scan's verdict -------------------------------------------------------------------------

def _verdict(tmp_path, audit: dict | str) -> dict:
    """Run the scan buildspec's summarising command on an `npm audit --json` answer."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    commands = yaml.safe_load(release.SCAN_BUILDSPEC)["phases"]["build"]["commands"]
    summarise = next(c for c in commands if c.lstrip().startswith("node -e"))
    (tmp_path / "audit.json").write_text(audit if isinstance(audit, str) else json.dumps(audit))
    subprocess.run(["bash", "-c", summarise], cwd=tmp_path, check=True)
    done = subprocess.run(["bash", "-c", "source scan.env; echo \"$SCAN_RESULT|$SCAN_DETAIL\""],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    result, detail = done.stdout.strip().split("|", 1)
    return {"result": result, "detail": detail}


def test_scan_says_clean_findings_or_unavailable(tmp_path):
    counts = {"info": 0, "low": 1, "moderate": 2, "high": 0, "critical": 0, "total": 3}
    assert _verdict(tmp_path, {"metadata": {"vulnerabilities": counts}})["result"] == "clean"
    found = _verdict(tmp_path, {"metadata": {"vulnerabilities": {**counts, "high": 2}}})
    assert found == {"result": "findings", "detail": "critical 0, high 2, moderate 2, low 1"}
    offline = _verdict(tmp_path, {"error": {"code": "ENOTFOUND", "summary": "getaddrinfo ENOTFOUND registry.npmjs.org"}})
    assert offline["result"] == "unavailable" and "ENOTFOUND" in offline["detail"]
    refused = _verdict(tmp_path, {"message": "405 Method Not Allowed - POST https://registry/-/npm/v1/security/advisories/bulk"})
    assert refused["result"] == "unavailable" and refused["detail"].startswith("405")
    assert _verdict(tmp_path, "not json at all")["result"] == "unavailable"


def test_scan_blocks_findings_only_in_block_mode(tmp_path):
    commands = yaml.safe_load(release.SCAN_BUILDSPEC)["phases"]["build"]["commands"]
    gate = commands[-1]
    for result, mode, code in (("findings", "block", 1), ("findings", "report", 0),
                               ("unavailable", "block", 0), ("clean", "block", 0)):
        done = subprocess.run(["bash", "-c", gate], cwd=tmp_path, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "SCAN_RESULT": result, "SCAN_MODE": mode})
        assert done.returncode == code, (result, mode, done.stdout, done.stderr)
        if result == "unavailable":
            assert "skipped (not a pass)" in done.stdout


# --- the approval helpers -----------------------------------------------------------------------

def test_notification_table_compares_the_token_without_printing_it():
    message = {"Subject": "APPROVAL NEEDED: AWS CodePipeline p for action Approve",
               "Message": {"region": "us-east-1", "approval": {
                   "pipelineName": "p", "stageName": "Prod", "actionName": "Approve", "token": "tok-1",
                   "customData": "check", "approvalReviewLink": "https://x/approve/tok-1"}}}
    table = release.notification_table(message, "tok-1").set_index("field")["value"]
    assert table["approval.token"] == "the token GetPipelineState shows"
    assert "tok-1" not in " ".join(str(v) for v in table.values)
    assert release.notification_table(message, "other").set_index("field")["value"]["approval.token"] \
        == "a different token!"


class FakePanel:
    def __init__(self, result=None):
        self.result, self.stage, self.action = result, "Prod", "Approve"
        self.message = SimpleNamespace(value="")
        self.decided = []

    def decide(self, status):
        self.decided.append(status)
        self.message.value = f"{status}: by the test"
        self.result = {"approvedAt": "now"}
        return self.result


def test_decide_unless_clicked_keeps_a_click_decides_when_automatic_and_waits_otherwise(capsys):
    clicked = FakePanel(result={"approvedAt": "then"})
    assert release.decide_unless_clicked(clicked, "Rejected") == {"approvedAt": "then"}
    assert clicked.decided == []
    automatic = FakePanel()
    release.decide_unless_clicked(automatic, "Rejected")
    assert automatic.decided == ["Rejected"]
    waiting = FakePanel()
    assert release.decide_unless_clicked(waiting, "Approved", automatic=False) is None
    assert waiting.decided == [] and "click Approve or Reject" in capsys.readouterr().out


def test_automatic_decisions_when_headless_or_solving(monkeypatch):
    monkeypatch.setenv("LABKIT_HEADLESS", "1")
    assert release.automatic_decisions(False)
    monkeypatch.setenv("LABKIT_HEADLESS", "0")
    assert not release.automatic_decisions(False)
    assert release.automatic_decisions(True)


def test_overlap_table_names_what_ran_alongside():
    import pandas as pd

    runs = pd.DataFrame([{"action": "Build", "status": "Succeeded", "start": 0.0, "end": 10.0},
                         {"action": "SecurityScan", "status": "Succeeded", "start": 0.1, "end": 2.0},
                         {"action": "SmokeTest", "status": "Succeeded", "start": 10.0, "end": 12.0}])
    table = release.overlap_table(runs).set_index("action")
    assert table.loc["Build", "ran alongside"] == "SecurityScan"
    assert table.loc["SmokeTest", "ran alongside"] == "—"
    assert table.loc["SmokeTest", "started after"] == "Build, SecurityScan"


# --- on the emulator: the whole release, the notification, the exercises ---------------------------

@pytest.mark.slow
def test_release_reject_then_continuous_deployment_and_the_exercises(emulator):
    from course_helpers import lab_on

    from labkit.exercises import for_chapter
    from labkit.names import course_names
    from labkit.services import codepipeline as cp_helpers
    from labkit.widgets import ApprovalPanel

    with lab_on(emulator) as lab:
        names = course_names(lab)
        lab.ensure("05")
        ex = for_chapter("05", lab)
        assert_verdict(ex.side_by_side, {"Build"}, False, "does not exist yet")
        made = release.prepare(lab, names)
        codepipeline = lab.client("codepipeline")
        gated = release.release_pipeline_definition(names, made["role_arn"], made["topic_arn"], approvals=("prod",))
        codepipeline.create_pipeline(pipeline=gated, tags=lab.tags.as_list(key="key", value="value"))
        first = cp_helpers.latest_execution_id(lab, names.release_pipeline)
        token = release.wait_for_approval(lab, names.release_pipeline, first, "Prod")

        # What a subscriber gets: the message of this very approval, through SNS into SQS.
        notification = release.approval_message(lab, made["queue_url"], token)
        assert notification["Subject"].startswith("APPROVAL NEEDED: AWS CodePipeline")
        assert notification["Message"]["approval"]["stageName"] == "Prod"
        assert notification["Message"]["approval"]["customData"].startswith("Staging runs this release")

        # Parallel actions really overlapped; the smoke test came after both.
        table = release.overlap_table(release.action_runs(lab, names.release_pipeline, first, "Build")).set_index("action")
        assert table.loc["Build", "ran alongside"] == "SecurityScan"
        assert table.loc["SmokeTest", "started after"] == "Build, SecurityScan"
        scan = release.output_variables(lab, names.release_pipeline, first, "Build", "SecurityScan")
        assert scan["SCAN_RESULT"] in ("clean", "unavailable")

        panel = ApprovalPanel(lab, names.release_pipeline, "Prod", "Approve", token)
        release.decide_unless_clicked(panel, "Rejected")
        assert cp_helpers.wait_for_execution(lab, names.release_pipeline, first)["status"] == "Failed"
        assert_verdict(ex.prod_log_level, "warn", False, "serves nothing yet")

        # Continuous deployment: no approval, straight to prod.
        codepipeline.update_pipeline(pipeline=release.release_pipeline_definition(
            names, made["role_arn"], made["topic_arn"], approvals=()))
        second = codepipeline.start_pipeline_execution(name=names.release_pipeline)["pipelineExecutionId"]
        assert cp_helpers.wait_for_execution(lab, names.release_pipeline, second)["status"] == "Succeeded"
        levels = release.environments_table(lab, names).groupby("environment")["logLevel"].agg(set).to_dict()
        assert levels == {"dev": {"info"}, "staging": {"debug"}, "prod": {"warn"}}
        assert release.output_variables(lab, names.release_pipeline, second, "Prod", "Configure") == \
            {"APP_ENV": "prod", "LOG_LEVEL": "warn"}

        # Exercises: the solutions pass, wrong answers get their message.
        assert_verdict(ex.side_by_side, ex.side_by_side.solve(), True, "share runOrder 1")
        assert_verdict(ex.side_by_side, None, None, "Not attempted")
        assert_verdict(ex.side_by_side, {"Build", "SecurityScan", "SmokeTest"}, False, "higher runOrder")
        assert_verdict(ex.side_by_side, {"Build"}, False, "One is missing")
        assert_verdict(ex.side_by_side, {"Build", "Lint"}, False, "no action named")
        assert ex.prod_log_level.solve() == "warn"
        assert_verdict(ex.prod_log_level, "warn", True, "prod runs with 'warn'")
        assert_verdict(ex.prod_log_level, "debug", False, "staging's level")
        assert_verdict(ex.prod_log_level, "trace", False, "does not report")
        assert_verdict(ex.prod_log_level, None, None, "Not attempted")

        # Nothing of the chapter is left running; the pipeline has no push trigger of its own.
        statuses = {s["status"] for s in codepipeline.list_pipeline_executions(
            pipelineName=names.release_pipeline)["pipelineExecutionSummaries"]}
        assert "InProgress" not in statuses
        rules = lab.client("events").list_rule_names_by_target(
            TargetArn=names.arn("codepipeline", names.release_pipeline))["RuleNames"]
        assert rules == []
