"""CodeBuild in the emulator: projects, and real builds of small buildspecs phase by phase."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pipeline_helpers import make_role

from labkit.aws_names import CODEBUILD_PHASES
from labkit.procs import pid_alive

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
IMAGE = "aws/codebuild/standard:7.0"


@pytest.fixture(scope="module")
def role(aws):
    # Builds act as their role: it gets the actions a build uses (pipeline_helpers.SERVICE_ACTIONS).
    return make_role(aws, f"cb-role-{uuid.uuid4().hex[:6]}", service="codebuild.amazonaws.com")


@pytest.fixture(scope="module")
def cb(aws):
    return aws("codebuild")


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def environment(**extra) -> dict:
    return {
        "type": "LINUX_CONTAINER",
        "image": IMAGE,
        "computeType": "BUILD_GENERAL1_SMALL",
        **extra,
    }


def inline_project(cb, role, buildspec: str, name: str | None = None, **extra) -> str:
    name = name or unique()
    cb.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": textwrap.dedent(buildspec)},
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}),
        environment=extra.pop("environment", environment()),
        serviceRole=role,
        **extra,
    )
    return name


def wait_for(cb, build_id: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        build = cb.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            return build
        time.sleep(0.05)
    raise AssertionError(f"build {build_id} did not finish within {seconds}s")


def run(cb, project: str, **kwargs) -> dict:
    return wait_for(cb, cb.start_build(projectName=project, **kwargs)["build"]["id"])


def log_text(aws, build: dict) -> str:
    logs = aws("logs")
    events = logs.get_log_events(
        logGroupName=build["logs"]["groupName"],
        logStreamName=build["logs"]["streamName"],
        startFromHead=True,
    )["events"]
    return "\n".join(e["message"] for e in events)


def phases(build: dict) -> dict[str, dict]:
    return {p["phaseType"]: p for p in build["phases"]}


def statuses(build: dict) -> list[tuple[str, str | None]]:
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def context(build: dict, phase: str) -> dict:
    return phases(build)[phase]["contexts"][0]


# --- projects ---------------------------------------------------------------------------------
def test_create_get_update_list_delete_project(cb, role):
    name = inline_project(
        cb,
        role,
        "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n",
        tags=[{"key": "team", "value": "a"}],
        timeoutInMinutes=10,
    )
    project = cb.batch_get_projects(names=[name, "nope"])
    assert project["projectsNotFound"] == ["nope"]
    got = project["projects"][0]
    assert got["arn"] == f"arn:aws:codebuild:us-east-1:123456789012:project/{name}"
    assert got["timeoutInMinutes"] == 10 and got["serviceRole"] == role
    assert got["tags"] == [{"key": "team", "value": "a"}]
    assert name in cb.list_projects(sortBy="NAME")["projects"]
    updated = cb.update_project(name=name, description="changed", timeoutInMinutes=20)["project"]
    assert updated["description"] == "changed" and updated["timeoutInMinutes"] == 20
    assert updated["source"]["type"] == "NO_SOURCE"
    cb.delete_project(name=name)
    assert cb.batch_get_projects(names=[name])["projectsNotFound"] == [name]


def test_project_role_name_becomes_arn(cb, role):
    name = unique()
    cb.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {}\n"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=environment(),
        serviceRole=role.rsplit("/", 1)[1],
    )
    assert cb.batch_get_projects(names=[name])["projects"][0]["serviceRole"] == role


@pytest.mark.parametrize(
    "change, code, words",
    [
        (
            {"serviceRole": "arn:aws:iam::123456789012:role/missing"},
            "InvalidInputException",
            "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/missing",
        ),
        ({"source": {"type": "CODECOMMIT"}}, "InvalidInputException", "location is required"),
        ({"source": {"type": "NO_SOURCE"}}, "InvalidInputException", "buildspec cannot be empty"),
        (
            {"artifacts": {"type": "S3"}},
            "InvalidInputException",
            "location is required for artifacts type S3",
        ),
        (
            {"artifacts": {"type": "CODEPIPELINE"}},
            "InvalidInputException",
            "both must be CODEPIPELINE",
        ),
        ({"name": "bad name!"}, "InvalidInputException", "regular expression"),
        ({"timeoutInMinutes": 3000}, "InvalidInputException", "between 5 and 2160"),
        (
            {
                "environment": environment(
                    environmentVariables=[{"name": "CODEBUILD_X", "value": "1"}]
                )
            },
            "InvalidInputException",
            "reserved",
        ),
        (
            {"cache": {"type": "S3"}},
            "InvalidInputException",
            "location is required for cache type S3",
        ),
    ],
)
def test_create_project_is_validated_as_aws_does(cb, role, change, code, words):
    params = {
        "name": unique(),
        "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": environment(),
        "serviceRole": role,
    }
    params.update(change)
    with pytest.raises(ClientError) as err:
        cb.create_project(**params)
    assert err.value.response["Error"]["Code"] == code
    assert words in err.value.response["Error"]["Message"]
    assert params["name"] not in cb.list_projects()["projects"]  # nothing half-created


def test_codepipeline_source_needs_no_location(cb, role):
    name = unique()
    cb.create_project(
        name=name,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment=environment(),
        serviceRole=role,
    )
    assert cb.batch_get_projects(names=[name])["projects"][0]["source"]["type"] == "CODEPIPELINE"


def test_duplicate_project_and_missing_project(cb, role):
    name = inline_project(cb, role, "version: 0.2\nphases: {}\n")
    with pytest.raises(ClientError) as err:
        inline_project(cb, role, "version: 0.2\nphases: {}\n", name=name)
    assert err.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as err:
        cb.start_build(projectName="does-not-exist")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        cb.update_project(name="does-not-exist", description="x")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- the phase engine -----------------------------------------------------------------------
ALL_PHASES = list(CODEBUILD_PHASES)  # the one phase list (labkit/aws_names.py)


def test_build_runs_every_phase_in_one_shell_session(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          install:
            commands:
              - export GREETING=hello
              - mkdir -p sub && cd sub
          pre_build:
            commands:
              - echo "pre $GREETING in $(basename $PWD)"
          build:
            commands:
              - echo "build id $CODEBUILD_BUILD_ID number $CODEBUILD_BUILD_NUMBER succeeding $CODEBUILD_BUILD_SUCCEEDING"
          post_build:
            commands:
              - echo "region $AWS_REGION initiator $CODEBUILD_INITIATOR"
        """,
    )
    started = cb.start_build(projectName=name)["build"]
    assert started["buildStatus"] == "IN_PROGRESS" and started["buildComplete"] is False
    assert started["id"].startswith(f"{name}:") and started["buildNumber"] == 1
    build = wait_for(cb, started["id"])
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    assert [p["phaseType"] for p in build["phases"]] == ALL_PHASES
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in build["phases"][:-1])
    assert "phaseStatus" not in build["phases"][-1] and build["currentPhase"] == "COMPLETED"
    assert all(isinstance(p["durationInSeconds"], int) for p in build["phases"][:-1])
    text = log_text(aws, build)
    assert "pre hello in sub" in text
    assert f"build id {build['id']} number 1 succeeding 1" in text
    assert "region us-east-1 initiator " in text
    assert 'Running command echo "pre $GREETING in $(basename $PWD)"' in text
    assert "Phase complete: BUILD State: SUCCEEDED" in text
    assert build["logs"]["groupName"] == f"/aws/codebuild/{name}"
    assert build["logs"]["streamName"] == build["id"].split(":")[1]
    assert build["arn"] == f"arn:aws:codebuild:us-east-1:123456789012:build/{build['id']}"
    assert build["id"] in cb.list_builds_for_project(projectName=name)["ids"]
    assert build["id"] in cb.list_builds()["ids"]
    second = run(cb, name)
    assert second["buildNumber"] == 2
    assert cb.list_builds_for_project(projectName=name)["ids"][0] == second["id"]


