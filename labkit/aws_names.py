"""Names AWS defines that the emulator and the helpers both use (data only, no behaviour)."""

# CodeBuild's phase types, in the order a build goes through them (AWS_FACTS.md).
CODEBUILD_PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
