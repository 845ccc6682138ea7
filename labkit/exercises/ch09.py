"""Chapter 09's exercise: review a change set before executing it, and name what it would replace."""

from __future__ import annotations

from pathlib import Path

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names

TEMPLATE = Path(__file__).resolve().parents[2] / "cloudformation" / "pipeline.yaml"


def renamed_project(names) -> str:
    """The new build project name the exercise's change set asks for."""
    return f"{names.iac_build_project}-v2"


def _change_set(lab):
    names = course_names(lab)
    client = lab.client("cloudformation")
    try:
        return client.describe_change_set(StackName=names.iac_stack,
                                          ChangeSetName=names.iac_rename_change_set)
    except client.exceptions.ClientError:
        return None


def _replaced(change_set: dict) -> set[str]:
    return {c["ResourceChange"]["LogicalResourceId"] for c in change_set.get("Changes", [])
            if c.get("ResourceChange", {}).get("Replacement") == "True"}


def _check_replaced(lab, answer) -> str:
    names = course_names(lab)
    if answer is None:
        raise NotAttempted("Create the change set, read its table, and set `replaced` to the "
                           "logical ids it would replace.")
    change_set = _change_set(lab)
    if change_set is None:
        raise Wrong(f"There is no change set {names.iac_rename_change_set!r} on stack "
                    f"{names.iac_stack!r}: create it with create_change_set (ChangeSetType='UPDATE').")
    given = {p["ParameterKey"]: p.get("ParameterValue") for p in change_set.get("Parameters", [])}
    if given.get("BuildProjectName") != renamed_project(names):
        raise Wrong(f"The change set should set BuildProjectName to {renamed_project(names)!r} "
                    f"(it has {given.get('BuildProjectName')!r}); delete it and create it again.")
    if change_set.get("ExecutionStatus") != "AVAILABLE":
        raise Wrong(f"The change set is {change_set.get('ExecutionStatus')}, not AVAILABLE: a change "
                    "set to review must not be executed. Create it again and only describe it.")
    if isinstance(answer, str):
        answer = [answer]
    try:
        answer = {str(a).strip() for a in answer}
    except TypeError:
        raise Wrong("`replaced` should be a list or set of logical ids, e.g. ['BuildProject']."
                    ) from None
    expected = _replaced(change_set)
    if answer == expected:
        return (f"{' and '.join(sorted(expected))} would be replaced: CloudFormation makes the new "
                "ones first and deletes the old ones at the end, so renaming a build project also "
                "loses its log group's history.")
    missing, extra = sorted(expected - answer), sorted(answer - expected)
    parts = []
    if missing:
        parts.append(f"{len(missing)} replaced resource(s) missing from your answer")
    if extra:
        parts.append(f"{', '.join(extra)} would be changed in place or not at all, not replaced")
    raise Wrong("; ".join(parts) + ". Look at the Replacement column: only 'True' means a new "
            "resource for sure ('Conditional' depends on values known at execution).")


def _solve_replaced(lab) -> list[str]:
    names = course_names(lab)
    client = lab.client("cloudformation")
    if _change_set(lab) is not None:
        client.delete_change_set(StackName=names.iac_stack, ChangeSetName=names.iac_rename_change_set)
    current = client.describe_stacks(StackName=names.iac_stack)["Stacks"][0]["Parameters"]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in current}
    values["BuildProjectName"] = renamed_project(names)
    client.create_change_set(
        StackName=names.iac_stack, ChangeSetName=names.iac_rename_change_set,
        ChangeSetType="UPDATE", TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
    from labkit.services.cloudformation import replaced_resources, wait_for_change_set

    wait_for_change_set(lab, names.iac_stack, names.iac_rename_change_set)
    return sorted(replaced_resources(lab, names.iac_stack, names.iac_rename_change_set))


EXERCISES = [
    Exercise(
        name="replaced", chapter="09",
        task="Create (do not execute) a change set that renames the build project to "
             "'<prefix>-iac-build-v2', and list the logical ids it would replace.",
        checker=_check_replaced,
        hints=("Copy the change set cell of Step 3: same stack and template, the name "
               "names.iac_rename_change_set, and parameters whose BuildProjectName is "
               "f\"{names.iac_build_project}-v2\".",
               "cfn_helpers.change_set_table(...) shows a Replacement column: keep the rows where it "
               "says 'True'. Which other resource's name is made from BuildProjectName?"),
        solution_code="""
            values = {**new_values, "BuildProjectName": f"{names.iac_build_project}-v2"}
            cfn.create_change_set(StackName=names.iac_stack, ChangeSetName=names.iac_rename_change_set,
                                  ChangeSetType="UPDATE", TemplateBody=template_body,
                                  Capabilities=["CAPABILITY_NAMED_IAM"],
                                  Parameters=cfn_helpers.parameters(**values))
            cfn_helpers.wait_for_change_set(lab, names.iac_stack, names.iac_rename_change_set)
            table = cfn_helpers.change_set_table(lab, names.iac_stack, names.iac_rename_change_set)
            replaced = list(table.loc[table["Replacement"] == "True", "LogicalResourceId"])
        """,
        solve=_solve_replaced,
    ),
]
