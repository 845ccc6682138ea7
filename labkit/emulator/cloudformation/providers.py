"""CloudFormation resource types for labkit's own services, registered into moto's template parser."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from labkit.emulator.cloudformation.convert import (
    PropertiesInvalid,
    require,
    tags_as_list,
    tags_as_map,
    to_api,
)
from labkit.emulator.context import RequestContext
from labkit.emulator.json_api import AWSError, service_model

_runtime = None  # set by install(): the emulator whose services the resources live in


def bind(runtime) -> None:
    global _runtime
    _runtime = runtime


class HandlerFailed(Exception):
    """A service refused the call; the message reads as CloudFormation's resource handlers word it."""

    def __init__(self, service_title: str, error: AWSError):
        code = error.code
        handler_code = ("AlreadyExists" if "Exists" in code and "DoesNot" not in code else
                        "NotFound" if "DoesNotExist" in code or "NotFound" in code else
                        "InvalidRequest")
        self.handler_code = handler_code
        super().__init__(
            f'Resource handler returned message: "{error.message} (Service: {service_title}, '
            f'Status Code: {error.status}, Request ID: {uuid.uuid4()})" '
            f"(HandlerErrorCode: {handler_code})")
        self.code = code


class ReplacementRefused(Exception):
    def __init__(self, logical_id: str, name: str):
        super().__init__(f"CloudFormation cannot update a stack when a custom-named resource "
                         f"requires replacing. Rename {name} and update the stack again.")


def call(service: str, operation: str, params: dict, account_id: str, region: str) -> dict:
    """One call of a labkit service's public JSON API, in process."""
    target = _runtime.service(service)
    body = json.dumps(params).encode()
    try:
        return target.handle(operation, body, RequestContext(account_id=account_id, region=region))
    except AWSError as err:
        raise HandlerFailed(target.title, err) from None


def api_input(logical_id: str, service: str, operation: str, properties: dict,
              skip: tuple[str, ...] = ()) -> dict:
    shape = service_model(service).operation_model(operation).input_shape
    kept = {k: v for k, v in properties.items() if k not in skip}
    return to_api(logical_id, kept, shape)


class LabkitResource:
    """What every emulated type shares. Each concrete class also subclasses moto's
    CloudFormationModel directly: moto finds types through `__subclasses__()`."""

    TYPE = ""
    NAME_PROPERTY = ""
    REQUIRED: tuple[str, ...] = ()
    ATTRIBUTES: tuple[str, ...] = ()
    # Changing one of these makes CloudFormation create a new resource and delete the old one.
    REPLACE_ON: tuple[str, ...] = ()

    def __init__(self, logical_id: str, name: str, account_id: str, region: str,
                 properties: dict, physical_id: str | None = None):
        self.logical_id = logical_id
        self.name = name
        self.account_id = account_id
        self.region = region
        self.properties = properties
        self._physical_id = physical_id or name
        self.replaces: LabkitResource | None = None  # the old resource an update replaced

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, attribute: str) -> Any:
        if attribute not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.attribute(attribute)

    def attribute(self, attribute: str) -> Any:
        return self.name

    # --- moto's entry points -----------------------------------------------------------
    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict,
                                        account_id: str, region_name: str, **kwargs: Any):
        logical_id = kwargs.get("LogicalId", resource_name)
        properties = cloudformation_json.get("Properties") or {}
        require(logical_id, properties, cls.REQUIRED)
        return cls.create(logical_id, resource_name, properties, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name: str,
                                        cloudformation_json: dict, account_id: str,
                                        region_name: str):
        old = original_resource
        properties = cloudformation_json.get("Properties") or {}
        require(old.logical_id, properties, cls.REQUIRED)
        if properties == old.properties:
            return old
        named = bool(cls.NAME_PROPERTY) and cls.NAME_PROPERTY in properties
        if any(properties.get(k) != old.properties.get(k) for k in cls.REPLACE_ON):
            if named and properties[cls.NAME_PROPERTY] == old.name:
                raise ReplacementRefused(old.logical_id, old.name)
            # moto generated a fresh name for an unnamed resource: the replacement takes it
            new = cls.create(old.logical_id, new_resource_name, properties, account_id, region_name)
            new.replaces = old
            return new
        old.update(properties)
        old.properties = properties
        return old

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict,
                                        account_id: str, region_name: str) -> None:
        raise NotImplementedError  # labkit's resources delete through their instance

    # --- what each type implements -------------------------------------------------------
    @classmethod
    def create(cls, logical_id: str, name: str, properties: dict, account_id: str, region: str):
        raise NotImplementedError

    def update(self, properties: dict) -> None:
        raise NotImplementedError

    def delete(self, account_id: str | None = None, region: str | None = None) -> None:
        raise NotImplementedError


