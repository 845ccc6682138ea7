"""Checks every response of labkit's own services against botocore's output shape, in every test."""

from __future__ import annotations

import json

from botocore.model import OperationModel, Shape

OWNED_SERVICES = {"codecommit", "codebuild", "codedeploy", "codepipeline"}
# Error codes any JSON service may answer, beside the error shapes its model declares.
COMMON_ERRORS = {
    "ValidationException", "AccessDeniedException", "ThrottlingException",
    "UnknownOperationException", "NotImplementedException", "InternalFailure",
    "UnrecognizedClientException", "SerializationException",
}


class ShapeMismatch(AssertionError):
    """An emulated response that a real AWS response could not look like."""


def problems_in(value, shape: Shape, path: str = "") -> list[str]:
    """Everything in a raw JSON value that does not fit `shape` (empty list when it fits)."""
    where = path or "(root)"
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        found = []
        for key in value:
            if key not in shape.members:
                found.append(f"{where}: unknown member {key!r}")
        for key in shape.required_members:
            if key not in value:
                found.append(f"{where}: required member {key!r} is missing")
        for key, member in shape.members.items():
            if key in value:
                found += problems_in(value[key], member, f"{path}.{key}" if path else key)
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        found = []
        for i, item in enumerate(value):
            found += problems_in(item, shape.member, f"{path}[{i}]")
        return found
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map, got {type(value).__name__}"]
        found = []
        for key, item in value.items():
            found += problems_in(key, shape.key, f"{path}<key>")
            found += problems_in(item, shape.value, f"{path}[{key!r}]")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r} is not one of {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {value!r}"]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected true/false, got {value!r}"]
    if kind == "timestamp":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected epoch seconds, got {value!r}"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{where}: expected base64 text, got {value!r}"]
    return []


def check_response(operation: OperationModel, status: int, body: bytes) -> list[str]:
    """Problems with one raw HTTP response of `operation`."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return [f"{operation.name}: the body is not JSON: {body[:200]!r}"]
    if status >= 400:
        code = str(data.get("__type", "")).rsplit("#", 1)[-1]
        known = {s.name for s in operation.service_model.error_shapes} | COMMON_ERRORS
        found = [] if code in known else [f"{operation.name}: unknown error code {code!r}"]
        if not data.get("message"):
            found.append(f"{operation.name}: error {code!r} has no message")
        return found
    if operation.output_shape is None:
        return [] if data == {} else [f"{operation.name}: expected an empty body, got {data!r}"]
    return problems_in(data, operation.output_shape)


def attach_shape_checker(client) -> None:
    """Make every call of an owned-service client fail loudly if the response has a wrong shape."""
    service = client.meta.service_model.service_name
    if service not in OWNED_SERVICES:
        return

    def after_call(http_response, parsed, model, **_kwargs):
        found = check_response(model, http_response.status_code, http_response.content)
        if found:
            raise ShapeMismatch("\n".join(found))

    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}",
                                after_call)
