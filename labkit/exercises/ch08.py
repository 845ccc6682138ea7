"""Chapter 08's exercise: price a month of V2 pipeline runs from the action minutes the learner's
own pipeline run was billed for."""

from __future__ import annotations

import math

from labkit import prices
from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names
from labkit.observe import costs

RUNS = 300


def measured_minutes_per_run(lab) -> int | None:
    """Billed action minutes of the pipeline's newest succeeded execution (None: no such run)."""
    client = lab.client("codepipeline")
    pipeline = course_names(lab).pipeline
    try:
        summaries = client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    except client.exceptions.PipelineNotFoundException:
        return None
    succeeded = [s for s in summaries if s["status"] == "Succeeded"]
    if not succeeded:
        return None
    newest = max(succeeded, key=lambda s: s["startTime"])
    actions = costs.action_minutes(lab, pipeline, newest["pipelineExecutionId"])
    return int(actions["billed_minutes"].sum())


def _check_v2_month(lab, answer) -> str:
    if answer is None:
        raise NotAttempted(f"Set `v2_cost` to what {RUNS} runs a month would cost on V2, in dollars.")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"{answer!r} is not a number of dollars: write it like 1.23.") from None
    minutes = measured_minutes_per_run(lab)
    if minutes is None:
        raise Wrong(f"Pipeline {course_names(lab).pipeline} has no succeeded execution to measure "
                    "yet: run the set-up cell and the cells of step 2 (the push) first.")
    price = prices.price_of("ActionExecutionMinute")
    expected = costs.v2_monthly_cost(minutes, RUNS)
    if math.isclose(value, expected, abs_tol=0.005):
        return (f"{RUNS} runs x {minutes} action minutes = {RUNS * minutes} minutes; "
                f"{price.free_tier:.0f} of them are free, the rest cost ${expected:.2f}.")
    if math.isclose(value, RUNS * minutes * price.price, abs_tol=0.005):
        raise Wrong(f"That is the price of every minute: the first {price.free_tier:.0f} action "
                    "minutes of each month are free.")
    if math.isclose(value, prices.price_of("activePipeline").price, abs_tol=0.005):
        raise Wrong("That is V1's flat fee per pipeline. V2 bills action-execution minutes.")
    raise Wrong(f"Not ${value:.2f}. Your run was billed {minutes} action minutes (each action "
                f"rounded up to a minute); multiply by {RUNS} runs, take off the free minutes, "
                f"and price the rest at ${price.price} a minute.")


def _solve_v2_month(lab) -> float | None:
    minutes = measured_minutes_per_run(lab)
    return None if minutes is None else round(costs.v2_monthly_cost(minutes, RUNS), 4)


EXERCISES = [
    Exercise(
        name="v2_month", chapter="08",
        task=(f"Your team's pipeline would run {RUNS} times a month, each run like the one you "
              "measured. What would that cost on a V2 pipeline, with the free tier? Store the "
              "dollars in `v2_cost`."),
        checker=_check_v2_month,
        hints=("`run_actions['billed_minutes'].sum()` is what one run was billed for.",
               f"minutes a month = {RUNS} x minutes per run; the first 100 are free; each further "
               "minute costs $0.002 (prices.price_of('ActionExecutionMinute'))."),
        solution_code=f"""
            minutes_per_run = int(run_actions["billed_minutes"].sum())
            price = prices.price_of("ActionExecutionMinute")
            v2_cost = max(0, {RUNS} * minutes_per_run - price.free_tier) * price.price
        """,
        solve=_solve_v2_month,
    ),
]