def test_exit_fails_the_command_but_keeps_exports_for_post_build(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        env:
          exported-variables: [KEPT, LATE]
        phases:
          build:
            commands:
              - export KEPT=before-exit
              - cd /tmp && exit 3
              - echo never runs
          post_build:
            commands:
              - echo "post sees $KEPT succeeding=$CODEBUILD_BUILD_SUCCEEDING in $PWD"
              - export LATE=set-in-post
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert by_type["UPLOAD_ARTIFACTS"]["phaseStatus"] == "SUCCEEDED"
    assert context(build, "BUILD") == {
        "statusCode": "COMMAND_EXECUTION_ERROR",
        "message": "Error while executing command: cd /tmp && exit 3. Reason: exit status 3",
    }
    text = log_text(aws, build)
    assert (
        "never runs" not in text.splitlines()
        and "post sees before-exit succeeding=0 in /tmp" in text
    )
    assert build["exportedEnvironmentVariables"] == [
        {"name": "KEPT", "value": "before-exit"},
        {"name": "LATE", "value": "set-in-post"},
    ]


def test_install_failure_skips_later_command_phases(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          install:
            commands: ["false"]
          build:
            commands: [echo should-not-run]
        """,
    )
    build = run(cb, name)
    assert statuses(build) == [
        ("SUBMITTED", "SUCCEEDED"),
        ("QUEUED", "SUCCEEDED"),
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
        ("INSTALL", "FAILED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert "should-not-run" not in log_text(aws, build).splitlines()


def test_on_failure_continue_finally_and_retry(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          install:
            on-failure: CONTINUE
            commands: ["exit 4"]
            finally: [echo install-finally]
          pre_build:
            on-failure: RETRY-2
            commands:
              - echo attempt >> attempts.txt
              - test $(wc -l < attempts.txt) -ge 2
          build:
            commands: [echo build-ran]
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["INSTALL"]["phaseStatus"] == "FAILED"
    assert by_type["PRE_BUILD"]["phaseStatus"] == "SUCCEEDED"
    text = log_text(aws, build)
    assert "install-finally" in text and "build-ran" in text and "retrying (1 of 2)" in text


@pytest.mark.parametrize(
    "buildspec, words",
    [
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n     - bad indent\n",
            "at line 6",
        ),
        (
            "version: 0.3\nphases:\n  build:\n    commands: [echo]\n",
            "invalid buildspec version '0.3'",
        ),
        ("version: 0.2\nphases:\n  biuld:\n    commands: [echo]\n", "Unknown phase 'biuld'"),
        ("version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n", "Phase build has no commands"),
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo: hi\n",
            "Expected Commands[0] to be of string type: found subkeys instead at line 5",
        ),
        (
            "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      nodejs: 23\n",
            "Unknown runtime version named '23' of nodejs. This build image has the following versions: 18, 20",
        ),
    ],
)
def test_bad_buildspec_fails_download_source(cb, aws, role, buildspec, words):
    name = inline_project(cb, role, buildspec)
    build = run(cb, name)
    assert build["buildStatus"] == "FAILED"
    assert statuses(build)[-3:] == [
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert context(build, "DOWNLOAD_SOURCE")["statusCode"] == "YAML_FILE_ERROR"
    assert words in context(build, "DOWNLOAD_SOURCE")["message"]


def test_runtime_version_offered_by_image_but_not_on_host_warns(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          install:
            runtime-versions:
              nodejs: 18
              python: 3.11
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    text = log_text(aws, build)
    assert "Selecting 'nodejs' runtime version '18' based on manual selections..." in text
    assert "[labkit] warning: the image offers nodejs 18 but this machine has" in text


def test_start_build_overrides(cb, aws, role):
    name = inline_project(
        cb,
        role,
        "version: 0.2\nphases:\n  build:\n    commands: [echo project]\n",
        environment=environment(
            environmentVariables=[
                {"name": "WHO", "value": "project"},
                {"name": "KEEP", "value": "k"},
            ]
        ),
    )
    override = textwrap.dedent("""\
        version: 0.2
        env:
          variables: {WHO: buildspec, ONLY_SPEC: s}
        phases:
          build:
            commands: ['echo "who=$WHO keep=$KEEP spec=$ONLY_SPEC compute=$CODEBUILD_BUILD_IMAGE"']
        """)
    build = run(
        cb,
        name,
        buildspecOverride=override,
        timeoutInMinutesOverride=7,
        computeTypeOverride="BUILD_GENERAL1_MEDIUM",
        imageOverride="aws/codebuild/standard:6.0",
        environmentVariablesOverride=[{"name": "WHO", "value": "start", "type": "PLAINTEXT"}],
    )
    assert build["buildStatus"] == "SUCCEEDED"
    assert (
        build["timeoutInMinutes"] == 7
        and build["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM"
    )
    assert "who=start keep=k spec=s compute=aws/codebuild/standard:6.0" in log_text(aws, build)


def test_parameter_store_and_secrets_are_resolved_and_masked(cb, aws, role):
    tag = uuid.uuid4().hex[:6]
    aws("ssm").put_parameter(Name=f"/cb/{tag}/level", Value="param-value-xyz", Type="String")
    aws("secretsmanager").create_secret(
        Name=f"cb-{tag}", SecretString=json.dumps({"password": "s3cr3t-pw"})
    )
    aws("secretsmanager").create_secret(Name=f"cb-{tag}-plain", SecretString="plain-secret-777")
    name = inline_project(
        cb,
        role,
        f"""\
        version: 0.2
        env:
          parameter-store:
            LEVEL: /cb/{tag}/level
          secrets-manager:
            PASSWORD: cb-{tag}:password
            WHOLE: cb-{tag}-plain
        phases:
          build:
            commands:
              - echo "level=$LEVEL password=$PASSWORD whole=$WHOLE"
              - test "$PASSWORD" = s3cr3t-pw
        """,
        environment=environment(
            environmentVariables=[
                {"name": "FROM_PROJECT", "value": f"cb-{tag}:password", "type": "SECRETS_MANAGER"}
            ]
        ),
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED", statuses(build)
    text = log_text(aws, build)
    assert "level=*** password=*** whole=***" in text
    for secret in ("param-value-xyz", "s3cr3t-pw", "plain-secret-777"):
        assert secret not in text


def test_missing_parameter_or_secret_fails_before_commands(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        env:
          parameter-store:
            LEVEL: /does/not/exist
        phases:
          build:
            commands: [echo never]
        """,
    )
    build = run(cb, name)
    assert phases(build)["DOWNLOAD_SOURCE"]["phaseStatus"] == "FAILED"
    assert context(build, "DOWNLOAD_SOURCE") == {
        "statusCode": "Decrypted Variables Error",
        "message": "parameter does not exist: /does/not/exist",
    }
    name = inline_project(
        cb,
        role,
        "version: 0.2\nphases:\n  build:\n    commands: [echo never]\n",
        environment=environment(
            environmentVariables=[
                {"name": "S", "value": "no-such-secret", "type": "SECRETS_MANAGER"}
            ]
        ),
    )
    build = run(cb, name)
    assert phases(build)["DOWNLOAD_SOURCE"]["phaseStatus"] == "FAILED"
    assert context(build, "DOWNLOAD_SOURCE")["statusCode"] == "Secrets Manager Error"
    assert "ResourceNotFoundException" in context(build, "DOWNLOAD_SOURCE")["message"]
    assert "never" not in log_text(aws, build).splitlines()


def test_timeout_and_stop_end_every_process(cb, aws, role, emulator):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - sleep 300 & echo $! > "$CODEBUILD_SRC_DIR/bg.pid"
              - sleep 300
        """,
        environment=environment(
            environmentVariables=[{"name": "LABKIT_BUILD_TIMEOUT_SECONDS", "value": "3"}]
        ),
    )
    build = run(cb, name)
    assert build["buildStatus"] == "TIMED_OUT"
    assert phases(build)["BUILD"]["phaseStatus"] == "TIMED_OUT"
    assert context(build, "BUILD")["statusCode"] == "BUILD_TIMED_OUT"
    assert "UPLOAD_ARTIFACTS" not in phases(build)
    pid_file = (
        Path(emulator.state_dir) / "codebuild" / name / build["id"].split(":")[1] / "src" / "bg.pid"
    )
    assert not pid_alive(int(pid_file.read_text()))  # the background sleep ended with the build

    name = inline_project(cb, role, "version: 0.2\nphases:\n  build:\n    commands: [sleep 300]\n")
    build_id = cb.start_build(projectName=name)["build"]["id"]
    deadline = time.monotonic() + 20
    while cb.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] != "BUILD":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped = cb.stop_build(id=build_id)["build"]
    assert stopped["id"] == build_id
    build = wait_for(cb, build_id)
    assert build["buildStatus"] == "STOPPED" and phases(build)["BUILD"]["phaseStatus"] == "STOPPED"


def test_concurrent_builds_are_isolated(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - echo "$CODEBUILD_BUILD_ID" > mine.txt
              - sleep 0.3
              - test "$(cat mine.txt)" = "$CODEBUILD_BUILD_ID"
              - test "$CODEBUILD_SRC_DIR" = "$PWD"
        """,
    )
    ids = [cb.start_build(projectName=name)["build"]["id"] for _ in range(3)]
    builds = [wait_for(cb, i) for i in ids]
    assert [b["buildStatus"] for b in builds] == ["SUCCEEDED"] * 3
    assert sorted(b["buildNumber"] for b in builds) == [1, 2, 3]


