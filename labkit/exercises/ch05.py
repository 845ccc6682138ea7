"""Chapter 05's exercises: which actions ran side by side (runOrder), and what prod's settings really are."""

from __future__ import annotations

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names
from labkit.services import release


def _build_stage(lab) -> list[dict]:
    names = course_names(lab)
    client = lab.client("codepipeline")
    try:
        stages = client.get_pipeline(name=names.release_pipeline)["pipeline"]["stages"]
    except client.exceptions.PipelineNotFoundException:
        raise Wrong(f"The pipeline {names.release_pipeline} does not exist yet: run the cells of step 4 first.") from None
    return next((s["actions"] for s in stages if s["name"] == "Build"), [])


def _parallel_in_build(lab) -> set[str]:
    """The actions of the Build stage that share the lowest runOrder (they start together)."""
    actions = _build_stage(lab)
    first = min(a.get("runOrder", 1) for a in actions)
    return {a["name"] for a in actions if a.get("runOrder", 1) == first}


def _check_side_by_side(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `side_by_side` to the set of Build-stage actions that ran at the same time.")
    if isinstance(answer, str):
        answer = {answer}
    answer = {str(a).strip() for a in answer}
    actions = {a["name"]: a.get("runOrder", 1) for a in _build_stage(lab)}
    unknown = answer - set(actions)
    if unknown:
        raise Wrong(f"The Build stage has no action named {', '.join(sorted(unknown))}; "
                    f"its actions are {', '.join(sorted(actions))}.")
    expected = _parallel_in_build(lab)
    later = {a for a in answer if a not in expected}
    if later:
        raise Wrong(f"{', '.join(sorted(later))} has a higher runOrder: it starts only after every action "
                    "with a lower runOrder has succeeded, so it never runs alongside them.")
    if answer != expected:
        raise Wrong("One is missing: actions with the same runOrder start together. Compare the runOrder "
                    "column of the stage's actions.")
    return (f"{' and '.join(sorted(expected))} share runOrder {min(actions.values())}: they start together, "
            "and the stage goes on only when both have succeeded.")


def _prod_levels(lab) -> set[str]:
    names = course_names(lab)
    table = release.environments_table(lab, names, environments=("prod",))
    return {str(level) for level in table["logLevel"] if level and not str(level).startswith("no answer")}


def _check_prod_log_level(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `prod_log_level` to the log level prod's host reports on /api/status.")
    names = course_names(lab)
    levels = _prod_levels(lab)
    if not levels:
        raise Wrong("Prod's host serves nothing yet: run the continuous-deployment step first.")
    answer = str(answer).strip()
    if answer in levels:
        return (f"prod runs with {answer!r}: its Configure action read {names.environment_parameter('prod')} "
                "from Parameter Store and wrote it into the bundle that went to prod only.")
    staging = {str(level) for level in release.environments_table(lab, names, ("staging",))["logLevel"]}
    if answer in staging:
        raise Wrong(f"{answer!r} is staging's level. Each environment reads its own parameter, "
                    "/my-app/<environment>/log-level.")
    raise Wrong(f"Prod's host does not report {answer!r}. Ask it: GET <prod host url>/api/status "
                "(release.environments_table shows every environment), or read its parameter in SSM.")


def _solve_prod_log_level(lab) -> str | None:
    levels = sorted(_prod_levels(lab))
    return levels[0] if levels else None


EXERCISES = [
    Exercise(
        name="side_by_side", chapter="05",
        task="Which actions of the release pipeline's Build stage ran at the same time? "
             "Set `side_by_side` to a set of their names.",
        checker=_check_side_by_side,
        hints=("get_pipeline(name=...) returns the stages; each action has a runOrder.",
               "Actions of one stage with the same runOrder start together; a higher runOrder waits for them."),
        solution_code="""
            build = next(s for s in codepipeline.get_pipeline(name=names.release_pipeline)["pipeline"]["stages"]
                         if s["name"] == "Build")
            first = min(a["runOrder"] for a in build["actions"])
            side_by_side = {a["name"] for a in build["actions"] if a["runOrder"] == first}
        """,
        solve=_parallel_in_build,
    ),
    Exercise(
        name="prod_log_level", chapter="05",
        task="What log level does prod's host run with? Ask the service itself (/api/status), "
             "and set `prod_log_level` to it.",
        checker=_check_prod_log_level,
        hints=("release.environments_table(lab, names) asks each environment's hosts for /api/status.",
               "It must match the parameter /my-app/prod/log-level, read by prod's Configure action."),
        solution_code="""
            table = release.environments_table(lab, names)
            prod_log_level = table.query("environment == 'prod'")["logLevel"].iloc[0]
        """,
        solve=_solve_prod_log_level,
    ),
]
