"""The action types the emulator knows: artifact counts and configuration keys, as AWS documents them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ActionType:
    category: str
    provider: str
    inputs: tuple[int, int]   # (minimum, maximum) input artifacts
    outputs: tuple[int, int]  # (minimum, maximum) output artifacts
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    owner: str = "AWS"
    version: str = "1"
    emulated: bool = True  # False: accepted in definitions, fails clearly when run
    secret: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.category, self.owner, self.provider, self.version)


ACTION_TYPES = [
    ActionType("Source", "CodeCommit", (0, 0), (1, 1), ("RepositoryName", "BranchName"),
               ("PollForSourceChanges", "OutputArtifactFormat")),
    ActionType("Source", "S3", (0, 0), (1, 1), ("S3Bucket", "S3ObjectKey"),
               ("PollForSourceChanges", "AllowOverrideForS3ObjectKey")),
    ActionType("Source", "CodeStarSourceConnection", (0, 0), (1, 1),
               ("ConnectionArn", "FullRepositoryId", "BranchName"),
               ("OutputArtifactFormat", "DetectChanges"), emulated=False),
    ActionType("Source", "ECR", (0, 0), (1, 1), ("RepositoryName",), ("ImageTag",),
               emulated=False),
    ActionType("Build", "CodeBuild", (1, 5), (0, 5), ("ProjectName",),
               ("PrimarySource", "EnvironmentVariables", "BatchEnabled", "CombineArtifacts")),
    ActionType("Test", "CodeBuild", (1, 5), (0, 5), ("ProjectName",),
               ("PrimarySource", "EnvironmentVariables", "BatchEnabled", "CombineArtifacts")),
    ActionType("Deploy", "CodeDeploy", (1, 1), (0, 0), ("ApplicationName", "DeploymentGroupName")),
    ActionType("Deploy", "S3", (1, 1), (0, 0), ("BucketName", "Extract"),
               ("ObjectKey", "KMSEncryptionKeyARN", "CannedACL", "CacheControl")),
    ActionType("Deploy", "CloudFormation", (0, 10), (0, 1), ("ActionMode", "StackName"),
               ("TemplatePath", "TemplateConfiguration", "Capabilities", "RoleArn",
                "ParameterOverrides", "OutputFileName", "ChangeSetName")),
    ActionType("Approval", "Manual", (0, 0), (0, 0), (),
               ("NotificationArn", "CustomData", "ExternalEntityLink")),
    ActionType("Invoke", "Lambda", (0, 5), (0, 5), ("FunctionName",), ("UserParameters",),
               emulated=False),
]
BY_KEY = {t.key: t for t in ACTION_TYPES}


def find(type_id: dict) -> ActionType | None:
    return BY_KEY.get((type_id.get("category"), type_id.get("owner"), type_id.get("provider"),
                       type_id.get("version")))


def summary(action_type: ActionType) -> dict:
    """The ActionType shape of ListActionTypes / GetActionType."""
    props = [{"name": k, "required": True, "key": True, "secret": False, "queryable": False}
             for k in action_type.required]
    props += [{"name": k, "required": False, "key": False, "secret": False, "queryable": False}
              for k in action_type.optional]
    return {
        "id": {"category": action_type.category, "owner": action_type.owner,
               "provider": action_type.provider, "version": action_type.version},
        "settings": {},
        "actionConfigurationProperties": props,
        "inputArtifactDetails": {"minimumCount": action_type.inputs[0],
                                 "maximumCount": action_type.inputs[1]},
        "outputArtifactDetails": {"minimumCount": action_type.outputs[0],
                                  "maximumCount": action_type.outputs[1]},
    }
