"""Resolve `#{namespace.Variable}` references in action configuration, as CodePipeline does."""

from __future__ import annotations

import re

REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


class UnresolvedVariable(Exception):
    pass


def resolve(value: str, namespaces: dict[str, dict[str, str]]) -> str:
    def replace(match: re.Match) -> str:
        namespace, name = match.groups()
        values = namespaces.get(namespace)
        if values is None or name not in values:
            raise UnresolvedVariable(
                f"Unable to resolve the variable '#{{{namespace}.{name}}}': "
                + (f"namespace '{namespace}' has no variable '{name}'" if values is not None
                   else f"no action with namespace '{namespace}' has run before this action"))
        return str(values[name])

    return REFERENCE.sub(replace, value)


def resolve_configuration(configuration: dict, namespaces: dict[str, dict[str, str]]) -> dict:
    return {key: resolve(str(value), namespaces) for key, value in configuration.items()}
