"""The cost model without an emulator: the price table, estimates against hand-computed figures,
the monthly projection of the course's example, the calculator widget, and metric filter patterns."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timezone

import matplotlib
import pytest

from labkit import metering, prices
from labkit.emulator.metric_filters import PatternError, compile_pattern
from labkit.observe import costs
from labkit.widgets.cost_calculator import CostCalculator, projection_chart

matplotlib.use("Agg")


def cost(frame, usage_type: str, column: str = "cost_with_free_tier") -> float:
    return float(frame.set_index("usage_type").loc[usage_type, column])


def test_price_table_holds_the_facts_and_the_date_read():
    table = costs.price_table()
    assert {"service", "usage_type", "unit", "price_usd", "free_tier_per_month", "source",
            "date_read"} <= set(table.columns)
    by_type = table.set_index("usage_type")["price_usd"]
    assert by_type["Build-Min:general1.small"] == 0.005
    assert by_type["Build-Min:general1.medium"] == 0.01
    assert by_type["Build-Min:general1.large"] == 0.02
    assert by_type["Build-Min:arm1.small"] == 0.0034
    assert by_type["activePipeline"] == 1.00 and by_type["ActionExecutionMinute"] == 0.002
    assert by_type["OnPremInstanceUpdate"] == 0.02 and by_type["EC2InstanceUpdate"] == 0
    assert (table["date_read"] == prices.DATE_READ).all()
    assert table["source"].str.startswith("https://aws.amazon.com/").all()


def test_billing_rounds_each_build_up_to_a_minute():
    assert [prices.billed_minutes(s) for s in (0, 1, 59.9, 60, 60.2, 61, 119)] == [1, 1, 1, 1, 2, 2, 2]


def test_estimate_equals_hand_computed_figures():
    # 250 small minutes: 150 billed after 100 free -> $0.75, list $1.25.
    # 40 medium minutes, no free tier -> $0.40. 3 V1 pipelines, one free -> $2.00.
    # 130 V2 action minutes, 100 free -> $0.06. 10 on-premises updates -> $0.20.
    # 7 GB-months, 5 free -> $0.046. 6 GB logs, 5 free -> $0.50.
    frame = costs.estimate({"Build-Min:general1.small": 250, "Build-Min:general1.medium": 40,
                            "activePipeline": 3, "ActionExecutionMinute": 130,
                            "OnPremInstanceUpdate": 10, "EC2InstanceUpdate": 25,
                            "TimedStorage-ByteHrs": 7, "DataProcessing-Bytes": 6})
    assert list(frame.columns) == costs.ESTIMATE_COLUMNS
    assert cost(frame, "Build-Min:general1.small") == pytest.approx(0.75)
    assert cost(frame, "Build-Min:general1.small", "cost_without_free_tier") == pytest.approx(1.25)
    assert cost(frame, "Build-Min:general1.medium") == pytest.approx(0.40)
    assert cost(frame, "activePipeline") == pytest.approx(2.00)
    assert cost(frame, "ActionExecutionMinute") == pytest.approx(0.06)
    assert cost(frame, "OnPremInstanceUpdate") == pytest.approx(0.20)
    assert cost(frame, "EC2InstanceUpdate") == 0
    assert cost(frame, "TimedStorage-ByteHrs") == pytest.approx(0.046)
    assert cost(frame, "DataProcessing-Bytes") == pytest.approx(0.50)
    total = frame.iloc[-1]
    assert total["service"] == "Total"
    assert total["cost_with_free_tier"] == pytest.approx(0.75 + 0.40 + 2 + 0.06 + 0.20 + 0.046 + 0.5)
    assert total["cost_without_free_tier"] == pytest.approx(
        1.25 + 0.40 + 3 + 0.26 + 0.20 + 0.161 + 3.0)


def test_no_usage_costs_nothing():
    frame = costs.estimate({})
    assert frame["service"].tolist() == ["Total"] and frame.iloc[-1]["cost_with_free_tier"] == 0


def test_shared_free_minutes_go_to_the_cheaper_small_type_first():
    frame = costs.estimate({"Build-Min:general1.small": 80, "Build-Min:arm1.small": 60})
    # 100 free minutes in one pool: all 60 arm minutes, then 40 of the general ones.
    assert cost(frame, "Build-Min:arm1.small") == 0
    assert cost(frame, "Build-Min:general1.small") == pytest.approx(40 * 0.005)


def test_unpriced_compute_types_are_shown_not_guessed():
    frame = costs.estimate({"Build-Min:linux_container/build_general1_2xlarge": 10})
    row = frame.iloc[0]
    assert row["service"] == "unpriced" and row["cost_with_free_tier"] != row["cost_with_free_tier"]
    with pytest.raises(KeyError, match="the table prices"):
        costs.monthly_projection(compute_type="general1.huge")


def test_monthly_projection_of_the_course_example():
    # 5 developers, 100 builds of 5 minutes on general1.small, one V1 pipeline, 50 deployments.
    frame = costs.monthly_projection(team_size=5, builds_per_month=100, minutes_per_build=5,
                                     compute_type="general1.small", pipelines=1,
                                     pipeline_type="V1", deployments=50)
    assert cost(frame, "Build-Min:general1.small") == pytest.approx((500 - 100) * 0.005)
    assert cost(frame, "activePipeline") == 0  # one V1 pipeline is free
    assert cost(frame, "EC2InstanceUpdate") == 0
    total = frame.iloc[-1]
    # Well under the article's "$5-15/month": EC2 deployments are free, one pipeline is free.
    assert 2.0 <= total["cost_with_free_tier"] < 5
    assert frame.attrs["team_size"] == 5 and frame.attrs["prices_read"] == prices.DATE_READ
    said = costs.compare_with_article(frame)
    assert "below the article's $5-15/month" in said and "EC2" in said and prices.DATE_READ in said
    pricier = costs.monthly_projection(builds_per_month=400, minutes_per_build=10,
                                       compute_type="general1.medium")
    assert "above" in costs.compare_with_article(pricier)

    v2 = costs.monthly_projection(builds_per_month=100, minutes_per_build=5, pipeline_type="V2")
    # 100 runs x (5 build + 1 source + 2 deploy) = 800 action minutes, 100 free.
    assert cost(v2, "ActionExecutionMinute") == pytest.approx(700 * 0.002)
    with pytest.raises(ValueError):
        costs.monthly_projection(pipeline_type="V3")


def test_priced_records_apply_the_free_tier_per_month():
    day = date(2026, 1, 31)
    records = [metering.UsageRecord(day, prices.CODEBUILD, "Build-Min:general1.small", 90, "p"),
               metering.UsageRecord(date(2026, 2, 1), prices.CODEBUILD, "Build-Min:general1.small",
                                    90, "p"),
               metering.UsageRecord(date(2026, 2, 2), prices.CODEBUILD, "Build-Min:general1.small",
                                    20, "p")]
    rows = metering.priced(records)
    assert [r["cost_after_free_tier"] for r in rows] == pytest.approx([0, 0, 10 * 0.005])


def test_s3_storage_accrues_by_day():
    start = datetime(2026, 4, 1, tzinfo=timezone.utc)
    end = datetime(2026, 4, 3, tzinfo=timezone.utc)
    gib = 1024**3
    records = metering.s3_usage([("b", 30 * gib, datetime(2026, 4, 2, 12, tzinfo=timezone.utc))],
                                start, end)
    storage = [r for r in records if r.usage_type == "TimedStorage-ByteHrs"]
    assert [(r.day, r.quantity) for r in storage] == [(date(2026, 4, 2), pytest.approx(1.0))]
    assert [r.quantity for r in records if r.usage_type == "Requests-Tier1"] == [0.001]


def test_calculator_updates_its_table_and_chart():
    calculator = CostCalculator()
    widget = calculator.widget()
    assert "Build-Min:general1.small" in calculator.table.value
    before = calculator.chart.value
    calculator.controls["builds_per_month"].value = 500
    calculator.controls["pipeline_type"].value = "V2"
    assert calculator.settings["builds_per_month"] == 500
    assert "ActionExecutionMinute" in calculator.table.value and calculator.chart.value != before
    assert widget.children


def test_calculator_headless_prints_text(capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_HEADLESS", "1")
    CostCalculator(builds_per_month=200).show()
    out = capsys.readouterr().out
    assert "builds_per_month=200" in out and "Total" in out and prices.DATE_READ in out


def test_projection_chart_has_two_bars_per_service():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = projection_chart(costs.monthly_projection())
    ax = figure.axes[0]
    services = len(costs.monthly_projection()["service"].unique()) - 1
    assert [len(c) for c in ax.containers] == [services, services]


# --- metric filter patterns (what the emulator applies to log events) ------------------------


@pytest.mark.parametrize("pattern, message, matches", [
    ("", "anything", True),
    ("ERROR", "an ERROR here", True),
    ("ERROR", "an error here", False),
    ("ERROR Exception", "ERROR without the other", False),
    ('"exit status 1"', "Reason: exit status 1", True),
    ("?ERROR ?WARN", "WARN only", True),
    ("ERROR -retrying", "ERROR, retrying", False),
    ('{ $.detail.state = "FAILED" }', '{"detail": {"state": "FAILED"}}', True),
    ('{ $.detail.state = "FAIL*" }', '{"detail": {"state": "FAILED"}}', True),
    ('{ $.detail.state != "FAILED" }', '{"detail": {"state": "SUCCEEDED"}}', True),
    ('{ ($.detail-type = "X") && ($.detail.state = "SUCCEEDED") }',
     '{"detail-type": "X", "detail": {"state": "SUCCEEDED"}}', True),
    ('{ ($.a = 1) || ($.b = 2) }', '{"a": 3, "b": 2}', True),
    ("{ $.latency > 100 }", '{"latency": 150}', True),
    ("{ $.latency > 100 }", '{"latency": "150"}', False),
    ("{ $.missing NOT EXISTS }", "{}", True),
    ("{ $.flag IS TRUE }", '{"flag": true}', True),
    ("{ $.items[0] = \"x\" }", '{"items": ["x"]}', True),
    ('{ $.detail.state = "FAILED" }', "not json", False),
    ("[ip, user, status=404, size]", "10.0.0.1 bob 404 512", True),
    ("[ip, user, status=404, size]", "10.0.0.1 bob 200 512", False),
    ("[ip, ..., size>100]", "10.0.0.1 a b c 512", True),
])
def test_filter_patterns(pattern, message, matches):
    assert (compile_pattern(pattern)(message) is not None) == matches


def test_bad_filter_patterns_are_refused():
    for pattern in ("{ $.a = ", "{ $.a > \"x\" }", "[ok"):
        with pytest.raises(PatternError):
            compile_pattern(pattern)


def test_log_bytes_fall_back_to_the_group_when_streams_report_zero():
    """AWS answers storedBytes 0 for every stream (deprecated in 2019); the group's count."""
    start = datetime(2026, 4, 1, tzinfo=timezone.utc)
    created = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
    answers = {
        "DescribeLogGroups": {"logGroups": [{"logGroupName": "/g", "storedBytes": 2048,
                                             "creationTime": created}]},
        "DescribeLogStreams": {"logStreams": [{"storedBytes": 0, "creationTime": created,
                                               "firstEventTimestamp": created}]},
    }
    found = metering.log_streams(lambda service, operation, params: answers[operation], start)
    assert found == [("/g", 2048, start)]


def test_figures_display_as_png_in_an_ipython_shell():
    import sys

    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure
    from traitlets.config import Config

    from labkit.observe.charts import show_figures_in_notebooks

    config = Config()
    config.HistoryManager.enabled = False  # no history database in the home folder
    hooks = sys.displayhook, sys.excepthook
    shell = InteractiveShell.instance(config=config)
    try:
        assert show_figures_in_notebooks()
        figure = Figure()
        figure.add_subplot().plot([1, 2], [3, 4])
        data, _ = shell.display_formatter.format(figure)
        assert data["image/png"][:4] == b"\x89PNG"
    finally:
        InteractiveShell.clear_instance()
        sys.displayhook, sys.excepthook = hooks
