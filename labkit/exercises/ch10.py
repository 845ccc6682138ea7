"""Chapter 10's exercise: read the dry run, and check the count against a fresh scan of the lab."""

from __future__ import annotations

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.teardown import find_lab_resources

KIND = "codebuild project"


def projects_found(lab) -> int:
    resources, _ = find_lab_resources(lab, wait_seconds=60)
    return sum(r.kind == KIND for r in resources)


def _check_projects_to_delete(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `projects_to_delete` to the number of CodeBuild projects the dry "
                           "run lists.")
    try:
        count = int(answer)
    except (TypeError, ValueError):
        raise Wrong(f"{answer!r} is not a number: count the rows.") from None
    if count != answer and not isinstance(answer, str):
        raise Wrong(f"{answer!r} is not a whole number of projects.")
    found = projects_found(lab)
    if count == found:
        return "the dry run and a fresh scan of the lab agree."
    if found == 0:
        raise Wrong(f"A scan finds no CodeBuild project of lab {lab.prefix!r} any more: was it "
                    "torn down already? Run the dry-run cell again and count what it lists now.")
    raise Wrong(f"Not {count}. Count the rows of the dry run whose resource starts with "
                f"{KIND!r} (report groups are a different type).")


def _solve_projects_to_delete(lab) -> int:
    from labkit.teardown import teardown

    plan = teardown(lab, dry_run=True)
    return sum(row.resource.startswith(f"{KIND} ") for row in plan.rows)


EXERCISES = [
    Exercise(
        name="projects_to_delete", chapter="10",
        task="How many CodeBuild projects would the dry run delete? Store the number in "
             "`projects_to_delete`.",
        checker=_check_projects_to_delete,
        hints=("Each row of `plan.rows` has a `resource` like 'codebuild project <name>'.",
               "sum(row.resource.startswith('codebuild project ') for row in plan.rows)"),
        solution_code="""
            projects_to_delete = sum(row.resource.startswith("codebuild project ") for row in plan.rows)
        """,
        solve=_solve_projects_to_delete,
    ),
]
