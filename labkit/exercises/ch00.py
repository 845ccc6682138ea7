"""Chapter 00's exercise: find out which account and region the lab talks to."""

from __future__ import annotations

import re

from labkit.exercises import Exercise, NotAttempted, Wrong


def _check_identity(lab, answer) -> str:
    if answer is None:
        raise NotAttempted("Set `account_id` to your lab's 12-digit account id, then run the cell again.")
    value = str(answer).strip()
    if not re.fullmatch(r"\d{12}", value):
        raise Wrong(f"{value!r} is not an account id: an AWS account id is exactly 12 digits.")
    if value != lab.account_id:
        raise Wrong(f"{value} is a well-formed account id, but not the one your credentials belong to. "
                    "Ask STS rather than copying it from somewhere else.")
    return f"your lab runs in account {value}."


def _solve_identity(lab) -> str:
    return lab.client("sts").get_caller_identity()["Account"]


EXERCISES = [
    Exercise(
        name="account_id", chapter="00",
        task="Use the STS client to find the account id your lab runs in; store it in `account_id`.",
        checker=_check_identity,
        hints=("STS has one operation that needs no permission at all and says who you are.",
               "`lab.client('sts').get_caller_identity()` returns a dict with the key 'Account'."),
        solution_code="""
            account_id = lab.client("sts").get_caller_identity()["Account"]
            # or, in a shell: aws sts get-caller-identity --query Account --output text
        """,
        solve=_solve_identity,
    ),
]
