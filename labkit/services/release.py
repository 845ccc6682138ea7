"""Chapter 05's release pipeline: dev → staging → prod with approvals, parallel checks, per-environment settings.

Everything here is plain boto3 on the course's names; the notebook shows the calls that matter
and uses these helpers for the definitions that would otherwise fill a screen.
"""

from __future__ import annotations

import json
import urllib.request

import pandas as pd

from labkit.names import CourseNames
from labkit.progress import Progress, headless, poll
from labkit.services import codebuild as codebuild_helpers
from labkit.services import codepipeline as codepipeline_helpers
from labkit.services import hosts as host_helpers
from labkit.services import iam as iam_helpers

ENVIRONMENTS = ("dev", "staging", "prod")
# Each environment's log level in Parameter Store (dev's is chapter 02's /my-app/dev/log-level).
LOG_LEVELS = {"staging": "debug", "prod": "warn"}
APPROVAL_ACTION = "Approve"
PREVIOUS = {"staging": "dev", "prod": "staging"}

# The vulnerability scan. `npm audit` needs only package-lock.json (no node_modules) and the
# registry's audit endpoint. Three outcomes, told apart from npm's JSON answer:
#   clean        no advisory of severity high or critical
#   findings     some: the action fails when SCAN_MODE is "block" (the default)
#   unavailable  the registry or its audit endpoint did not answer (offline room, a mirror
#                without the audit API): the scan is skipped, loudly, and does not block
SCAN_BUILDSPEC = r"""version: 0.2
env:
  shell: bash
  exported-variables:
    - SCAN_RESULT
    - SCAN_DETAIL
phases:
  build:
    commands:
      - echo "npm $(npm --version); registry $(npm config get registry); mode ${SCAN_MODE:-block}"
      - npm audit --audit-level=high --json > audit.json 2> audit.err || true
      - |
        node -e '
          const fs = require("node:fs");
          let report = {};
          try { report = JSON.parse(fs.readFileSync("audit.json", "utf8")); } catch (e) { report = { error: { summary: String(e) } }; }
          let result, detail;
          if (report.metadata && report.metadata.vulnerabilities) {
            const v = report.metadata.vulnerabilities;
            const serious = (v.high || 0) + (v.critical || 0);
            result = serious ? "findings" : "clean";
            detail = `critical ${v.critical || 0}, high ${v.high || 0}, moderate ${v.moderate || 0}, low ${v.low || 0}`;
          } else {
            result = "unavailable";
            detail = (report.message || (report.error && (report.error.summary || report.error.code)) || "no answer").split("\n")[0];
          }
          fs.writeFileSync("scan.env", `export SCAN_RESULT="${result}"\nexport SCAN_DETAIL="${detail.replace(/"/g, "")}"\n`);
        '
      - source scan.env
      - echo "Scan result ${SCAN_RESULT} (${SCAN_DETAIL})"
      - |
        if [ "$SCAN_RESULT" = "unavailable" ]; then
          echo "WARNING: the registry's audit endpoint did not answer; the scan was skipped (not a pass)."
        elif [ "$SCAN_RESULT" = "findings" ] && [ "${SCAN_MODE:-block}" = "block" ]; then
          echo "High or critical advisories: run 'npm audit' locally, then 'npm audit fix' or upgrade." >&2
          exit 1
        fi
"""

# The later runOrder action of the Build stage: start the bundle the build made and ask it
# for /health, as a load balancer would. PORT=0 lets the system choose a free port.
SMOKE_TEST_BUILDSPEC = r"""version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - PORT=0 node server.js > smoke.log 2>&1 &
      - echo $! > smoke.pid
      - |
        node -e '
          const fs = require("node:fs");
          const until = Date.now() + 20000;
          (async () => {
            while (Date.now() < until) {
              const m = /listening on port (\d+)/.exec(fs.readFileSync("smoke.log", "utf8"));
              if (m) {
                const answer = await fetch(`http://127.0.0.1:${m[1]}/health`);
                const body = await answer.json();
                console.log(`GET /health -> ${answer.status} ${body.status}, version ${body.version}`);
                process.exit(answer.status === 200 ? 0 : 1);
              }
              await new Promise((r) => setTimeout(r, 200));
            }
            console.error("The service did not start within 20 s:\n" + fs.readFileSync("smoke.log", "utf8"));
            process.exit(1);
          })();
        '
    finally:
      - kill "$(cat smoke.pid)" 2>/dev/null || true
"""