class CodeCommitRepository(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodeCommit::Repository"
    NAME_PROPERTY = "RepositoryName"
    REQUIRED = ("RepositoryName",)
    ATTRIBUTES = ("Arn", "CloneUrlHttp", "CloneUrlSsh", "Name")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        _only(logical_id, properties, ("RepositoryName", "RepositoryDescription", "Code",
                                       "Triggers", "Tags", "KmsKeyId"))
        if properties.get("Code"):
            _code_files(logical_id, properties["Code"], account_id)  # check it before creating
        params = {"repositoryName": name}
        if properties.get("RepositoryDescription"):
            params["repositoryDescription"] = properties["RepositoryDescription"]
        if properties.get("Tags"):
            params["tags"] = tags_as_map(properties["Tags"])
        if properties.get("KmsKeyId"):
            params["kmsKeyId"] = properties["KmsKeyId"]
        meta = call("codecommit", "CreateRepository", params, account_id, region)["repositoryMetadata"]
        repo = cls(logical_id, name, account_id, region, properties, meta["repositoryId"])
        try:  # nothing half-made: a refused trigger or seed commit removes the repository again
            repo._put_triggers(properties.get("Triggers"))
            if properties.get("Code"):
                repo._seed(properties["Code"])
        except Exception:
            repo.delete()
            raise
        return repo

    def _put_triggers(self, triggers: list | None) -> None:
        if triggers is None:
            return
        converted = [to_api(self.logical_id, t, service_model("codecommit").shape_for(
            "RepositoryTrigger"), f"/Triggers/{i}") for i, t in enumerate(triggers)]
        call("codecommit", "PutRepositoryTriggers",
             {"repositoryName": self.name, "triggers": converted}, self.account_id, self.region)

    def _seed(self, code: dict) -> None:
        files = _code_files(self.logical_id, code, self.account_id)
        call("codecommit", "CreateCommit", {
            "repositoryName": self.name, "branchName": code.get("BranchName", "main"),
            "commitMessage": "Initial commit by AWS CloudFormation",
            "putFiles": [{"filePath": path, "fileContent": base64.b64encode(data).decode(),
                          "fileMode": mode} for path, (data, mode) in files.items()],
        }, self.account_id, self.region)

    def attribute(self, attribute):
        meta = call("codecommit", "GetRepository", {"repositoryName": self.name},
                    self.account_id, self.region)["repositoryMetadata"]
        return {"Arn": meta["Arn"], "CloneUrlHttp": meta["cloneUrlHttp"],
                "CloneUrlSsh": meta["cloneUrlSsh"], "Name": meta["repositoryName"]}[attribute]

    def update(self, properties):
        _only(self.logical_id, properties, ("RepositoryName", "RepositoryDescription", "Code",
                                            "Triggers", "Tags", "KmsKeyId"))
        if properties["RepositoryName"] != self.name:
            call("codecommit", "UpdateRepositoryName", {
                "oldName": self.name, "newName": properties["RepositoryName"]},
                self.account_id, self.region)
            self.name = properties["RepositoryName"]
        if properties.get("RepositoryDescription") != self.properties.get("RepositoryDescription"):
            call("codecommit", "UpdateRepositoryDescription", {
                "repositoryName": self.name,
                "repositoryDescription": properties.get("RepositoryDescription", "")},
                self.account_id, self.region)
        if properties.get("Triggers") != self.properties.get("Triggers"):
            self._put_triggers(properties.get("Triggers") or [])

    def delete(self, account_id=None, region=None):
        call("codecommit", "DeleteRepository", {"repositoryName": self.name},
             self.account_id, self.region)


class CodeBuildProject(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodeBuild::Project"
    NAME_PROPERTY = "Name"
    REQUIRED = ("Artifacts", "Environment", "ServiceRole", "Source")
    ATTRIBUTES = ("Arn",)
    REPLACE_ON = ("Name",)
    # Template-only settings the API sets elsewhere (webhooks, visibility): accepted, not applied.
    NOT_APPLIED = ("Triggers", "Visibility", "ResourceAccessRole")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        params = api_input(logical_id, "codebuild", "CreateProject", properties,
                           skip=cls.NOT_APPLIED)
        params["name"] = name
        project = call("codebuild", "CreateProject", params, account_id, region)["project"]
        resource = cls(logical_id, name, account_id, region, properties)
        resource.arn = project["arn"]
        return resource

    def attribute(self, attribute):
        return self.arn

    def update(self, properties):
        params = api_input(self.logical_id, "codebuild", "UpdateProject", properties,
                           skip=self.NOT_APPLIED)
        params["name"] = self.name
        call("codebuild", "UpdateProject", params, self.account_id, self.region)

    def delete(self, account_id=None, region=None):
        call("codebuild", "DeleteProject", {"name": self.name}, self.account_id, self.region)


class CodeDeployApplication(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodeDeploy::Application"
    NAME_PROPERTY = "ApplicationName"
    REPLACE_ON = ("ApplicationName", "ComputePlatform")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        params = api_input(logical_id, "codedeploy", "CreateApplication", properties)
        params["applicationName"] = name
        call("codedeploy", "CreateApplication", params, account_id, region)
        return cls(logical_id, name, account_id, region, properties)

    def update(self, properties):
        # Only tags can change in place (the emulator keeps those given at create); the
        # properties are still checked as at create.
        api_input(self.logical_id, "codedeploy", "CreateApplication", properties)

    def delete(self, account_id=None, region=None):
        call("codedeploy", "DeleteApplication", {"applicationName": self.name},
             self.account_id, self.region)


class CodeDeployDeploymentConfig(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodeDeploy::DeploymentConfig"
    NAME_PROPERTY = "DeploymentConfigName"
    REPLACE_ON = ("DeploymentConfigName", "ComputePlatform", "MinimumHealthyHosts",
                  "TrafficRoutingConfig", "ZonalConfig")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        params = api_input(logical_id, "codedeploy", "CreateDeploymentConfig", properties)
        params["deploymentConfigName"] = name
        call("codedeploy", "CreateDeploymentConfig", params, account_id, region)
        return cls(logical_id, name, account_id, region, properties)

    def update(self, properties):
        pass  # every property replaces the config (REPLACE_ON)

    def delete(self, account_id=None, region=None):
        call("codedeploy", "DeleteDeploymentConfig", {"deploymentConfigName": self.name},
             self.account_id, self.region)


class CodeDeployDeploymentGroup(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodeDeploy::DeploymentGroup"
    NAME_PROPERTY = "DeploymentGroupName"
    REQUIRED = ("ApplicationName", "ServiceRoleArn")
    REPLACE_ON = ("ApplicationName", "DeploymentGroupName")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        if properties.get("Deployment"):
            raise PropertiesInvalid(logical_id, "#/Deployment: labkit's emulator does not run "
                                    "a deployment at stack creation; start one from the pipeline.")
        params = api_input(logical_id, "codedeploy", "CreateDeploymentGroup",
                           _tag_sets(properties))
        params["deploymentGroupName"] = name
        call("codedeploy", "CreateDeploymentGroup", params, account_id, region)
        group = cls(logical_id, name, account_id, region, properties)
        group.application = properties["ApplicationName"]
        return group

    def update(self, properties):
        params = api_input(self.logical_id, "codedeploy", "UpdateDeploymentGroup",
                           _tag_sets({k: v for k, v in properties.items()
                                      if k not in ("DeploymentGroupName", "Tags")}))
        params["currentDeploymentGroupName"] = self.name
        call("codedeploy", "UpdateDeploymentGroup", params, self.account_id, self.region)

    def delete(self, account_id=None, region=None):
        call("codedeploy", "DeleteDeploymentGroup", {
            "applicationName": self.application, "deploymentGroupName": self.name},
            self.account_id, self.region)


class CodePipelinePipeline(LabkitResource, CloudFormationModel):
    TYPE = "AWS::CodePipeline::Pipeline"
    NAME_PROPERTY = "Name"
    REQUIRED = ("RoleArn", "Stages")
    ATTRIBUTES = ("Version",)
    REPLACE_ON = ("Name",)
    STACK_ONLY = ("Tags", "DisableInboundStageTransitions", "RestartExecutionOnUpdate")

    @classmethod
    def create(cls, logical_id, name, properties, account_id, region):
        if not properties.get("ArtifactStore") and not properties.get("ArtifactStores"):
            raise PropertiesInvalid(logical_id, "#: required key [ArtifactStore] not found "
                                    "(or ArtifactStores)")
        params = {"pipeline": cls._declaration(logical_id, name, properties)}
        if properties.get("Tags"):
            params["tags"] = tags_as_list(properties["Tags"])
        call("codepipeline", "CreatePipeline", params, account_id, region)
        pipeline = cls(logical_id, name, account_id, region, properties)
        try:
            pipeline._disable_transitions(properties)
        except Exception:
            pipeline.delete()
            raise
        return pipeline

    @classmethod
    def _declaration(cls, logical_id: str, name: str, properties: dict) -> dict:
        declared = {k: v for k, v in properties.items() if k not in cls.STACK_ONLY}
        stores = declared.pop("ArtifactStores", None)
        shape = service_model("codepipeline").shape_for("PipelineDeclaration")
        pipeline = to_api(logical_id, declared, shape)
        if stores:  # a list of {Region, ArtifactStore} in templates, a map in the API
            store_shape = service_model("codepipeline").shape_for("ArtifactStore")
            pipeline["artifactStores"] = {
                s["Region"]: to_api(logical_id, s["ArtifactStore"], store_shape,
                                    f"/ArtifactStores/{i}/ArtifactStore")
                for i, s in enumerate(stores)}
        pipeline["name"] = name
        return pipeline

    def _disable_transitions(self, properties: dict) -> None:
        for entry in properties.get("DisableInboundStageTransitions") or []:
            call("codepipeline", "DisableStageTransition", {
                "pipelineName": self.name, "stageName": entry["StageName"],
                "transitionType": "Inbound", "reason": entry["Reason"]},
                self.account_id, self.region)

    def attribute(self, attribute):
        found = call("codepipeline", "GetPipeline", {"name": self.name},
                     self.account_id, self.region)
        return str(found["pipeline"]["version"])

    def update(self, properties):
        call("codepipeline", "UpdatePipeline",
             {"pipeline": self._declaration(self.logical_id, self.name, properties)},
             self.account_id, self.region)
        for old in self.properties.get("DisableInboundStageTransitions") or []:
            call("codepipeline", "EnableStageTransition", {
                "pipelineName": self.name, "stageName": old["StageName"],
                "transitionType": "Inbound"}, self.account_id, self.region)
        self._disable_transitions(properties)
        if str(properties.get("RestartExecutionOnUpdate", "false")).lower() == "true":
            call("codepipeline", "StartPipelineExecution", {"name": self.name},
                 self.account_id, self.region)

    def delete(self, account_id=None, region=None):
        call("codepipeline", "DeletePipeline", {"name": self.name}, self.account_id, self.region)


PROVIDERS = (CodeCommitRepository, CodeBuildProject, CodeDeployApplication,
             CodeDeployDeploymentConfig, CodeDeployDeploymentGroup, CodePipelinePipeline)


def _only(logical_id: str, properties: dict, allowed: tuple[str, ...]) -> None:
    for key in properties:
        if key not in allowed:
            raise PropertiesInvalid(logical_id, f"#: extraneous key [{key}] is not permitted")


def _tag_sets(properties: dict) -> dict:
    """Templates wrap each tag group in an object ({Ec2TagGroup: [...]}); the API nests lists."""
    converted = dict(properties)
    for outer, inner_list, group in (("Ec2TagSet", "Ec2TagSetList", "Ec2TagGroup"),
                                     ("OnPremisesTagSet", "OnPremisesTagSetList",
                                      "OnPremisesTagGroup")):
        if isinstance(converted.get(outer), dict):
            groups = converted[outer].get(inner_list) or []
            converted[outer] = {inner_list: [g.get(group, []) for g in groups]}
    if converted.get("Tags"):
        converted["Tags"] = tags_as_list(converted["Tags"], "Key", "Value")
    return converted


def _code_files(logical_id: str, code: dict, account_id: str) -> dict[str, tuple[bytes, str]]:
    """The zip a repository's Code.S3 names, read from the emulator's S3."""
    from moto.s3.models import s3_backends

    location = code.get("S3") or {}
    if not location.get("Bucket") or not location.get("Key"):
        raise PropertiesInvalid(logical_id, "#/Code/S3: required key [Bucket] and [Key] not found")
    backend = s3_backends[account_id]["aws"]
    try:
        key = backend.get_object(location["Bucket"], location["Key"],
                                 version_id=location.get("ObjectVersion"))
    except Exception:
        key = None
    if key is None:
        raise PropertiesInvalid(logical_id, f"#/Code/S3: the object s3://{location['Bucket']}/"
                                            f"{location['Key']} does not exist")
    files = {}
    with zipfile.ZipFile(io.BytesIO(key.value)) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                executable = (info.external_attr >> 16) & 0o111
                files[info.filename] = (archive.read(info),
                                        "EXECUTABLE" if executable else "NORMAL")
    return files
