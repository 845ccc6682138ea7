"""CodePipeline, owned by labkit: an engine that moves executions from stage to stage for real."""