# Per environment: the same bundle, with the environment's settings written into
# build-info.json (which the service reads at start and reports on /api/status).
# APP_ENV is plain text; LOG_LEVEL comes from Parameter Store (the pipeline action sets both).
CONFIGURE_BUILDSPEC = r"""version: 0.2
env:
  shell: bash
  exported-variables:
    - APP_ENV
    - LOG_LEVEL
phases:
  build:
    commands:
      - |
        node -e '
          const fs = require("node:fs");
          const info = JSON.parse(fs.readFileSync("build-info.json", "utf8"));
          info.environment = process.env.APP_ENV;
          info.logLevel = process.env.LOG_LEVEL;
          fs.writeFileSync("build-info.json", JSON.stringify(info, null, 2) + "\n");
        '
      - echo "Configured the bundle for ${APP_ENV}"
artifacts:
  files:
    - "**/*"
"""


def tool_projects(names: CourseNames) -> list[str]:
    return [names.scan_project, names.smoke_test_project, names.configure_project]


def release_build_policy(names: CourseNames) -> dict:
    """The scan, smoke-test and configure projects: logs, the artifact bucket, staging's and prod's parameters."""
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"
    return {"Version": "2012-10-17", "Statement": [
        iam_helpers.statement(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                   [names.arn("logs", f"log-group:/aws/codebuild/{p}:*") for p in tool_projects(names)]),
        iam_helpers.statement(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], [f"{bucket}/*"]),
        iam_helpers.statement(["s3:GetBucketLocation", "s3:GetBucketAcl"], [bucket]),
        iam_helpers.statement(["ssm:GetParameters"],
                   [names.arn("ssm", f"parameter/my-app/{env}/*") for env in LOG_LEVELS]),
    ]}


def release_pipeline_policy(names: CourseNames) -> dict:
    """Chapter 04's pipeline permissions, plus the tool projects, every environment's group and the topic."""
    projects = [names.pipeline_build_project, *tool_projects(names)]
    groups = [names.environment_group(env) for env in ENVIRONMENTS]
    policy = iam_helpers.codepipeline_policy(names, projects=projects, groups=groups)
    policy["Statement"].append(iam_helpers.statement(["sns:Publish"], [names.arn("sns", names.approval_topic)]))
    return policy


def tool_project_definition(lab, name: str, description: str, buildspec: str, role_arn: str,
                            variables: dict[str, str] | None = None) -> dict:
    """A small CodeBuild project for the pipeline: inline buildspec, CODEPIPELINE source and artifacts."""
    return {
        "name": name, "description": description,
        "source": {"type": "CODEPIPELINE", "buildspec": buildspec},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {"type": "LINUX_CONTAINER", "image": codebuild_helpers.IMAGE,
                        "computeType": "BUILD_GENERAL1_SMALL",
                        "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"}
                                                 for k, v in (variables or {}).items()]},
        "serviceRole": role_arn, "timeoutInMinutes": 10,
        "tags": lab.tags.as_list(key="key", value="value"),
    }


def tool_project_definitions(lab, names: CourseNames, role_arn: str) -> list[dict]:
    return [
        tool_project_definition(lab, names.scan_project, "npm audit: high or critical advisories block",
                                SCAN_BUILDSPEC, role_arn, {"SCAN_MODE": "block"}),
        tool_project_definition(lab, names.smoke_test_project, "Start the bundle and ask it for /health",
                                SMOKE_TEST_BUILDSPEC, role_arn),
        tool_project_definition(lab, names.configure_project, "Write an environment's settings into the bundle",
                                CONFIGURE_BUILDSPEC, role_arn),
    ]


