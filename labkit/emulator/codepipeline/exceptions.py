"""CodePipeline's error types, named as AWS names them."""

from labkit.emulator.json_api import AWSError


def _error(name: str) -> type[AWSError]:
    return type(name, (AWSError,), {"code": name})


ValidationException = _error("ValidationException")
PipelineNotFoundException = _error("PipelineNotFoundException")
PipelineNameInUseException = _error("PipelineNameInUseException")
PipelineVersionNotFoundException = _error("PipelineVersionNotFoundException")
PipelineExecutionNotFoundException = _error("PipelineExecutionNotFoundException")
PipelineExecutionNotStoppableException = _error("PipelineExecutionNotStoppableException")
DuplicatedStopRequestException = _error("DuplicatedStopRequestException")
InvalidStructureException = _error("InvalidStructureException")
InvalidStageDeclarationException = _error("InvalidStageDeclarationException")
InvalidActionDeclarationException = _error("InvalidActionDeclarationException")
InvalidApprovalTokenException = _error("InvalidApprovalTokenException")
ApprovalAlreadyCompletedException = _error("ApprovalAlreadyCompletedException")
StageNotFoundException = _error("StageNotFoundException")
ActionNotFoundException = _error("ActionNotFoundException")
StageNotRetryableException = _error("StageNotRetryableException")
NotLatestPipelineExecutionException = _error("NotLatestPipelineExecutionException")
ConflictException = _error("ConflictException")
InvalidNextTokenException = _error("InvalidNextTokenException")
ResourceNotFoundException = _error("ResourceNotFoundException")
InvalidTagsException = _error("InvalidTagsException")
ActionTypeNotFoundException = _error("ActionTypeNotFoundException")
