"""Who is calling: the IAM user or assumed role that owns the request's access key in moto, or a
default learner."""

from __future__ import annotations

from labkit.emulator.context import RequestContext

DEFAULT_USER = "labkit-learner"


def caller_arn(ctx: RequestContext) -> str:
    """The caller's ARN. Keys moto's IAM never issued (the dummy keys notebooks use) map to
    `arn:aws:iam::<account>:user/labkit-learner`, so approvals and authors stay meaningful."""
    if not ctx.access_key:
        return default_arn(ctx.account_id)
    return (_user_for_key(ctx.account_id, ctx.access_key)
            or _role_for_key(ctx.account_id, ctx.access_key)
            or default_arn(ctx.account_id))


def default_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:user/{DEFAULT_USER}"


def user_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _user_for_key(account_id: str, access_key: str) -> str | None:
    try:
        from moto.iam.models import iam_backends

        backend = iam_backends[account_id]["aws"]
        for user in list(backend.users.values()):
            if any(key.access_key_id == access_key for key in user.access_keys):
                return user.arn
    except Exception:  # moto's internals moved: fall back to the default identity
        return None
    return None


def _role_for_key(account_id: str, access_key: str) -> str | None:
    """Temporary credentials from STS AssumeRole: arn:aws:sts::<account>:assumed-role/<role>/<session>."""
    try:
        from moto.sts.models import sts_backends

        role = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key)
        return role.arn if role else None
    except Exception:  # moto's internals moved: fall back to the default identity
        return None
