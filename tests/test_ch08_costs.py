"""Chapter 08: the cost helpers it adds (action minutes, V1 vs V2, Jenkins, levers), service
quotas with their documented fallback, the emulator's answer to an operation moto lacks, and the
exercise's checks on a real pipeline run."""

from __future__ import annotations

import math

import pytest
from botocore.stub import Stubber
from course_helpers import lab_on

from labkit import prices
from labkit.exercises import exercises_of
from labkit.names import course_names
from labkit.observe import costs
from labkit.services import quotas
from labkit.teardown import teardown


def test_v2_cost_break_even_and_the_v1_comparison_match_hand_computed_figures():
    # 100 runs x 3 minutes = 300 minutes, 100 free: 200 x $0.002 = $0.40.
    assert costs.v2_monthly_cost(3, 100) == pytest.approx(0.40)
    assert costs.v2_monthly_cost(3, 30) == 0  # 90 minutes: inside the free 100
    # $1.00 buys 500 minutes, plus the 100 free ones: 600 minutes = 200 runs of 3 minutes.
    assert costs.v1_v2_break_even(3) == pytest.approx(200)
    table = costs.v1_vs_v2(3, runs_per_month=(50, 200, 500)).set_index("runs_per_month")
    assert table.loc[50, "V2_usd"] == pytest.approx(0.10) and table.loc[50, "cheaper"] == "V2"
    assert table.loc[200, "cheaper"] == "same"
    assert table.loc[500, "V2_usd"] == pytest.approx(2.80) and table.loc[500, "cheaper"] == "V1"
    assert (table["V1_usd"] == 1.0).all() and (table["V1_first_pipeline_usd"] == 0).all()


def test_jenkins_machines_are_priced_from_the_course_table():
    frame = costs.self_managed_jenkins(controller="t3.medium", agents=1, agent_type="t3.large",
                                       disk_gb_each=30)
    total = frame.iloc[-1]
    assert total["item"].startswith("Total")
    # 730 h x ($0.0416 + $0.0832) + 60 GB x $0.08
    assert total["usd_per_month"] == pytest.approx(730 * (0.0416 + 0.0832) + 60 * 0.08)
    assert prices.price_of("BoxUsage:t3.micro").price == 0.0104
    without_agents = costs.self_managed_jenkins(agents=0)
    assert len(without_agents) == 3 and without_agents.iloc[-1]["usd_per_month"] == pytest.approx(
        730 * 0.0416 + 30 * 0.08)
    with pytest.raises(KeyError, match="the table prices"):
        costs.self_managed_jenkins(controller="m5.24xlarge")


def test_each_lever_is_the_projection_with_one_thing_changed():
    levers = costs.cost_levers(builds_per_month=100, minutes_per_build=5, deployments=50)
    by_name = levers.set_index("lever")["usd_per_month"]
    baseline = costs.monthly_projection(builds_per_month=100, minutes_per_build=5,
                                        pipeline_type="V2", deployments=50)
    assert by_name["baseline"] == pytest.approx(baseline.iloc[-1]["cost_with_free_tier"])
    for cheaper in ("dependency cache", "ARM (arm1.small)", "V1 pipeline", "skip docs-only commits"):
        assert by_name[cheaper] < by_name["baseline"], cheaper
    assert by_name["bigger type (general1.medium)"] > by_name["baseline"]
    assert (levers["assumption"].str.len() > 0).all()
    assert levers.set_index("lever")["change_usd"]["baseline"] == 0


def test_quotas_fall_back_to_documented_defaults_labelled_as_such(lab):
    table = quotas.quota_table(lab)
    assert list(table.columns) == quotas.COLUMNS
    assert set(table["service"]) == {"codebuild", "codepipeline"}
    assert table["source"].str.startswith("documented default (AWS docs, read").all()
    values = table.set_index("quota")["value"]
    assert values["Build projects"] == "5,000" and values["Pipelines per Region"] == "1,000"
    assert values["Concurrently running builds (per compute type)"] == "varies"
    _, reason = quotas.read_quotas(lab, "codebuild")
    assert "NotImplementedException" in reason


