"""Opaque continuation tokens for CodeCommit's list operations."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar

from labkit.emulator.codecommit.exceptions import (
    InvalidContinuationTokenException,
    InvalidMaxResultsException,
)

T = TypeVar("T")


def page(items: Sequence[T], token: str | None, size: int) -> tuple[list[T], str | None]:
    """One page of `items` from the position `token` names, and the token of the next page."""
    start = _offset(token) if token else 0
    chunk = list(items[start:start + size])
    end = start + len(chunk)
    return chunk, (_token(end) if end < len(items) else None)


def page_size(max_results: int | None, default: int, maximum: int) -> int:
    if max_results is None:
        return default
    if not 1 <= max_results <= maximum:
        raise InvalidMaxResultsException(
            f"The specified number of maximum results is not valid: {max_results}. "
            f"It must be between 1 and {maximum}.")
    return max_results


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except Exception:  # any undecodable token is simply invalid
        pass
    raise InvalidContinuationTokenException("The specified continuation token is not valid.")
