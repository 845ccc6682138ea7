"""CodePipeline's error types, named as AWS names them."""

from labkit.emulator.json_api import AWSError


class ValidationException(AWSError):
    code = "ValidationException"


class PipelineNotFoundException(AWSError):
    code = "PipelineNotFoundException"