def running_instances(lab, name_tag: str) -> list[str]:
    filters = [{"Name": "tag:Name", "Values": [name_tag]},
               {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    found = lab.client("ec2").describe_instances(Filters=filters)["Reservations"]
    return sorted(i["InstanceId"] for r in found for i in r["Instances"])


def ensure_environment_hosts(lab, names: CourseNames, environment: str, count: int = 1) -> list[str]:
    """`count` running hosts tagged Name=<prefix>-web-<env> (launched only when missing)."""
    running = running_instances(lab, lab.name(names.environment_hosts_name(environment)))
    if len(running) < count:
        running += host_helpers.launch_instances(lab, count - len(running),
                                                 name=names.environment_hosts_name(environment),
                                                 tags={"environment": environment})
    return running


def put_parameter(lab, name: str, value: str, description: str = "") -> None:
    """Create (tagged) or overwrite a String parameter; AWS refuses tags together with Overwrite."""
    ssm = lab.client("ssm")
    try:
        ssm.put_parameter(Name=name, Value=value, Type="String", Description=description,
                          Tags=lab.tags.as_list())
    except ssm.exceptions.ParameterAlreadyExists:
        ssm.put_parameter(Name=name, Value=value, Type="String", Description=description, Overwrite=True)


def subscribe_queue(lab, topic_arn: str, queue_name: str) -> str:
    """An SQS queue subscribed to the topic, with the queue policy that lets the topic send to it."""
    sqs = lab.client("sqs")
    queue_url = sqs.create_queue(QueueName=queue_name, tags=lab.tags.as_dict())["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    lab.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def approval_message(lab, queue_url: str, token: str, timeout: float = 60) -> dict:
    """The SNS notification the approval with `token` published, as the queue received it.

    Returns {"Subject": ..., "Message": <the parsed JSON CodePipeline sent>}; messages read on the
    way (other approvals, earlier runs) are deleted from the queue.
    """
    sqs = lab.client("sqs")

    def received():
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            if body.get("approval", {}).get("token") == token:
                return {"Subject": envelope.get("Subject"), "Message": body}
        return None

    with Progress(1, "Approval notification in the queue") as bar:
        found = poll(received, timeout, interval=0.2, what="the approval's SNS message in the queue")
        bar.done("received")
    return found


def notification_table(notification: dict, token: str) -> pd.DataFrame:
    """The notification's fields a reviewer reads; the token and link are compared, not printed."""
    approval = notification["Message"]["approval"]
    rows = [("Subject", notification["Subject"]),
            *[(f"approval.{k}", approval.get(k)) for k in ("pipelineName", "stageName", "actionName",
                                                           "customData", "externalEntityLink")],
            ("approval.token", "the token GetPipelineState shows" if approval.get("token") == token
             else "a different token!"),
            ("approval.approvalReviewLink", "console link ending in /approve/<token>"
             if str(approval.get("approvalReviewLink", "")).endswith(token) else approval.get("approvalReviewLink")),
            ("approval.expires", "7 days after the request"),
            ("region", notification["Message"].get("region"))]
    return pd.DataFrame(rows, columns=["field", "value"])


def approval_action(names: CourseNames, topic_arn: str, environment: str) -> dict:
    return codepipeline_helpers.action(APPROVAL_ACTION, "Approval", "Manual", {
        "NotificationArn": topic_arn,
        "CustomData": f"{PREVIOUS[environment].capitalize()} runs this release: check it, then approve it for {environment}.",
        # Where the reviewer looks: the code on main (a pull request or a test report fit too).
        "ExternalEntityLink": f"https://{names.region}.console.aws.amazon.com/codesuite/codecommit/"
                              f"repositories/{names.repository}/browse?region={names.region}",
    })


def environment_stage(names: CourseNames, environment: str, topic_arn: str | None) -> dict:
    """[Approve] → Configure (Parameter Store → bundle) → Deploy, in that runOrder."""
    actions = [approval_action(names, topic_arn, environment)] if topic_arn else []
    first = len(actions) + 1
    bundle = f"{environment.capitalize()}Bundle"
    variables = [{"name": "APP_ENV", "value": environment, "type": "PLAINTEXT"},
                 {"name": "LOG_LEVEL", "value": names.environment_parameter(environment), "type": "PARAMETER_STORE"}]
    actions += [
        codepipeline_helpers.action("Configure", "Build", "CodeBuild",
                {"ProjectName": names.configure_project, "EnvironmentVariables": json.dumps(variables)},
                run_order=first, inputs=("BuildOutput",), outputs=(bundle,),
                namespace=f"{environment.capitalize()}Config"),
        codepipeline_helpers.action("Deploy", "Deploy", "CodeDeploy",
                {"ApplicationName": names.codedeploy_app, "DeploymentGroupName": names.environment_group(environment)},
                run_order=first + 1, inputs=(bundle,)),
    ]
    return {"name": environment.capitalize(), "actions": actions}


def release_pipeline_definition(names: CourseNames, role_arn: str, topic_arn: str,
                                approvals: tuple[str, ...] = ("staging", "prod")) -> dict:
    """Source → Build (Build ∥ SecurityScan, then SmokeTest) → Dev → Staging → Prod.

    `approvals` names the environments whose stage starts with a manual approval; none is
    continuous deployment.
    """
    return {
        "name": names.release_pipeline,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": names.artifact_bucket},
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
        "stages": [
            codepipeline_helpers.source_stage(names),
            {"name": "Build", "actions": [
                codepipeline_helpers.action("Build", "Build", "CodeBuild", {"ProjectName": names.pipeline_build_project},
                        run_order=1, inputs=("SourceOutput",), outputs=("BuildOutput",),
                        namespace="BuildVariables"),
                codepipeline_helpers.action("SecurityScan", "Test", "CodeBuild", {"ProjectName": names.scan_project},
                        run_order=1, inputs=("SourceOutput",), namespace="ScanVariables"),
                codepipeline_helpers.action("SmokeTest", "Test", "CodeBuild", {"ProjectName": names.smoke_test_project},
                        run_order=2, inputs=("BuildOutput",)),
            ]},
            {"name": "Dev", "actions": [codepipeline_helpers.action(
                "Deploy", "Deploy", "CodeDeploy",
                {"ApplicationName": names.codedeploy_app, "DeploymentGroupName": names.environment_group("dev")},
                inputs=("BuildOutput",))]},
            *[environment_stage(names, env, topic_arn if env in approvals else None)
              for env in ("staging", "prod")],
        ],
    }


def stages_table(definition: dict) -> pd.DataFrame:
    """One row per action: stage, runOrder, action, provider (what runs side by side is visible)."""
    rows = [{"stage": stage["name"], "runOrder": action.get("runOrder", 1), "action": action["name"],
             "provider": action["actionTypeId"]["provider"],
             "input": ", ".join(a["name"] for a in action.get("inputArtifacts", [])),
             "output": ", ".join(a["name"] for a in action.get("outputArtifacts", []))}
            for stage in definition["stages"] for action in stage["actions"]]
    return pd.DataFrame(rows, columns=["stage", "runOrder", "action", "provider", "input", "output"])


def action_runs(lab, pipeline: str, execution_id: str, stage: str | None = None) -> pd.DataFrame:
    """The execution's actions with start and end times (seconds after the first one started)."""
    client = lab.client("codepipeline")
    details, token = [], None
    while True:
        kwargs = {"pipelineName": pipeline, "filter": {"pipelineExecutionId": execution_id}}
        if token:
            kwargs["nextToken"] = token
        page = client.list_action_executions(**kwargs)
        details += page["actionExecutionDetails"]
        token = page.get("nextToken")
        if not token:
            break
    if stage:
        details = [d for d in details if d["stageName"] == stage]
    if not details:
        return pd.DataFrame(columns=["stage", "action", "status", "start", "end"])
    origin = min(d["startTime"] for d in details)
    rows = [{"stage": d["stageName"], "action": d["actionName"], "status": d["status"],
             "start": (d["startTime"] - origin).total_seconds(),
             "end": (d["lastUpdateTime"] - origin).total_seconds()} for d in details]
    return pd.DataFrame(rows).sort_values(["start", "action"]).reset_index(drop=True)


def overlap_table(runs: pd.DataFrame) -> pd.DataFrame:
    """For each action: which others ran at the same time (stable, unlike the seconds)."""
    rows = []
    for _, run in runs.iterrows():
        alongside = [o["action"] for _, o in runs.iterrows() if o["action"] != run["action"]
                     and o["start"] < run["end"] and run["start"] < o["end"]]
        before = [o["action"] for _, o in runs.iterrows() if o["end"] <= run["start"]]
        rows.append({"action": run["action"], "status": run["status"],
                     "ran alongside": ", ".join(sorted(alongside)) or "—",
                     "started after": ", ".join(sorted(before)) or "—"})
    return pd.DataFrame(rows, columns=["action", "status", "ran alongside", "started after"])


def output_variables(lab, pipeline: str, execution_id: str, stage: str, action: str) -> dict:
    """An action's output variables in one execution (e.g. the configure action's APP_ENV, LOG_LEVEL)."""
    runs = lab.client("codepipeline").list_action_executions(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
    for run in runs:
        if run["stageName"] == stage and run["actionName"] == action:
            return run.get("output", {}).get("outputVariables", {})
    return {}


def environments_table(lab, names: CourseNames, environments=ENVIRONMENTS) -> pd.DataFrame:
    """What each environment's hosts serve: /api/status's version, log level and commit, per host."""
    by_name = {}
    for host in host_helpers.hosts(lab):
        by_name.setdefault((host.get("tags") or {}).get("Name", ""), []).append(host)
    rows = []
    for env in environments:
        for host in sorted(by_name.get(lab.name(names.environment_hosts_name(env)), []),
                           key=lambda h: h["instanceId"]):
            if host.get("state") not in (None, "running"):
                continue
            try:
                with urllib.request.urlopen(f"{host['url']}/api/status", timeout=5) as answer:
                    status = json.load(answer)
            except OSError as exc:
                status = {"logLevel": f"no answer ({exc})"}
            rows.append({"environment": env, "host": host["instanceId"], "version": status.get("version"),
                         "logLevel": status.get("logLevel"),
                         "commit": (status.get("commitId") or "")[:7]})
    return pd.DataFrame(rows, columns=["environment", "host", "version", "logLevel", "commit"])


def wait_for_approval(lab, pipeline: str, execution_id: str, stage: str, action: str = APPROVAL_ACTION,
                      timeout: float = 600) -> str:
    """Wait until `execution_id` reaches the approval; return its token (fails at once, with the
    failed action's reason, if the execution ends before it gets there)."""
    return codepipeline_helpers.wait_for_approval(lab, pipeline, stage, action, timeout=timeout,
                                                  execution_id=execution_id)


def decide_unless_clicked(panel, status: str = "Approved", automatic: bool = True) -> dict | None:
    """After an ApprovalPanel: keep the learner's click if there was one; otherwise decide `status`
    through the panel when `automatic` (headless runs, Run All, SOLVE_EXERCISES), or say what to do."""
    if panel.result is not None:
        print(f"Decided with the button: {panel.message.value}")
        return panel.result
    if not automatic:
        print(f"Waiting for your decision: click Approve or Reject above ({panel.stage}/{panel.action}); "
              "the view below follows the execution.")
        return None
    result = panel.decide(status)
    if result is None:
        raise RuntimeError(panel.message.value)
    print(f"Nobody clicked, so the notebook decided through the panel: {panel.message.value}")
    return result


def automatic_decisions(solve_exercises: bool) -> bool:
    """Whether a chapter's last approval is decided by the notebook itself (no person to click)."""
    return bool(solve_exercises) or headless()


def prepare(lab, names: CourseNames) -> dict:
    """Steps 1-3 of chapter 05 in one call (for tests and catch-up): parameters, staging and prod
    hosts and groups, the tool projects and their role, the topic and its queue, the pipeline role."""
    from labkit.services import codedeploy as codedeploy_helpers

    for environment, level in LOG_LEVELS.items():
        put_parameter(lab, names.environment_parameter(environment), level, f"my-app's log level in {environment}")
    codedeploy_role_arn = lab.client("iam").get_role(RoleName=names.codedeploy_role)["Role"]["Arn"]
    for environment in ("staging", "prod"):
        ensure_environment_hosts(lab, names, environment)
        codedeploy_helpers.ensure_deployment_group(
            lab, names.codedeploy_app, names.environment_group(environment), codedeploy_role_arn,
            lab.name(names.environment_hosts_name(environment)))
    build_role_arn = iam_helpers.ensure_service_role(
        lab, names.release_build_role, "codebuild.amazonaws.com", release_build_policy(names),
        "CodeBuild: my-app's scan, smoke test and per-environment configuration")
    for definition in tool_project_definitions(lab, names, build_role_arn):
        iam_helpers.retry_while_role_propagates(lab, lambda d=definition: codebuild_helpers.ensure_project(lab, d))
    topic_arn = lab.client("sns").create_topic(Name=names.approval_topic, Tags=lab.tags.as_list())["TopicArn"]
    queue_url = subscribe_queue(lab, topic_arn, names.approval_queue)
    role_arn = iam_helpers.ensure_service_role(
        lab, names.release_pipeline_role, "codepipeline.amazonaws.com", release_pipeline_policy(names),
        "CodePipeline: release my-app to dev, staging and prod")
    return {"topic_arn": topic_arn, "queue_url": queue_url, "role_arn": role_arn}
