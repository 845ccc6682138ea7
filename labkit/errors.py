"""Errors labkit raises for expected problems: one clear line saying what is wrong and how to fix it."""


class LabkitError(Exception):
    """An expected problem with a message meant for a person (no traceback needed)."""


class ConfigError(LabkitError):
    """A setting (argument, environment variable or labkit.toml) is invalid."""


class EmulatorError(LabkitError):
    """The local emulator could not be started, reached or stopped."""


class SandboxRefused(LabkitError):
    """The aws backend was pointed at an account that is not declared a sandbox."""
