"""CodeBuild's error types, named as AWS names them."""

from labkit.emulator.json_api import AWSError


class InvalidInputException(AWSError):
    code = "InvalidInputException"


class ResourceNotFoundException(AWSError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(AWSError):
    code = "ResourceAlreadyExistsException"


class AccountLimitExceededException(AWSError):
    code = "AccountLimitExceededException"
