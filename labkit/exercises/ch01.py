"""Chapter 01's exercise: a feature branch with one new file, made with the CodeCommit API alone."""

from __future__ import annotations

from labkit.exercises import Exercise, NotAttempted, Wrong
from labkit.names import course_names

BRANCH = "feature/health-docs"
FILE = "docs/HEALTH.md"


def _check_branch(lab, answer) -> str:
    client = lab.client("codecommit")
    repository = course_names(lab).repository
    try:
        client.get_branch(repositoryName=repository, branchName=BRANCH)
    except client.exceptions.BranchDoesNotExistException:
        raise NotAttempted(f"There is no branch {BRANCH} in {repository} yet.") from None
    try:
        client.get_file(repositoryName=repository, commitSpecifier=BRANCH, filePath=FILE)
    except client.exceptions.FileDoesNotExistException:
        raise Wrong(f"The branch {BRANCH} exists, but it has no file {FILE}. Add it with put_file "
                    "(branchName, parentCommitId = the branch's commit, fileContent, commitMessage).") from None
    return f"{BRANCH} exists and carries {FILE}."


def _solve_branch(lab) -> None:
    client = lab.client("codecommit")
    repository = course_names(lab).repository
    main = client.get_branch(repositoryName=repository, branchName="main")["branch"]["commitId"]
    try:
        tip = client.get_branch(repositoryName=repository, branchName=BRANCH)["branch"]["commitId"]
    except client.exceptions.BranchDoesNotExistException:
        client.create_branch(repositoryName=repository, branchName=BRANCH, commitId=main)
        tip = main
    try:
        client.get_file(repositoryName=repository, commitSpecifier=BRANCH, filePath=FILE)
    except client.exceptions.FileDoesNotExistException:
        client.put_file(repositoryName=repository, branchName=BRANCH, parentCommitId=tip,
                        filePath=FILE, fileContent=b"# /health\n\nAnswers 200 while the service is healthy.\n",
                        commitMessage="Document the health check")


EXERCISES = [
    Exercise(
        name="feature_branch", chapter="01",
        task=f"Without git, create the branch {BRANCH} from main and add the file {FILE} on it.",
        checker=_check_branch,
        hints=("Two CodeCommit operations do it: one makes a branch at a commit, one writes a file "
               "as a new commit.",
               "create_branch(repositoryName, branchName, commitId=<main's commitId>), then "
               "put_file(repositoryName, branchName, parentCommitId, filePath, fileContent, commitMessage)."),
        solution_code=f"""
            main = codecommit.get_branch(repositoryName=names.repository, branchName="main")["branch"]["commitId"]
            codecommit.create_branch(repositoryName=names.repository, branchName="{BRANCH}", commitId=main)
            codecommit.put_file(repositoryName=names.repository, branchName="{BRANCH}", parentCommitId=main,
                                filePath="{FILE}", fileContent=b"# /health\\n",
                                commitMessage="Document the health check")
        """,
        solve=_solve_branch,
    ),
]
