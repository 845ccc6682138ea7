"""Who is calling and where: account, region and access key read from a signed AWS request."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

DEFAULT_ACCOUNT_ID = "123456789012"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass(frozen=True)
class RequestContext:
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = "us-east-1"
    access_key: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def from_environ(cls, environ: dict) -> RequestContext:
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not match:
            return cls()
        access_key, region, _service = match.groups()
        return cls(account_id=account_for_access_key(access_key), region=region,
                   access_key=access_key)


def account_for_access_key(access_key: str) -> str:
    """moto's rule: a key it issued maps to its account; any other key to the default account."""
    try:
        from moto.iam.models import get_account_id_from
        return get_account_id_from(access_key) or DEFAULT_ACCOUNT_ID
    except Exception:  # moto internals moved: fall back rather than fail the request
        return DEFAULT_ACCOUNT_ID
