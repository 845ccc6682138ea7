"""Buildspec reading on its own: what CodeBuild accepts, and the YAML_FILE_ERROR messages it gives."""

from __future__ import annotations

import pytest

from labkit.emulator.codebuild.buildspec import BuildspecError, parse_buildspec
from labkit.emulator.codebuild.images import check_runtime
from labkit.emulator.codebuild.runner import _retry_rule


def test_a_full_buildspec_is_read():
    spec = parse_buildspec("""\
version: 0.2
env:
  shell: /bin/sh
  variables: {STAGE: dev, RETRIES: 3, DEBUG: yes}
  parameter-store: {LEVEL: /app/level}
  secrets-manager: {PASSWORD: "db:password:AWSCURRENT"}
  exported-variables: [APP_VERSION]
phases:
  install:
    runtime-versions: {nodejs: 20}
    commands: [npm ci]
  build:
    on-failure: CONTINUE
    commands:
      - |
        echo one
        echo two
    finally: [echo done]
reports:
  unit: {files: [junit.xml], base-directory: reports}
artifacts:
  files: ['**/*']
  base-directory: dist
  discard-paths: yes
  name: app-$STAGE.zip
  secondary-artifacts:
    docs: {files: [README.md]}
cache:
  paths: ['node_modules/**/*']
""")
    assert spec.version == "0.2" and spec.shell == "sh"
    assert spec.variables == {"STAGE": "dev", "RETRIES": "3", "DEBUG": "true"}
    assert spec.secrets_manager == {"PASSWORD": "db:password:AWSCURRENT"}
    assert spec.phase("install").runtime_versions == {"nodejs": "20"}
    assert spec.phase("build").commands == ["echo one\necho two\n"]
    assert spec.phase("build").on_failure == "CONTINUE"
    assert spec.phase("build").finally_commands == ["echo done"]
    assert spec.phase("pre_build").commands == []
    assert spec.reports[0].name == "unit" and spec.reports[0].file_format == "JUNITXML"
    assert spec.artifacts.discard_paths and spec.artifacts.base_directory == "dist"
    assert spec.secondary_artifacts["docs"].files == ["README.md"]
    assert spec.cache_paths == ["node_modules/**/*"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("phases: {}\n", "missing 'version'"),
        ("version: 0.2\n", "missing 'phases'"),
        ("- a list\n", "must be a YAML map"),
        ("version: 0.2\nenv:\n  shell: zsh\nphases: {}\n", "Unsupported shell 'zsh' at line 3"),
        (
            "version: 0.2\nenv:\n  variables:\n    CODEBUILD_X: 1\nphases: {}\n",
            "CODEBUILD_ prefix is reserved",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    on-failure: SOMETIMES\n    commands: [x]\n",
            "Invalid on-failure 'SOMETIMES' in phase build at line 4; use ABORT",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    runtime-versions: {nodejs: 20}\n    commands: [x]\n",
            "runtime-versions is only allowed in the install phase",
        ),
        (
            "version: 0.2\nphases: {}\nartifacts:\n  name: x\n",
            "Expected artifacts.files to list at least one path at line 3",
        ),
        (
            "version: 0.2\nphases: {}\nreports:\n  r:\n    files: [a]\n    file-format: PDF\n",
            "Invalid report file-format 'PDF'",
        ),
        (
            "version: 0.2\nphases:\n\tbuild: {}\n",
            "found character '\\t' that cannot start any token at line 3",
        ),
    ],
)
def test_buildspec_errors_name_the_problem(text, message):
    with pytest.raises(BuildspecError) as err:
        parse_buildspec(text)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("ABORT", (0, None)),
        ("CONTINUE", (0, None)),
        ("RETRY", (3, None)),
        ("RETRY-5", (5, None)),
        ("RETRY-exit status 1", (3, "exit status 1")),
        ("RETRY-2-timeout.*", (2, "timeout.*")),
    ],
)
def test_on_failure_retry_forms(rule, expected):
    assert _retry_rule(rule) == expected


def test_runtime_versions_follow_each_images_table():
    assert check_runtime("aws/codebuild/standard:7.0", "nodejs", "20") is None
    assert check_runtime("aws/codebuild/standard:7.0", "nodejs", "latest") is None
    assert check_runtime("aws/codebuild/standard:5.0", "nodejs", "20") == (
        "Unknown runtime version named '20' of nodejs. "
        "This build image has the following versions: 12, 14"
    )
    assert (
        check_runtime("aws/codebuild/standard:8.0", "nodejs", "23") is None
    )  # installed on demand
    assert check_runtime("aws/codebuild/amazonlinux2-x86_64-standard:5.0", "python", "3.11") is None
    assert "Unknown runtime named 'cobol'" in check_runtime(
        "aws/codebuild/standard:7.0", "cobol", "1"
    )
    assert check_runtime("my-registry/custom:1", "nodejs", "99") is None  # a custom image
