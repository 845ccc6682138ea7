"""CodeCommit's error types, named as AWS names them (see the `errors` of each operation in botocore)."""

from labkit.emulator.json_api import AWSError


class CodeCommitError(AWSError):
    """Base of CodeCommit's errors; the class name is the AWS exception name."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.code = cls.__name__


# Repositories and tags
class RepositoryDoesNotExistException(CodeCommitError):
    pass


class RepositoryNameExistsException(CodeCommitError):
    pass


class InvalidRepositoryNameException(CodeCommitError):
    pass


class InvalidRepositoryDescriptionException(CodeCommitError):
    pass


class InvalidSortByException(CodeCommitError):
    pass


class InvalidOrderException(CodeCommitError):
    pass


class InvalidContinuationTokenException(CodeCommitError):
    pass


class InvalidMaxResultsException(CodeCommitError):
    pass


class MaximumRepositoryNamesExceededException(CodeCommitError):
    pass


class RepositoryNamesRequiredException(CodeCommitError):
    pass


class InvalidResourceArnException(CodeCommitError):
    pass


class InvalidTagsMapException(CodeCommitError):
    pass


class TooManyTagsException(CodeCommitError):
    pass


class InvalidSystemTagUsageException(CodeCommitError):
    pass


class InvalidTagKeysListException(CodeCommitError):
    pass


# Branches, files, commits
class BranchDoesNotExistException(CodeCommitError):
    pass


class BranchNameExistsException(CodeCommitError):
    pass


class InvalidBranchNameException(CodeCommitError):
    pass


class DefaultBranchCannotBeDeletedException(CodeCommitError):
    pass


class CommitDoesNotExistException(CodeCommitError):
    pass


class CommitIdDoesNotExistException(CodeCommitError):
    pass


class InvalidCommitIdException(CodeCommitError):
    pass


class InvalidCommitException(CodeCommitError):
    pass


class CommitIdsLimitExceededException(CodeCommitError):
    pass


class ParentCommitIdRequiredException(CodeCommitError):
    pass


class ParentCommitIdOutdatedException(CodeCommitError):
    pass


class ParentCommitDoesNotExistException(CodeCommitError):
    pass


class InvalidParentCommitIdException(CodeCommitError):
    pass


class FileContentSizeLimitExceededException(CodeCommitError):
    pass


class FileContentRequiredException(CodeCommitError):
    pass


class FileDoesNotExistException(CodeCommitError):
    pass


class FolderDoesNotExistException(CodeCommitError):
    pass


class PathDoesNotExistException(CodeCommitError):
    pass


class InvalidPathException(CodeCommitError):
    pass


class PathRequiredException(CodeCommitError):
    pass


class SameFileContentException(CodeCommitError):
    pass


class NoChangeException(CodeCommitError):
    pass


class FileEntryRequiredException(CodeCommitError):
    pass


class MaximumFileEntriesExceededException(CodeCommitError):
    pass


class PutFileEntryConflictException(CodeCommitError):
    pass


class SamePathRequestException(CodeCommitError):
    pass


class SourceFileOrContentRequiredException(CodeCommitError):
    pass


class FileContentAndSourceFileSpecifiedException(CodeCommitError):
    pass


class FileNameConflictsWithDirectoryNameException(CodeCommitError):
    pass


class DirectoryNameConflictsWithFileNameException(CodeCommitError):
    pass


class NameLengthExceededException(CodeCommitError):
    pass


class InvalidEmailException(CodeCommitError):
    pass


class CommitMessageLengthExceededException(CodeCommitError):
    pass


class BlobIdDoesNotExistException(CodeCommitError):
    pass


class InvalidBlobIdException(CodeCommitError):
    pass


class FileTooLargeException(CodeCommitError):
    pass


# Pull requests
class PullRequestDoesNotExistException(CodeCommitError):
    pass


class InvalidPullRequestIdException(CodeCommitError):
    pass


class ReferenceDoesNotExistException(CodeCommitError):
    pass


class InvalidReferenceNameException(CodeCommitError):
    pass


class ReferenceTypeNotSupportedException(CodeCommitError):
    pass


class SourceAndDestinationAreSameException(CodeCommitError):
    pass


class MultipleRepositoriesInPullRequestException(CodeCommitError):
    pass


class InvalidTargetsException(CodeCommitError):
    pass


class InvalidTitleException(CodeCommitError):
    pass


class InvalidDescriptionException(CodeCommitError):
    pass


class IdempotencyParameterMismatchException(CodeCommitError):
    pass


class PullRequestAlreadyClosedException(CodeCommitError):
    pass


class InvalidPullRequestStatusUpdateException(CodeCommitError):
    pass


class InvalidAuthorArnException(CodeCommitError):
    pass


class InvalidActorArnException(CodeCommitError):
    pass


class ManualMergeRequiredException(CodeCommitError):
    pass


class TipOfSourceReferenceIsDifferentException(CodeCommitError):
    pass


class RepositoryNotAssociatedWithPullRequestException(CodeCommitError):
    pass


class ConcurrentReferenceUpdateException(CodeCommitError):
    pass


class PullRequestApprovalRulesNotSatisfiedException(CodeCommitError):
    pass


class InvalidConflictResolutionException(CodeCommitError):
    pass


class CommentContentRequiredException(CodeCommitError):
    pass


class CommentContentSizeLimitExceededException(CodeCommitError):
    pass


class BeforeCommitIdAndAfterCommitIdAreSameException(CodeCommitError):
    pass


class InvalidFileLocationException(CodeCommitError):
    pass


# Approval rules
class ApprovalRuleTemplateNameAlreadyExistsException(CodeCommitError):
    pass


class ApprovalRuleTemplateDoesNotExistException(CodeCommitError):
    pass


class ApprovalRuleTemplateInUseException(CodeCommitError):
    pass


class InvalidApprovalRuleTemplateNameException(CodeCommitError):
    pass


class InvalidApprovalRuleTemplateContentException(CodeCommitError):
    pass


class InvalidApprovalRuleTemplateDescriptionException(CodeCommitError):
    pass


class NumberOfRuleTemplatesExceededException(CodeCommitError):
    pass


class MaximumRuleTemplatesAssociatedWithRepositoryException(CodeCommitError):
    pass


class ApprovalRuleNameAlreadyExistsException(CodeCommitError):
    pass


class InvalidApprovalRuleNameException(CodeCommitError):
    pass


class InvalidApprovalRuleContentException(CodeCommitError):
    pass


class NumberOfRulesExceededException(CodeCommitError):
    pass


class InvalidRevisionIdException(CodeCommitError):
    pass


class RevisionNotCurrentException(CodeCommitError):
    pass


class PullRequestCannotBeApprovedByAuthorException(CodeCommitError):
    pass


# Triggers
class MaximumRepositoryTriggersExceededException(CodeCommitError):
    pass


class InvalidRepositoryTriggerNameException(CodeCommitError):
    pass


class InvalidRepositoryTriggerDestinationArnException(CodeCommitError):
    pass


class InvalidRepositoryTriggerRegionException(CodeCommitError):
    pass


class InvalidRepositoryTriggerCustomDataException(CodeCommitError):
    pass


class InvalidRepositoryTriggerBranchNameException(CodeCommitError):
    pass


class InvalidRepositoryTriggerEventsException(CodeCommitError):
    pass


class MaximumBranchesExceededException(CodeCommitError):
    pass


class RepositoryNameRequiredException(CodeCommitError):
    pass


class BranchNameRequiredException(CodeCommitError):
    pass


class CommitIdRequiredException(CodeCommitError):
    pass


class PullRequestIdRequiredException(CodeCommitError):
    pass


class ApprovalRuleDoesNotExistException(CodeCommitError):
    pass


class InvalidRuleContentSha256Exception(CodeCommitError):
    pass


class CannotModifyApprovalRuleFromTemplateException(CodeCommitError):
    pass


class CannotDeleteApprovalRuleFromTemplateException(CodeCommitError):
    pass


class InvalidMergeOptionException(CodeCommitError):
    pass


class CommentDoesNotExistException(CodeCommitError):
    pass


class CommentDeletedException(CodeCommitError):
    pass


class CommentIdRequiredException(CodeCommitError):
    pass


class CommentNotCreatedByCallerException(CodeCommitError):
    pass


class InvalidTargetBranchException(CodeCommitError):
    pass
