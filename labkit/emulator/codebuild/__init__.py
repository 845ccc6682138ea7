"""CodeBuild, owned by labkit: buildspecs run for real on this machine, phase by phase."""
