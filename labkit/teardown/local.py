"""Local backend extras: processes on the lab's local hosts, host dirs, build work dirs, git repos."""

from __future__ import annotations

import shutil
from pathlib import Path

from labkit.teardown.code_services import find_build_projects, find_repositories
from labkit.teardown.compute import lab_instances
from labkit.teardown.context import FindContext
from labkit.teardown.core import Resource, name_in_lab, paginate, wait_until

ALL_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]


def emulator_hosts(ctx: FindContext) -> dict[str, dict]:
    """The emulator's hosts by instance id (asking also makes it end processes of dead instances)."""
    from labkit.services.hosts import hosts

    return {h["instanceId"]: h for h in hosts(ctx.lab)}


def find_local_hosts(ctx: FindContext) -> list[Resource]:
    """Each lab instance's host: its processes must have ended and its folder be removed."""
    if not ctx.local:
        return []
    state_dir = Path(ctx.lab.state_dir)
    live = emulator_hosts(ctx)
    found = []
    for instance in lab_instances(ctx, ALL_INSTANCE_STATES):
        instance_id = instance["InstanceId"]
        root = state_dir / "hosts" / instance_id
        host = live.get(instance_id)
        if host is None and not root.exists():
            continue
        processes = host.get("processes", 0) if host else 0
        found.append(Resource("local host", instance_id, _clear_host(ctx, instance_id, root),
                              detail=f"{processes} process(es), {root}"))
    return found


def _clear_host(ctx: FindContext, instance_id: str, root: Path):
    def delete():
        # The emulator ends a host's processes once its instance is terminated (which the
        # EC2 step did); wait for that, so nothing runs in the folder we remove.
        wait_until(lambda: instance_id not in emulator_hosts(ctx), ctx.wait_seconds,
                   f"the emulator ending the processes of {instance_id}", interval=0.3)
        shutil.rmtree(root, ignore_errors=True)
        if root.exists():
            raise TimeoutError(f"could not remove {root}")
    return delete


def find_local_dirs(ctx: FindContext) -> list[Resource]:
    """Build work dirs and git repositories of the lab left in the state dir."""
    if not ctx.local:
        return []
    state_dir = Path(ctx.lab.state_dir)
    found = []
    # A folder is the lab's if its name is, unless a resource of another lab owns that name.
    projects = {p.name for p in find_build_projects(ctx)}
    repos = {r.name for r in find_repositories(ctx)}
    existing_projects = set(paginate(ctx.client("codebuild"), "list_projects", "projects"))
    existing_repos = {r["repositoryName"] for r in paginate(
        ctx.client("codecommit"), "list_repositories", "repositories")}
    for folder in sorted((state_dir / "codebuild").glob("*")):
        name = folder.name
        if folder.is_dir() and name_in_lab(name, ctx.prefix) and (
                name in projects or name not in existing_projects):
            found.append(Resource("local build dir", name, _remove(folder), detail=str(folder)))
    for folder in sorted((state_dir / "git").glob("*.git")):
        name = folder.name[:-len(".git")]
        if name_in_lab(name, ctx.prefix) and (name in repos or name not in existing_repos):
            found.append(Resource("local git repo", name, _remove(folder), detail=str(folder)))
    return found


def _remove(folder: Path):
    def delete():
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            raise TimeoutError(f"could not remove {folder}")
    return delete
