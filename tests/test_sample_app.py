"""Tests of sample-app/, the Node.js service the course ships: its npm scripts, its
buildspec run the way CodeBuild runs it, its CodeDeploy hooks run the way the agent runs
them, and the failure switches in sample-app/failures/.

These tests shell out to node, npm, git and bash; they need neither labkit nor its
emulator. npm ci runs once per session; npm's cache is LABKIT_NPM_CACHE, else ~/.npm.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

_MISSING = [tool for tool in ("node", "npm", "git", "bash") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f"sample-app tests need {', '.join(_MISSING)} on PATH"
)

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_SRC = REPO_ROOT / "sample-app"

# Installed, generated or run-time files (sample-app/.gitignore), never copied.
NOT_SOURCE = (
    "node_modules",
    "reports",
    "dist",
    ".npm-cache",
    "build-info.json",
    "deploy-info.json",
    "app.log",
    "app.pid",
    "FAIL_HEALTH",
)

FAILURE_SWITCHES = (
    "failing-test",
    "lint-error",
    "buildspec-syntax",
    "crash-on-start",
    "failing-health",
    "slow-start",
)

# What CodeBuild would set for a build of commit COMMIT_ID.
COMMIT_ID = "5d41402abc4b2a76b9719d911017c592ae3f1c0e"
BUILD_ID = f"my-app-build:{uuid.uuid4()}"
# Values the test gives the buildspec's Parameter Store variables.
PARAMETER_VALUES = {"/my-app/dev/log-level": "debug"}

BUILDSPEC_PHASES = ("install", "pre_build", "build", "post_build")


# --------------------------------------------------------------------------- helpers


def npm_cache_dir() -> Path:
    """npm's download cache, shared by every npm run of the session."""
    configured = os.environ.get("LABKIT_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".npm"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of this process without variables that would change what the app,
    npm or the hook scripts do, plus npm's shared cache and EXTRA."""
    drop_prefixes = ("CODEBUILD_", "npm_", "NPM_", "VALIDATE_")
    drop = {
        "LOG_LEVEL",
        "NODE_ENV",
        "NODE_OPTIONS",
        "PORT",
        "LABKIT_HOST_ROOT",
        "LIFECYCLE_EVENT",
        "DEPLOYMENT_ID",
        "APPLICATION_NAME",
        "DEPLOYMENT_GROUP_NAME",
        "DEPLOYMENT_GROUP_ID",
        "DATABASE_URL",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith(drop_prefixes)
    }
    env["npm_config_cache"] = str(npm_cache_dir())
    env["npm_config_update_notifier"] = "false"
    env.update(extra)
    return env


def run(
    args: list[str] | str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end; with CHECK, fail the test with its output if it fails."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{args!r} in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def copy_app_source(dest: Path) -> Path:
    """Copy sample-app's source files (what a clone of the app holds) to DEST."""
    shutil.copytree(APP_SRC, dest, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    return dest


def source_files(root: Path) -> dict[str, bytes]:
    """Relative path -> contents of every source file under ROOT."""
    files = {}
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d not in NOT_SOURCE and d != ".git"]
            names = [n for n in names if n not in NOT_SOURCE]
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_get(port: int, path: str) -> tuple[int, str]:
    """Status and body of GET http://127.0.0.1:PORT/PATH; error statuses are returned."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def process_state(pid: int) -> str | None:
    """The kernel's state letter for PID, or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_running(pid: int) -> bool:
    """True while PID runs. A zombie (exited, not yet reaped by its new parent) has ended."""
    if Path("/proc").is_dir():
        return process_state(pid) not in (None, "Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def is_app_server(pid: int) -> bool:
    """True when PID is a running `node server.js` (so a reused pid is never killed)."""
    if not is_running(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"server.js" in cmdline


def app_version() -> str:
    return json.loads((APP_SRC / "package.json").read_text())["version"]


# ------------------------------------------------------------------- CodeBuild, locally


@dataclass
class BuildResult:
    returncode: int
    output: str
    exported: dict[str, str]


def run_buildspec(src: Path, env: dict[str, str], phases=BUILDSPEC_PHASES) -> BuildResult:
    """Run buildspec.yml's command phases in SRC the way CodeBuild runs version 0.2: every
    command in one bash session, in phase order, stopping at the first failing command;
    then read the exported variables. (runtime-versions are not switched: the node on
    PATH is used.)"""
    spec = yaml.safe_load((src / "buildspec.yml").read_text())
    build_env = dict(env)
    build_env.update({k: str(v) for k, v in (spec.get("env", {}).get("variables") or {}).items()})
    for name, parameter in (spec.get("env", {}).get("parameter-store") or {}).items():
        build_env[name] = PARAMETER_VALUES[parameter]
    build_env.update(
        CODEBUILD_SRC_DIR=str(src),
        CODEBUILD_RESOLVED_SOURCE_VERSION=COMMIT_ID,
        CODEBUILD_BUILD_ID=BUILD_ID,
        CODEBUILD_BUILD_SUCCEEDING="1",
    )
    exported_file = src.parent / f"{src.name}-exported.json"
    lines = []
    for phase in phases:
        lines.append(f"echo '== Entering phase {phase.upper()}'")
        for command in spec["phases"].get(phase, {}).get("commands", []):
            quoted = command.replace("'", "'\\''")
            lines += [
                f"echo '== Running command {quoted}'",
                command,
                "__rc=$?",
                f"if [ $__rc -ne 0 ]; then echo '== Command did not exit successfully {quoted} "
                f"exit status '$__rc >&2; exit $__rc; fi",
            ]
    names = spec.get("env", {}).get("exported-variables") or []
    lines.append(
        "node -e 'const o={}; for (const n of process.argv.slice(1)) o[n]=process.env[n]??null;"
        ' require("fs").writeFileSync(process.env.__EXPORTED, JSON.stringify(o))\' '
        + " ".join(names)
    )
    script = "\n".join(["export __EXPORTED=" + str(exported_file), *lines]) + "\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=src,
        env=build_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    exported = json.loads(exported_file.read_text()) if result.returncode == 0 else {}
    return BuildResult(result.returncode, result.stdout, exported)


# ------------------------------------------------------------------ CodeDeploy, locally


@dataclass
class HookResult:
    event: str
    returncode: int | None  # None when the hook was ended at its timeout
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


@dataclass
class Host:
    """A labkit-style host: ROOT stands for the instance's root file system. Runs the
    appspec's hooks the way the CodeDeploy agent does: the script itself is executed from
    the unpacked revision, with the agent's variables, ended at its timeout."""

    root: Path
    port: int = field(default_factory=free_port)
    deployment_count: int = 0
    started_pids: set[int] = field(default_factory=set)
    installed: list[Path] = field(default_factory=list)
    last_archive: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def app_dir(self) -> Path:
        return self.root / "home/ec2-user/my-app"

    @property
    def pid_file(self) -> Path:
        return self.app_dir / "app.pid"

    def recorded_pid(self) -> int | None:
        try:
            text = self.pid_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def run_hook(self, archive: Path, event: str) -> list[HookResult]:
        appspec = yaml.safe_load((archive / "appspec.yml").read_text())
        results = []
        for hook in appspec["hooks"].get(event) or []:
            env = clean_env(
                LABKIT_HOST_ROOT=str(self.root),
                PORT=str(self.port),
                LIFECYCLE_EVENT=event,
                DEPLOYMENT_ID=f"d-TEST{self.deployment_count:05d}",
                APPLICATION_NAME="my-app",
                DEPLOYMENT_GROUP_NAME="my-app-dev",
                DEPLOYMENT_GROUP_ID=str(uuid.UUID(int=1)),
                **self.extra_env,
            )
            started = time.monotonic()
            proc = subprocess.Popen(
                [str(archive / hook["location"])],
                cwd=archive,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            try:
                output, _ = proc.communicate(timeout=int(hook.get("timeout", 3600)))
                returncode: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                # As the agent does: the script ran out of time; end it and all it started.
                os.killpg(proc.pid, signal.SIGKILL)
                output, _ = proc.communicate()
                returncode = None
            pid = self.recorded_pid()
            if pid is not None:
                self.started_pids.add(pid)
            results.append(HookResult(event, returncode, output, time.monotonic() - started))
            if returncode != 0:
                break
        return results

    def install(self, archive: Path) -> None:
        """The Install event: remove what the previous revision installed, then copy the
        revision's files as appspec `files` says (file_exists_behavior OVERWRITE)."""
        appspec = yaml.safe_load((archive / "appspec.yml").read_text())
        for path in reversed(self.installed):
            if path.is_file() or path.is_symlink():
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        self.installed = []
        for entry in appspec["files"]:
            src = archive / entry["source"].lstrip("/")
            dest = self.root / entry["destination"].lstrip("/")
            items = sorted(src.rglob("*")) if src.is_dir() else [src]
            for item in items:
                target = dest / item.relative_to(src) if src.is_dir() else dest / item.name
                if item.is_dir() and not item.is_symlink():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(item, target, follow_symlinks=False)
                self.installed.append(target)

    def deploy(self, archive: Path, until: str = "ValidateService") -> list[HookResult]:
        """An in-place deployment of the revision unpacked in ARCHIVE, up to event UNTIL;
        stops at the first failing hook, as CodeDeploy does."""
        self.deployment_count += 1
        results: list[HookResult] = []
        events = [
            "ApplicationStop",
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
        for event in events[: events.index(until) + 1]:
            if event == "ApplicationStop":
                # Skipped on a first deployment; otherwise the last revision's scripts run.
                if self.last_archive is None:
                    continue
                hook_results = self.run_hook(self.last_archive, event)
            elif event == "Install":
                self.install(archive)
                continue
            else:
                hook_results = self.run_hook(archive, event)
            results += hook_results
            if any(r.returncode != 0 for r in hook_results):
                return results
        self.last_archive = archive
        return results

    def kill_leftovers(self) -> None:
        """End every server this host started that still runs, by its recorded pid."""
        pid = self.recorded_pid()
        if pid is not None:
            self.started_pids.add(pid)
        for pid in self.started_pids:
            if is_app_server(pid):
                os.kill(pid, signal.SIGKILL)


def assert_hooks_succeeded(results: list[HookResult]) -> None:
    for result in results:
        assert result.returncode == 0, (
            f"{result.event} "
            + ("timed out" if result.timed_out else f"exited {result.returncode}")
            + f" after {result.seconds:.1f}s:\n{result.output}"
        )


def unpack(bundle: Path, archive: Path) -> Path:
    """Stand-in for the agent's DownloadBundle: the revision's files in ARCHIVE."""
    shutil.copytree(bundle, archive, symlinks=True)
    return archive


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def prepared_app(tmp_path_factory) -> Path:
    """A copy of sample-app with its dependencies installed (npm ci, once a session)."""
    app = copy_app_source(tmp_path_factory.mktemp("prepared") / "app")
    run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], cwd=app, timeout=600)
    return app


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, BuildResult]:
    """A copy of sample-app built by running its buildspec like CodeBuild. npm's shared
    cache stands in for the cache CodeBuild would restore into .npm-cache."""
    src = copy_app_source(tmp_path_factory.mktemp("codebuild") / "src")
    cache = npm_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    (src / ".npm-cache").symlink_to(cache, target_is_directory=True)
    return src, run_buildspec(src, clean_env())


@pytest.fixture
def host(tmp_path) -> Iterator[Host]:
    host = Host(tmp_path / "host")
    try:
        yield host
    finally:
        host.kill_leftovers()


@pytest.fixture
def switch_copy(tmp_path, prepared_app):
    """Factory: a git repository whose root is a copy of the app, with a failure switch
    applied by `git apply`; node_modules is linked from the prepared copy."""
    made: list[Path] = []

    def make(name: str) -> Path:
        repo = copy_app_source(tmp_path / f"repo-{name}")
        run(["git", "init", "-q"], cwd=repo)
        run(["git", "add", "-A"], cwd=repo)
        run(
            [
                "git",
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.invalid",
                "commit",
                "-q",
                "-m",
                "my-app",
            ],
            cwd=repo,
        )
        (repo / "node_modules").symlink_to(prepared_app / "node_modules", target_is_directory=True)
        with open(repo / ".git/info/exclude", "a") as exclude:
            exclude.write("/node_modules\n")
        run(["git", "apply", f"failures/{name}.patch"], cwd=repo)
        assert run(["git", "status", "--porcelain"], cwd=repo).stdout.strip(), (
            f"{name}.patch changed nothing"
        )
        made.append(repo)
        return repo

    return make


def revert_and_check(repo: Path, name: str) -> None:
    """`git apply -R` undoes the switch: the files are the app's own again."""
    run(["git", "apply", "-R", f"failures/{name}.patch"], cwd=repo)
    assert run(["git", "status", "--porcelain"], cwd=repo).stdout == ""
    assert source_files(repo) == source_files(APP_SRC)


def bundle_in(repo: Path, tmp_path: Path) -> Path:
    """Build and bundle REPO the way the buildspec's build and post_build phases do."""
    env = clean_env()
    run(["npm", "run", "build"], cwd=repo, env=env)
    run(["bash", "tools/bundle.sh", "dist"], cwd=repo, env=env)
    return unpack(repo / "dist", tmp_path / "archive")


# ------------------------------------------------------------------------- npm scripts


def test_unit_tests_pass_and_write_a_junit_report(prepared_app):
    result = run(["npm", "test"], cwd=prepared_app)
    reported = re.search(r"^\S* ?tests (\d+)$", result.stdout, re.MULTILINE)
    assert reported, result.stdout
    expected = int(reported.group(1))
    assert expected > 0

    root = ET.parse(prepared_app / "reports/junit.xml").getroot()
    assert root.tag == "testsuites"
    cases = list(root.iter("testcase"))
    assert len(cases) == expected
    assert not [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    names = " ".join(c.get("name", "") for c in cases)
    for route in ("GET /", "GET /health", "GET /api/status"):
        assert route in names


def test_lint_passes(prepared_app):
    result = run(["npm", "run", "lint"], cwd=prepared_app)
    assert "problem" not in result.stdout


def test_build_records_commit_and_build_id(prepared_app):
    env = clean_env(
        CODEBUILD_RESOLVED_SOURCE_VERSION=COMMIT_ID, CODEBUILD_BUILD_ID=BUILD_ID, LOG_LEVEL="warn"
    )
    run(["npm", "run", "build"], cwd=prepared_app, env=env)
    info = json.loads((prepared_app / "build-info.json").read_text())
    assert info["commitId"] == COMMIT_ID
    assert info["buildId"] == BUILD_ID
    assert info["version"] == app_version()
    assert info["logLevel"] == "warn"

    run(["npm", "run", "build"], cwd=prepared_app)
    info = json.loads((prepared_app / "build-info.json").read_text())
    assert info["commitId"] is None and info["buildId"] is None


def test_gitignore_keeps_generated_files_out():
    ignored = (APP_SRC / ".gitignore").read_text().split()
    for entry in (
        "node_modules/",
        "reports/",
        "build-info.json",
        "dist/",
        "app.log",
        "app.pid",
        ".npm-cache/",
    ):
        assert entry in ignored


# --------------------------------------------------------------------------- buildspec


def test_buildspec_declares_what_the_course_uses():
    spec = yaml.safe_load((APP_SRC / "buildspec.yml").read_text())
    assert spec["version"] == 0.2
    assert spec["env"]["shell"] == "bash"
    assert spec["phases"]["install"]["runtime-versions"] == {"nodejs": 20}
    assert list(spec["env"]["parameter-store"].values()) == ["/my-app/dev/log-level"]
    assert spec["env"]["exported-variables"] == ["APP_VERSION"]
    assert set(spec["phases"]) == set(BUILDSPEC_PHASES)
    install = " ".join(spec["phases"]["install"]["commands"])
    assert "npm ci" in install and "npm_config_cache" in install
    report = spec["reports"]["unit-tests"]
    assert report["file-format"] == "JUNITXML"
    assert report["base-directory"] == "reports" and report["files"] == ["junit.xml"]
    assert spec["artifacts"] == {"base-directory": "dist", "files": ["**/*"]}
    assert spec["phases"]["post_build"]["commands"][-1] == "bash tools/bundle.sh dist"
    assert spec["cache"]["paths"] == [".npm-cache/**/*"]


def test_buildspec_runs_like_codebuild(built):
    src, build = built
    assert build.returncode == 0, build.output
    assert build.exported == {"APP_VERSION": app_version()}

    cases = list(ET.parse(src / "reports/junit.xml").getroot().iter("testcase"))
    assert cases

    bundle = src / "dist"
    assert (bundle / "appspec.yml").is_file(), "appspec.yml must be at the revision's root"
    for name in ("app.js", "server.js", "package.json", "package-lock.json"):
        assert (bundle / name).is_file()
    assert (bundle / "node_modules/express/package.json").is_file()
    assert not (bundle / "node_modules/eslint").exists(), "dev dependencies stay out"
    assert not (bundle / "FAIL_HEALTH").exists()
    for leftover in ("test", "tools", "failures", "reports", ".npm-cache", "buildspec.yml"):
        assert not (bundle / leftover).exists(), leftover
    info = json.loads((bundle / "build-info.json").read_text())
    assert info["commitId"] == COMMIT_ID
    assert info["buildId"] == BUILD_ID
    assert info["logLevel"] == PARAMETER_VALUES["/my-app/dev/log-level"]


def test_bundle_refuses_after_a_failed_build(prepared_app, tmp_path):
    env = clean_env(CODEBUILD_BUILD_SUCCEEDING="0")
    result = run(
        ["bash", "tools/bundle.sh", str(tmp_path / "dist")], cwd=prepared_app, env=env, check=False
    )
    assert result.returncode != 0
    assert "no deployment bundle" in result.stderr
    assert not (tmp_path / "dist").exists()


# ------------------------------------------------------------------- appspec and hooks


def test_appspec_hooks_are_executable_strict_scripts():
    appspec = yaml.safe_load((APP_SRC / "appspec.yml").read_text())
    assert appspec["version"] == 0.0
    assert appspec["os"] == "linux"
    assert appspec["files"] == [{"source": "/", "destination": "/home/ec2-user/my-app"}]
    events = [
        "ApplicationStop",
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]
    assert list(appspec["hooks"]) == events
    for event in events:
        (hook,) = appspec["hooks"][event]
        script = APP_SRC / hook["location"]
        assert script.is_file(), script
        assert os.access(script, os.X_OK), f"{script} is not executable"
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in text
        assert 0 < hook["timeout"] <= 3600
        assert hook["runas"] in ("root", "ec2-user")
        run(["bash", "-n", str(script)], cwd=APP_SRC)
    if shutil.which("shellcheck"):
        scripts = sorted(str(p) for p in (APP_SRC / "scripts").glob("*.sh"))
        run(["shellcheck", "-x", "-s", "bash", *scripts, "tools/bundle.sh"], cwd=APP_SRC)
    common = (APP_SRC / "scripts/common.sh").read_text()
    assert 'APP_DIR="${LABKIT_HOST_ROOT:-}/home/ec2-user/my-app"' in common
    assert 'PORT="${PORT:-3000}"' in common


def test_deployment_runs_the_service_and_stop_ends_it(built, host, tmp_path):
    src, build = built
    assert build.returncode == 0, build.output
    archive = unpack(src / "dist", tmp_path / "archive-1")

    results = host.deploy(archive)
    assert_hooks_succeeded(results)
    assert [r.event for r in results] == [
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]
    pid = host.recorded_pid()
    assert pid is not None and is_app_server(pid)
    assert (host.app_dir / "app.js").is_file()

    status, body = http_get(host.port, "/health")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "healthy"
    assert health["version"] == app_version()
    assert http_get(host.port, "/") == (200, f"Hello from CI/CD Pipeline v{app_version()}!")
    status, body = http_get(host.port, "/api/status")
    assert json.loads(body)["commitId"] == COMMIT_ID
    deploy_info = json.loads((host.app_dir / "deploy-info.json").read_text())
    assert deploy_info["deploymentId"] == "d-TEST00001"

    # A second deployment: ApplicationStop (from the first revision) ends the old server.
    archive2 = unpack(src / "dist", tmp_path / "archive-2")
    results = host.deploy(archive2)
    assert_hooks_succeeded(results)
    assert results[0].event == "ApplicationStop"
    assert not is_running(pid), "ApplicationStop left the old server running"
    new_pid = host.recorded_pid()
    assert new_pid != pid and is_app_server(new_pid)
    assert http_get(host.port, "/health")[0] == 200

    # ApplicationStop on its own ends the service and frees its port.
    assert_hooks_succeeded(host.run_hook(archive2, "ApplicationStop"))
    assert not is_running(new_pid)
    assert not port_is_open(host.port)
    assert not host.pid_file.exists()
    log = (host.app_dir / "app.log").read_text()
    assert "SIGTERM received" in log and "Server closed" in log


def test_stop_is_safe_when_nothing_runs(host, tmp_path):
    archive = copy_app_source(tmp_path / "archive")
    assert_hooks_succeeded(host.run_hook(archive, "ApplicationStop"))  # no app folder at all

    host.app_dir.mkdir(parents=True)
    # A pid that is surely not a node server.js: this test's own process.
    host.pid_file.write_text(f"{os.getpid()}\n")
    (result,) = host.run_hook(archive, "ApplicationStop")
    assert result.returncode == 0, result.output
    assert "stale" in result.output
    assert not host.pid_file.exists()


def test_validate_fails_with_a_reason_when_nothing_was_started(host, tmp_path):
    archive = copy_app_source(tmp_path / "archive")
    host.app_dir.mkdir(parents=True)
    (result,) = host.run_hook(archive, "ValidateService")
    assert result.returncode != 0
    assert "No pid file" in result.output


# --------------------------------------------------------------------- failure switches


def test_failure_patches_are_what_the_generator_makes(tmp_path):
    """failures/*.patch are up to date with the files they edit."""
    copy = copy_app_source(tmp_path / "app")
    shutil.rmtree(copy / "failures")
    run(["node", "tools/make-failure-patches.js"], cwd=copy)
    for name in FAILURE_SWITCHES:
        assert (copy / f"failures/{name}.patch").read_text() == (
            APP_SRC / f"failures/{name}.patch"
        ).read_text(), f"failures/{name}.patch is stale: run node tools/make-failure-patches.js"
    assert sorted(p.stem for p in (APP_SRC / "failures").glob("*.patch")) == sorted(
        FAILURE_SWITCHES
    )


def test_switch_failing_test(switch_copy):
    repo = switch_copy("failing-test")
    result = run(["npm", "test"], cwd=repo, check=False)
    assert result.returncode != 0
    root = ET.parse(repo / "reports/junit.xml").getroot()
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["GET / greets with the version from package.json"]
    run(["npm", "run", "lint"], cwd=repo)
    revert_and_check(repo, "failing-test")


def test_switch_lint_error(switch_copy):
    repo = switch_copy("lint-error")
    result = run(["npm", "run", "lint"], cwd=repo, check=False)
    assert result.returncode != 0
    assert "no-unused-vars" in result.stdout
    run(["npm", "test"], cwd=repo)  # the tests still pass
    revert_and_check(repo, "lint-error")


def test_switch_buildspec_syntax(switch_copy):
    repo = switch_copy("buildspec-syntax")
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load((repo / "buildspec.yml").read_text())
    revert_and_check(repo, "buildspec-syntax")
    yaml.safe_load((repo / "buildspec.yml").read_text())


def test_switch_crash_on_start(switch_copy, host, tmp_path):
    repo = switch_copy("crash-on-start")
    run(["npm", "test"], cwd=repo)  # the build would pass
    archive = bundle_in(repo, tmp_path)

    results = host.deploy(archive)
    assert [r.event for r in results][-2:] == ["ApplicationStart", "ValidateService"]
    assert_hooks_succeeded(results[:-1])
    validate = results[-1]
    assert validate.returncode not in (0, None), validate.output
    assert "is not running" in validate.output
    assert "DATABASE_URL is not set" in validate.output, "the reason is shown"
    assert not port_is_open(host.port)
    revert_and_check(repo, "crash-on-start")


def test_switch_failing_health(switch_copy, host, tmp_path):
    repo = switch_copy("failing-health")
    run(["npm", "test"], cwd=repo)  # the build would pass
    archive = bundle_in(repo, tmp_path)
    assert (archive / "FAIL_HEALTH").is_file(), "the bundle carries the switch"

    host.extra_env = {"VALIDATE_ATTEMPTS": "3", "VALIDATE_INTERVAL": "0.2"}
    results = host.deploy(archive)
    assert_hooks_succeeded(results[:-1])
    validate = results[-1]
    assert validate.event == "ValidateService"
    assert validate.returncode not in (0, None), validate.output
    assert "not healthy" in validate.output and "503" in validate.output

    pid = host.recorded_pid()
    assert pid is not None and is_app_server(pid), "the server itself runs"
    status, body = http_get(host.port, "/health")
    assert status == 503
    assert json.loads(body)["status"] == "unhealthy"
    revert_and_check(repo, "failing-health")


@pytest.mark.slow
def test_switch_slow_start(switch_copy, host, tmp_path):
    """The patched start waits longer than appspec's ApplicationStart timeout, so the hook
    is ended at that timeout (taking that long, 30 s) and the server never starts."""
    repo = switch_copy("slow-start")
    appspec = yaml.safe_load((repo / "appspec.yml").read_text())
    (start_hook,) = appspec["hooks"]["ApplicationStart"]
    timeout = int(start_hook["timeout"])
    delay = int(
        re.search(
            r"^sleep (\d+)$", (repo / "scripts/start_server.sh").read_text(), re.MULTILINE
        ).group(1)
    )
    assert delay > timeout

    archive = bundle_in(repo, tmp_path)
    results = host.deploy(archive)
    assert_hooks_succeeded(results[:-1])
    start = results[-1]
    assert start.event == "ApplicationStart"
    assert start.timed_out, start.output
    assert start.seconds >= timeout - 1
    assert "Waiting 45 s" in start.output
    assert host.recorded_pid() is None, "the server was never started"
    assert not port_is_open(host.port)
    revert_and_check(repo, "slow-start")
