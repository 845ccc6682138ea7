"""CodeCommit, owned by labkit: repositories are real bare git repositories served over HTTP."""
