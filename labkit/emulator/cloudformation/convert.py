"""CloudFormation properties to API input, guided by botocore's shapes; property errors as CloudFormation words them."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape


class PropertiesInvalid(Exception):
    """A resource's properties break its type's schema: CREATE_FAILED before any API call."""

    def __init__(self, logical_id: str, problem: str):
        super().__init__(f"Properties validation failed for resource {logical_id} with message:\n"
                         f"{problem}")


def require(logical_id: str, properties: dict, required: tuple[str, ...]) -> None:
    """AWS's schema check, in its words: `#: required key [Name] not found`."""
    missing = [key for key in required if key not in properties]
    if missing:
        raise PropertiesInvalid(logical_id, "\n".join(f"#: required key [{key}] not found"
                                                      for key in missing))


def to_api(logical_id: str, value: Any, shape: Shape, path: str = "") -> Any:
    """Rename CloudFormation's PascalCase keys to the API's members (matched ignoring case)
    and coerce template strings to the shape's numbers and booleans."""
    kind = shape.type_name
    where = f"#{path}" if path else "#"
    if kind == "structure":
        if not isinstance(value, dict):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: JSONObject, found: "
                                                f"{_json_type(value)}")
        members = {name.lower(): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            member = members.get(key.lower())
            if member is None:
                raise PropertiesInvalid(logical_id, f"{where}: extraneous key [{key}] is not "
                                                    "permitted")
            converted[member] = to_api(logical_id, item, shape.members[member], f"{path}/{key}")
        return converted
    if kind == "list":
        if not isinstance(value, list):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: JSONArray, found: "
                                                f"{_json_type(value)}")
        return [to_api(logical_id, item, shape.member, f"{path}/{i}") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: JSONObject, found: "
                                                f"{_json_type(value)}")
        return {str(k): to_api(logical_id, v, shape.value, f"{path}/{k}") for k, v in value.items()}
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise PropertiesInvalid(logical_id, f"{where}: expected type: Boolean, found: "
                                            f"{_json_type(value)}")
    if kind in ("integer", "long"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: Integer, found: "
                                                f"{_json_type(value)}") from None
    if kind in ("double", "float"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: Number, found: "
                                                f"{_json_type(value)}") from None
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            raise PropertiesInvalid(logical_id, f"{where}: expected type: String, found: "
                                                f"{_json_type(value)}")
    return value


def tags_as_list(tags: list[dict] | None, key: str = "key", value: str = "value") -> list[dict]:
    return [{key: t["Key"], value: t["Value"]} for t in tags or []]


def tags_as_map(tags: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "JSONObject"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    return "String"
