"""Lab: boto3 clients for the chosen backend, resource naming and tagging; connect() makes one."""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound

from labkit import cli_guard, emulator_control
from labkit.config import LabConfig, load_config
from labkit.errors import LabkitError
from labkit.guard import attach_guard, check_sandbox_account, guard_for_lab
from labkit.tags import LabTags

# The emulator ignores signatures; these dummy keys keep real credentials out of local labs.
LOCAL_ACCESS_KEY = "labkit-local"
LOCAL_SECRET_KEY = "labkit-local-secret"
_EXPORTED_FOR_LOCAL = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class Lab:
    """One learner's lab on one backend: `lab.client("codebuild")` is a plain boto3 client."""

    def __init__(self, config: LabConfig, session: boto3.Session, endpoint_url: str | None = None):
        self.config = config
        self.session = session
        self.endpoint_url = endpoint_url
        self.tags = LabTags(config.prefix, config.learner_id)
        self._clients: dict[str, object] = {}

    @property
    def backend(self) -> str:
        return self.config.backend

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def prefix(self) -> str:
        return self.config.prefix

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def name(self, suffix: str) -> str:
        """A resource name inside this lab: `<prefix>-<suffix>`."""
        return f"{self.prefix}-{suffix}"

    def ensure(self, chapter: str):
        """Create, idempotently, what chapters before `chapter` leave; a table says what was done."""
        from labkit.ensure import ensure

        return ensure(self, chapter)

    def client(self, service: str, **kwargs):
        """A boto3 client for `service` on this lab's backend (cached when no kwargs are given)."""
        if kwargs:
            return self._make_client(service, **kwargs)
        if service not in self._clients:
            self._clients[service] = self._make_client(service)
        return self._clients[service]

    def resource(self, service: str, **kwargs):
        kwargs.setdefault("region_name", self.region)
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
            kwargs.setdefault("config", _local_config(service))
        resource = self.session.resource(service, **kwargs)
        attach_guard(resource.meta.client, self)  # aws backend: no change outside the sandbox
        return resource

    def _make_client(self, service: str, **kwargs):
        kwargs.setdefault("region_name", self.region)
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
            kwargs.setdefault("config", _local_config(service))
        client = self.session.client(service, **kwargs)
        attach_guard(client, self)  # aws backend: no change outside the sandbox
        return client

    def __repr__(self) -> str:
        where = self.endpoint_url or f"account {self.__dict__.get('account_id', '?')}"
        return f"<Lab backend={self.backend} region={self.region} prefix={self.prefix} at {where}>"


def _local_config(service: str) -> Config:
    # Path-style S3 addressing: bucket names cannot be looked up as hosts under 127.0.0.1.
    s3 = {"addressing_style": "path"} if service == "s3" else None
    return Config(s3=s3, retries={"max_attempts": 2, "mode": "standard"})


def connect(
    backend: str | None = None,
    region: str | None = None,
    prefix: str | None = None,
    profile: str | None = None,
    *,
    port: int | None = None,
    state_dir: str | Path | None = None,
) -> Lab:
    """Open a lab on the local emulator (started if needed) or on a sandbox AWS account."""
    config = load_config(backend=backend, region=region, prefix=prefix, profile=profile,
                         port=port, state_dir=state_dir)
    _put_interpreter_on_path()
    if config.backend == "local":
        return _connect_local(config)
    return _connect_aws(config)


def _connect_local(config: LabConfig) -> Lab:
    cli_guard.switch_off()  # a kernel that used the aws backend before: the emulator needs no guard
    info = emulator_control.start(config.state_dir, config.port)
    # Exported so that `!aws ...` cells, git and other subprocesses reach the emulator too.
    os.environ.update({
        "AWS_ENDPOINT_URL": info.url,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_REGION": config.region,
    })
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    session = boto3.Session(aws_access_key_id=LOCAL_ACCESS_KEY,
                            aws_secret_access_key=LOCAL_SECRET_KEY, region_name=config.region)
    return Lab(config.with_changes(port=info.port), session, endpoint_url=info.url)


def _connect_aws(config: LabConfig) -> Lab:
    # A kernel that used the local backend before must not send real calls to the emulator.
    if os.environ.get("AWS_ACCESS_KEY_ID") == LOCAL_ACCESS_KEY:
        for name in _EXPORTED_FOR_LOCAL:
            os.environ.pop(name, None)
    if "AWS_ENDPOINT_URL" in os.environ:
        raise LabkitError(
            f"AWS_ENDPOINT_URL is set ({os.environ['AWS_ENDPOINT_URL']}), so calls would not "
            "reach AWS. Unset it to use the aws backend."
        )
    try:
        session = boto3.Session(profile_name=config.profile, region_name=config.region)
        lab = Lab(config, session)
        # get_caller_identity is read-only; nothing is created before the guard has spoken.
        account_id = lab.account_id
    except ProfileNotFound:
        raise LabkitError(f"AWS profile {config.profile!r} is not configured; "
                          "run `aws configure --profile NAME` or choose another.") from None
    except NoCredentialsError:
        raise LabkitError("No AWS credentials found for the aws backend: run `aws configure`, "
                          "set a profile, or use backend='local'.") from None
    except ClientError as exc:
        raise LabkitError(f"AWS refused the credentials: {exc}") from None
    check_sandbox_account(account_id, config.sandbox_accounts)
    # Clients made straight from lab.session, and `!aws` cells, obey the same guard.
    guard_for_lab(lab).attach_to_session(session)
    cli_guard.switch_on(config.state_dir)
    os.environ["AWS_DEFAULT_REGION"] = config.region
    return lab


def _put_interpreter_on_path() -> None:
    """So `!aws` and `!cfn-lint` in a kernel find the tools installed beside this Python."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])
