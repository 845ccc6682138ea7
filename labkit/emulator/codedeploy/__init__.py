"""CodeDeploy, owned by labkit: appspec hooks run on local hosts that really start the service."""
