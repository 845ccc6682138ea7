"""What the CodeDeploy tests share: deployable bundles (the sample app assembled as its buildspec's
post_build does, variants of it, small hand-made revisions) put into S3, fleets of tagged
instances with a deployment group, and waiting for deployments."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_SRC = REPO_ROOT / "sample-app"
# Installed or generated files that a clone of the app never holds.
NOT_SOURCE = ("node_modules", "reports", "dist", ".npm-cache", "build-info.json",
              "deploy-info.json", "app.log", "app.pid", "FAIL_HEALTH")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CODEBUILD_", "npm_", "NPM_", "LABKIT_HOST_ROOT"))}
    cache = os.environ.get("LABKIT_NPM_CACHE")
    if cache:
        env["npm_config_cache"] = cache
    env["npm_config_update_notifier"] = "false"
    return env


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{args} in {cwd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")


def build_sample_bundle(work: Path) -> Path:
    """The sample app's revision folder, made by tools/bundle.sh from a clean copy of the source."""
    source = work / "sample-app"
    shutil.copytree(APP_SRC, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    _run(["node", "tools/write-build-info.js"], source)
    _run(["bash", "tools/bundle.sh", "dist"], source)
    return source / "dist"


def variant(bundle: Path, dest: Path, *, version: str | None = None, patch: str | None = None) -> Path:
    """A copy of `bundle` with another package.json version and/or a failure switch applied."""
    shutil.copytree(bundle, dest, symlinks=True)
    if version:
        manifest = dest / "package.json"
        data = json.loads(manifest.read_text())
        data["version"] = version
        manifest.write_text(json.dumps(data, indent=2) + "\n")
    if patch:
        patch_file = APP_SRC / "failures" / f"{patch}.patch"
        _run(["git", "apply", str(patch_file)], dest)
    return dest


def zip_folder(folder: Path) -> bytes:
    """A zip of the folder's contents (not the folder itself), keeping Unix file modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(folder).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def tgz_files(files: dict[str, tuple[str, int]]) -> bytes:
    """A tgz of {relative path: (text, mode)}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_files(files: dict[str, tuple[str, int]]) -> bytes:
    """A zip of {relative path: (text, mode)}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def s3_revision(s3, bucket: str, key: str, data: bytes, bundle_type: str = "zip") -> dict:
    """Upload `data` and return the CodeDeploy revision that names it."""
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return {"revisionType": "S3",
            "s3Location": {"bucket": bucket, "key": key, "bundleType": bundle_type}}


# --- fleets and deployments ----------------------------------------------------------------

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
DONE = ("Succeeded", "Failed", "Stopped")


def wait_until(predicate, timeout: float = 60, what: str = "condition", interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_for_deployment(cd, deployment_id: str, timeout: float = 240) -> dict:
    def finished():
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        return info if info["status"] in DONE else None

    return wait_until(finished, timeout, f"deployment {deployment_id} to finish", interval=0.3)


def emulator_hosts(emulator) -> dict[str, dict]:
    with urllib.request.urlopen(f"{emulator.url}/_labkit/hosts", timeout=10) as response:
        return {h["instanceId"]: h for h in json.load(response)["hosts"]}


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class Fleet:
    """Instances tagged Fleet=<unique value>, and a deployment group that targets them."""

    def __init__(self, aws, emulator, count: int, profile: str | None = "new"):
        """`profile`: an instance profile name, "new" for one that may read revisions, None for none."""
        from pipeline_helpers import make_instance_profile

        self.aws, self.emulator = aws, emulator
        self.tag = uuid.uuid4().hex[:10]
        ec2 = aws("ec2")
        if profile == "new":
            profile = make_instance_profile(aws)
        reservation = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=count, MaxCount=count,
            **({"IamInstanceProfile": {"Name": profile}} if profile else {}),
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Fleet", "Value": self.tag}]}])
        self.ids = sorted(i["InstanceId"] for i in reservation["Instances"])
        self.app = f"app-{self.tag}"

    @property
    def tag_filters(self) -> list[dict]:
        return [{"Key": "Fleet", "Value": self.tag, "Type": "KEY_AND_VALUE"}]

    def hosts(self) -> dict[str, dict]:
        listed = emulator_hosts(self.emulator)
        return {i: listed[i] for i in self.ids if i in listed}

    def create_group(self, role_arn: str, group: str = "dev", **settings) -> str:
        cd = self.aws("codedeploy")
        try:
            cd.create_application(applicationName=self.app)
        except cd.exceptions.ApplicationAlreadyExistsException:
            pass
        settings.setdefault("ec2TagFilters", self.tag_filters)
        cd.create_deployment_group(applicationName=self.app, deploymentGroupName=group,
                                   serviceRoleArn=role_arn, **settings)
        return group

    def deploy(self, revision: dict, group: str = "dev", **params) -> str:
        return self.aws("codedeploy").create_deployment(
            applicationName=self.app, deploymentGroupName=group, revision=revision, **params)["deploymentId"]

    def deploy_and_wait(self, revision: dict, group: str = "dev", **params) -> dict:
        return wait_for_deployment(self.aws("codedeploy"), self.deploy(revision, group, **params))

    def targets(self, deployment_id: str) -> dict[str, dict]:
        cd = self.aws("codedeploy")
        ids = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
        found = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)["deploymentTargets"]
        return {t["instanceTarget"]["targetId"]: t["instanceTarget"] for t in found}

    def terminate(self) -> None:
        self.aws("ec2").terminate_instances(InstanceIds=self.ids)
        wait_until(lambda: not self.hosts(), 30, "terminated instances' hosts to go")


def events_of(target: dict) -> dict[str, dict]:
    return {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}


def failed_event(target: dict) -> dict | None:
    return next((e for e in target["lifecycleEvents"] if e["status"] == "Failed"), None)


def waves(targets: dict[str, dict]) -> list[int]:
    """Sizes of the batches hosts ran in: a host starts a new batch when it began after every
    host of the current batch had finished."""
    spans = []
    for target in targets.values():
        ran = [e for e in target["lifecycleEvents"] if e.get("startTime")]
        if ran:
            spans.append((min(e["startTime"] for e in ran), max(e["endTime"] for e in ran)))
    spans.sort()
    sizes: list[int] = []
    batch_end = None
    for start, end in spans:
        if batch_end is None or start >= batch_end:
            sizes.append(1)
            batch_end = end
        else:
            sizes[-1] += 1
            batch_end = max(batch_end, end)
    return sizes
