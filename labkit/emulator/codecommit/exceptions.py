"""CodeCommit's error types, named as AWS names them."""

from labkit.emulator.json_api import AWSError


class InvalidParameterException(AWSError):
    code = "InvalidParameterException"