class _FakeLab:
    def __init__(self, client):
        self._client = client

    def client(self, service):
        assert service == "service-quotas"
        return self._client


def test_quotas_read_the_accounts_applied_values_when_service_quotas_answers():
    import boto3

    client = boto3.client("service-quotas", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)

    def quota(code, name, value):
        return {"ServiceCode": code, "QuotaCode": "L-00000001", "QuotaName": name, "Value": value,
                "Adjustable": True}

    stub.add_response("list_service_quotas", {"Quotas": [
        quota("codebuild", "Build projects", 5000.0),
        quota("codebuild", "Concurrently running builds for Linux/Small environment", 1.0),
        quota("codebuild", "Associated tags per project", 50.0)]}, {"ServiceCode": "codebuild"})
    stub.add_client_error("list_service_quotas", "NoSuchResourceException",
                          expected_params={"ServiceCode": "codepipeline"})
    stub.add_response("list_aws_default_service_quotas", {"Quotas": [
        quota("codepipeline", "Maximum number of pipelines per Region", 1000.0)]},
        {"ServiceCode": "codepipeline"})
    with stub:
        table = quotas.quota_table(_FakeLab(client))
    rows = table.set_index("quota")
    assert "Associated tags per project" not in rows.index  # not a pipeline's concern
    assert rows.loc["Concurrently running builds for Linux/Small environment", "value"] == "1"
    assert rows.loc["Build projects", "source"] == "applied (Service Quotas)"
    assert rows.loc["Maximum number of pipelines per Region", "source"] == "AWS default (Service Quotas)"


def test_an_operation_moto_lacks_answers_not_implemented_naming_it(aws):
    client = aws("service-quotas")
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.list_service_quotas(ServiceCode="codebuild")
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplementedException"
    assert "ListServiceQuotas" in error["Message"] and "emulator" in error["Message"]


def test_the_exercise_says_when_there_is_no_run_to_measure(emulator):
    exercise = exercises_of("08")["v2_month"].bind
    with lab_on(emulator) as lab:  # a fresh prefix: no pipeline at all
        assert exercise(lab).check(None).passed is None
        result = exercise(lab).check(1.6)
        assert result.passed is False and "no succeeded execution" in result.message
        assert exercise(lab).solve() is None


@pytest.mark.slow
def test_a_measured_run_prices_the_exercise_and_its_wrong_answers(emulator):
    with lab_on(emulator) as lab:
        lab.ensure("08")  # chapter 04's pipeline, whose first execution succeeded
        names = course_names(lab)
        client = lab.client("codepipeline")
        execution = client.list_pipeline_executions(pipelineName=names.pipeline)[
            "pipelineExecutionSummaries"][0]
        actions = costs.action_minutes(lab, names.pipeline, execution["pipelineExecutionId"])
        assert list(actions["action"]) == ["Source", "Build", "Deploy"]
        assert (actions["billed_minutes"] >= 1).all() and actions["duration"].str.endswith(" s").all()
        minutes = int(actions["billed_minutes"].sum())
        expected = max(0, 300 * minutes - 100) * 0.002

        ex = exercises_of("08")["v2_month"].bind(lab)
        assert ex.solve() == pytest.approx(expected)
        assert ex.check(expected).passed and ex.check(str(round(expected, 2))).passed
        no_free = ex.check(300 * minutes * 0.002)
        assert no_free.passed is False and "free" in no_free.message
        v1 = ex.check(1.0)
        assert v1.passed is False and "V1" in v1.message
        other = ex.check(expected + 3)
        assert other.passed is False and f"{minutes} action minutes" in other.message
        assert ex.check("a lot").passed is False

        # what the chapter measures after a push: one build minute and the run's action minutes
        usage = costs.measure_usage(lab)
        assert usage[usage["usage_type"] == "ActionExecutionMinute"]["quantity"].sum() >= minutes
        assert not math.isnan(costs.estimate(usage).iloc[-1]["cost_without_free_tier"])
        assert teardown(lab).ok  # the session's emulator carries on without this lab's hosts