def test_huge_output_is_logged(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.2
        phases:
          build:
            commands:
              - seq 1 20000
              - head -c 100000 /dev/zero | tr '\\0' x
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    logs = aws("logs")
    events, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=build["logs"]["groupName"],
            logStreamName=build["logs"]["streamName"],
            startFromHead=True,
            **kwargs,
        )
        events += page["events"]
        if not page["events"] or page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    messages = [e["message"] for e in events]
    assert "20000" in messages and "1" in messages
    assert sum(len(m) for m in messages if set(m) == {"x"}) == 100000


def test_sh_shell_and_version_0_1_run_each_command_in_a_new_shell(cb, aws, role):
    name = inline_project(
        cb,
        role,
        """\
        version: 0.1
        env:
          shell: /bin/sh
        phases:
          build:
            commands:
              - export ONLY_HERE=1
              - echo "seen=${ONLY_HERE:-no}"
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED"
    assert "seen=no" in log_text(aws, build).splitlines()


def test_build_commands_reach_the_emulator_with_the_aws_cli(cb, aws, role):
    bucket = f"cb-cli-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    name = inline_project(
        cb,
        role,
        f"""\
        version: 0.2
        phases:
          build:
            commands:
              - echo made-in-build > file.txt
              - aws s3 cp file.txt s3://{bucket}/from-build.txt
        """,
    )
    build = run(cb, name)
    assert build["buildStatus"] == "SUCCEEDED", log_text(aws, build)
    assert (
        aws("s3").get_object(Bucket=bucket, Key="from-build.txt")["Body"].read()
        == b"made-in-build\n"
    )


def test_retry_and_delete_builds(cb, aws, role):
    name = inline_project(
        cb, role, "version: 0.2\nphases:\n  build:\n    commands: [echo $CODEBUILD_BUILD_NUMBER]\n"
    )
    first = run(cb, name)
    retried = wait_for(cb, cb.retry_build(id=first["id"])["build"]["id"])
    assert retried["buildStatus"] == "SUCCEEDED" and retried["buildNumber"] == 2
    result = cb.batch_delete_builds(ids=[first["id"], f"{name}:nope"])
    assert result["buildsDeleted"] == [first["id"]]
    assert result["buildsNotDeleted"][0]["statusCode"] == "BUILD_NOT_FOUND"
    assert cb.batch_get_builds(ids=[first["id"]])["buildsNotFound"] == [first["id"]]
    with pytest.raises(ClientError) as err:
        cb.stop_build(id=f"{name}:00000000-0000-0000-0000-000000000000")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_finished_work_dirs_are_pruned(tmp_path):
    from labkit.emulator.codebuild import workspace

    made = []
    for i in range(workspace.KEEP_WORK_DIRS + 3):
        folder = tmp_path / f"b{i}"
        folder.mkdir()
        made.append(folder)
        workspace.prune(folder)
    assert [f.exists() for f in made[:3]] == [False] * 3
    assert all(f.exists() for f in made[3:])


def test_log_is_written_while_the_build_runs(cb, aws, role):
    name = inline_project(
        cb,
        role,
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo first-line\n      - sleep 60\n",
    )
    build_id = cb.start_build(projectName=name)["build"]["id"]
    build = cb.batch_get_builds(ids=[build_id])["builds"][0]
    deadline = time.monotonic() + 20
    seen = []
    while "first-line" not in seen:
        assert time.monotonic() < deadline, "the log did not show the command's output while it ran"
        try:
            seen = [
                e["message"]
                for e in aws("logs").get_log_events(
                    logGroupName=build["logs"]["groupName"],
                    logStreamName=build["logs"]["streamName"],
                    startFromHead=True,
                )["events"]
            ]
        except aws("logs").exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.05)
    assert cb.batch_get_builds(ids=[build_id])["builds"][0]["buildComplete"] is False
    cb.stop_build(id=build_id)
    assert wait_for(cb, build_id)["buildStatus"] == "STOPPED"


def test_logs_config_group_stream_prefix_and_disabled(cb, aws, role):
    spec = "version: 0.2\nphases:\n  build:\n    commands: [echo custom-log]\n"
    group = f"/custom/{uuid.uuid4().hex[:6]}"
    name = inline_project(
        cb,
        role,
        spec,
        logsConfig={
            "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": "builds"}
        },
    )
    build = run(cb, name)
    assert build["logs"]["groupName"] == group
    assert build["logs"]["streamName"] == f"builds/{build['id'].split(':')[1]}"
    assert "custom-log" in log_text(aws, build).splitlines()
    quiet = inline_project(cb, role, spec, logsConfig={"cloudWatchLogs": {"status": "DISABLED"}})
    build = run(cb, quiet)
    assert build["buildStatus"] == "SUCCEEDED" and "groupName" not in build["logs"]
    assert build["logs"]["cloudWatchLogs"]["status"] == "DISABLED"


def test_builds_beyond_the_machine_limit_wait_in_queued(cb, aws, role):
    name = inline_project(cb, role, "version: 0.2\nphases:\n  build:\n    commands: [sleep 1]\n")
    ids = [cb.start_build(projectName=name)["build"]["id"] for _ in range(6)]  # limit: 4 at once
    seen_queued = False
    deadline = time.monotonic() + 30
    while not seen_queued and time.monotonic() < deadline:
        builds = cb.batch_get_builds(ids=ids)["builds"]
        seen_queued = any(b["currentPhase"] == "QUEUED" for b in builds)
        time.sleep(0.02)
    assert seen_queued
    assert [wait_for(cb, i)["buildStatus"] for i in ids] == ["SUCCEEDED"] * 6


def test_project_concurrent_build_limit(cb, aws, role):
    name = inline_project(
        cb,
        role,
        "version: 0.2\nphases:\n  build:\n    commands: [sleep 30]\n",
        concurrentBuildLimit=1,
    )
    first = cb.start_build(projectName=name)["build"]["id"]
    with pytest.raises(ClientError) as err:
        cb.start_build(projectName=name)
    assert err.value.response["Error"]["Code"] == "AccountLimitExceededException"
    cb.stop_build(id=first)
    assert wait_for(cb, first)["buildStatus"] == "STOPPED"
    assert cb.batch_get_builds(ids=[first])["builds"][0]["phases"][-1]["phaseType"] == "COMPLETED"


def test_aws_cli_starts_a_build_and_reads_it(cb, aws, role, emulator, tmp_path):
    import os
    import subprocess
    import sys

    name = inline_project(
        cb, role, "version: 0.2\nphases:\n  build:\n    commands: [echo from-cli]\n"
    )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "labkit-cli",
        "AWS_SECRET_ACCESS_KEY": "labkit-cli-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_PAGER": "",
    }

    def cli(*args):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "codebuild", *args, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    build_id = cli("start-build", "--project-name", name)["build"]["id"]
    assert wait_for(cb, build_id)["buildStatus"] == "SUCCEEDED"
    got = cli("batch-get-builds", "--ids", build_id)["builds"][0]
    assert got["currentPhase"] == "COMPLETED" and got["phases"][-1]["phaseType"] == "COMPLETED"
    assert name in cli("list-projects")["projects"]


def test_idempotency_token_returns_the_same_build(cb, aws, role):
    name = inline_project(cb, role, "version: 0.2\nphases:\n  build:\n    commands: [echo once]\n")
    first = cb.start_build(projectName=name, idempotencyToken="tok-1")["build"]["id"]
    again = cb.start_build(projectName=name, idempotencyToken="tok-1")["build"]["id"]
    assert first == again and cb.list_builds_for_project(projectName=name)["ids"] == [first]
    with pytest.raises(ClientError) as err:
        cb.start_build(projectName=name, idempotencyToken="tok-1", sourceVersion="other")
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    wait_for(cb, first)
