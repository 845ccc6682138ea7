"""Instructor-led workshops: a roster of learners with prefixes of their own, a pluggable store of
their progress records, per-learner IAM policies, status, teardown, report, solutions and timings.

    labkit workshop init --learners 30 [--backend aws] [--prefix-base ws1] [--output workshop/]
    labkit workshop status | report | teardown --learner learner-07 [--dry-run] | helped learner-07

notebooks/instructor/dashboard.ipynb shows the room; docs/instructor.md is the instructor's guide.
"""

from labkit.workshop.roster import Learner, RosterError, Workshop, init_workshop, load_workshop

__all__ = ["Learner", "RosterError", "Workshop", "init_workshop", "load_workshop"]
