"""The AWS JSON protocol for labkit's own services: errors, serialisation, dispatch by operation."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel
from botocore.session import get_session
from botocore.validate import ParamValidator

from labkit.emulator.context import RequestContext

_service_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()


def service_model(name: str) -> ServiceModel:
    """botocore's model of a service: the reference for shapes, operations and enums."""
    with _models_lock:
        if name not in _service_models:
            _service_models[name] = get_session().get_service_model(name)
        return _service_models[name]


class AWSError(Exception):
    """An error answered as AWS does: HTTP status plus `{"__type": code, "message": ...}`."""

    code = "ServiceException"
    status = 400

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class ValidationException(AWSError):
    code = "ValidationException"


class UnknownOperationException(AWSError):
    code = "UnknownOperationException"


class NotEmulatedException(AWSError):
    """A real operation that labkit's emulator does not (yet) implement."""

    code = "NotImplementedException"


def to_json_value(value: Any) -> Any:
    """JSON protocol wire form: timestamps as epoch seconds, blobs as base64."""
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value


class JsonService:
    """Base of each owned service's responses: one snake_case method per operation.

    A method takes (params: dict, ctx: RequestContext) and returns the output dict.
    """

    service_name: str = ""
    # Raised for inputs that break botocore's model; a service may use its own exception.
    validation_error: type[AWSError] = ValidationException

    def __init__(self, runtime):
        self.runtime = runtime
        self.model = service_model(self.service_name)
        self.target_prefix = self.model.metadata["targetPrefix"]
        self._validator = ParamValidator()

    @property
    def title(self) -> str:
        return self.model.metadata.get("serviceId", self.service_name)

    def supported_operations(self) -> list[str]:
        return [op for op in self.model.operation_names if callable(getattr(self, xform_name(op), None))]

    def handle(self, operation: str, body: bytes, ctx: RequestContext) -> dict:
        if operation not in self.model.operation_names:
            raise UnknownOperationException(
                f"{self.title} has no operation named {operation!r}."
            )
        handler: Callable | None = getattr(self, xform_name(operation), None)
        if handler is None:
            raise NotEmulatedException(
                f"labkit's emulator does not emulate {self.title} {operation} yet. "
                f"Supported operations: {', '.join(self.supported_operations())}."
            )
        params = self._parse(body)
        op_model = self.model.operation_model(operation)
        self._validate(op_model, params)
        return to_json_value(handler(params, ctx) or {})

    def _parse(self, body: bytes) -> dict:
        if not body.strip():
            return {}
        try:
            params = json.loads(body)
        except ValueError:
            raise self.validation_error("The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise self.validation_error("The request body must be a JSON object.")
        return params

    def _validate(self, op_model: OperationModel, params: dict) -> None:
        if op_model.input_shape is None:
            return
        report = self._validator.validate(params, op_model.input_shape)
        if report.has_errors():
            problems = "; ".join(report.generate_report().splitlines())
            raise self.validation_error(f"{op_model.name}: {problems}")
