"""labkit: learn CI/CD on AWS by building it, against a local emulator or a sandbox account."""

__version__ = "0.1.0"

from labkit import teardown  # noqa: E402  (callable: labkit.teardown(lab, dry_run=True))
from labkit.errors import LabkitError  # noqa: E402
from labkit.lab import Lab, connect  # noqa: E402

__all__ = ["Lab", "LabkitError", "__version__", "connect", "teardown"]
