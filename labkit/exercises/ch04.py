"""Chapter 04's exercise: find the execution that the failing test stopped, in the execution history."""

from __future__ import annotations

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names


def _failed_at_build(lab) -> list[str]:
    client = lab.client("codepipeline")
    pipeline = course_names(lab).pipeline
    failed = []
    for summary in client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]:
        if summary["status"] != "Failed":
            continue
        actions = client.list_action_executions(
            pipelineName=pipeline, filter={"pipelineExecutionId": summary["pipelineExecutionId"]})
        if any(a["stageName"] == "Build" and a["status"] == "Failed"
               for a in actions["actionExecutionDetails"]):
            failed.append(summary["pipelineExecutionId"])
    return failed


def _check_failed_execution(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `failed_execution_id` to the id of the execution the failing test stopped.")
    failed = _failed_at_build(lab)
    if not failed:
        raise Wrong("No execution of your pipeline has failed at Build yet: run the cells that push the "
                    "failing test first.")
    if str(answer).strip() not in failed:
        raise Wrong(f"{answer!r} is not an execution that failed at Build. list_pipeline_executions gives "
                    "each execution's status; list_action_executions shows which action failed.")
    return "that execution stopped at Build, and Deploy never ran for it."


def _solve_failed_execution(lab) -> str:
    failed = _failed_at_build(lab)
    return failed[0] if failed else None


EXERCISES = [
    Exercise(
        name="failed_execution", chapter="04",
        task="Find, in the execution history, the id of the execution that stopped at Build.",
        checker=_check_failed_execution,
        hints=("list_pipeline_executions returns summaries with a status each.",
               "Keep the summaries whose status is 'Failed'; list_action_executions with "
               "filter={'pipelineExecutionId': ...} tells you which stage failed."),
        solution_code="""
            summaries = codepipeline.list_pipeline_executions(pipelineName=names.pipeline)["pipelineExecutionSummaries"]
            failed_execution_id = [s for s in summaries if s["status"] == "Failed"][0]["pipelineExecutionId"]
        """,
        solve=_solve_failed_execution,
    ),
]
