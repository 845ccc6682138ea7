"""Traffic through a load balancer: its URL, its targets' health, and a request loop that counts
what a user would have seen during a deployment (answers and failures), with a chart."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

import labkit.observe.charts  # noqa: F401  (notebooks show the Figures returned here)
from labkit.progress import Progress, poll

# ALB health checks as fast as AWS allows them: a target is healthy after two checks 5 s apart.
FAST_HEALTH_CHECKS = {"HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
                      "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}


def load_balancer_url(lab, load_balancer_arn: str, timeout: float = 30) -> str:
    """The URL a client uses: the ALB's DNS name on AWS; locally, the emulator's proxy for its listener."""
    if lab.backend == "aws":
        balancer = lab.client("elbv2").describe_load_balancers(
            LoadBalancerArns=[load_balancer_arn])["LoadBalancers"][0]
        return f"http://{balancer['DNSName']}"

    def proxy() -> str | None:
        with urllib.request.urlopen(f"{lab.endpoint_url}/_labkit/load-balancers", timeout=10) as answer:
            for entry in json.load(answer)["loadBalancers"]:
                if entry["loadBalancerArn"] == load_balancer_arn:
                    return entry["url"]
        return None

    return poll(proxy, timeout, interval=0.25, what=f"a listener of {load_balancer_arn}")


def wait_for_load_balancer(lab, load_balancer_arn: str, timeout: float = 600) -> dict:
    """Wait until the load balancer is `active` (minutes on AWS, at once locally); return it."""
    client = lab.client("elbv2")
    with Progress(1, "Load balancer") as bar:
        def active():
            balancer = client.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])["LoadBalancers"][0]
            bar.update(0, balancer["State"]["Code"])
            return balancer if balancer["State"]["Code"] == "active" else None

        balancer = poll(active, timeout, interval=2 if lab.backend == "aws" else 0.25,
                        what=f"load balancer {load_balancer_arn} to be active")
        bar.done("active")
    return balancer


def target_health_table(lab, target_group_arn: str) -> pd.DataFrame:
    """One row per registered target: instance, port, state and the reason AWS gives for it."""
    found = lab.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    rows = [{"target": d["Target"]["Id"], "port": d["Target"].get("Port"),
             "state": d["TargetHealth"]["State"], "reason": d["TargetHealth"].get("Reason", "")}
            for d in found["TargetHealthDescriptions"]]
    return pd.DataFrame(rows, columns=["target", "port", "state", "reason"]).sort_values(
        "target", ignore_index=True)


def wait_for_healthy_targets(lab, target_group_arn: str, instance_ids: list[str],
                             timeout: float = 300) -> pd.DataFrame:
    """Wait until every instance in `instance_ids` is registered and `healthy`; return the health table."""
    wanted = set(instance_ids)
    with Progress(len(wanted), "Targets healthy", unit="target") as bar:
        def healthy():
            table = target_health_table(lab, target_group_arn)
            done = set(table.loc[table["state"] == "healthy", "target"]) & wanted
            bar.update(len(done), f"{len(done)}/{len(wanted)}")
            return (table[table["target"].isin(wanted)].reset_index(drop=True),) if done == wanted else None

        (table,) = poll(healthy, timeout, what=f"targets {', '.join(sorted(wanted))} to be healthy",
                     last_state=lambda: "as " + ", ".join(
                         f"{r.target} {r.state}" for r in target_health_table(
                             lab, target_group_arn).itertuples()))
        bar.done(f"{len(wanted)} healthy")
    return table


class RequestLoop:
    """`with RequestLoop(url) as loop: <deploy>`: GET `url` again and again on a background thread
    until the block ends, recording when each request was sent and what came back.

    `loop.ok`, `loop.failed`, `loop.answers` (body → count), `loop.failures` (kind → count),
    `loop.table()` (one row per request) and `loop.per_second()`.
    """

    def __init__(self, url: str, pace: float = 0.02, timeout: float = 10.0, max_requests: int = 50_000):
        # `pace` spaces the requests: a steady trickle of users, not a load test.
        self.url, self.pace, self.timeout, self.max_requests = url, pace, timeout, max_requests
        self.records: list[tuple[float, bool, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-loop", daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.records) < self.max_requests:
            sent = time.monotonic() - self._started
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                    self.records.append((sent, True, response.read().decode(errors="replace").strip()))
            except urllib.error.HTTPError as error:
                self.records.append((sent, False, f"HTTP {error.code}"))
            except OSError as error:  # refused, reset, timed out
                reason = getattr(error, "reason", error)
                self.records.append((sent, False, type(reason).__name__))
            self._stop.wait(self.pace)

    def __enter__(self) -> RequestLoop:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    @property
    def sent(self) -> int:
        return len(self.records)

    @property
    def ok(self) -> int:
        return sum(1 for _, good, _ in self.records if good)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def answers(self) -> Counter:
        return Counter(text for _, good, text in self.records if good)

    @property
    def failures(self) -> Counter:
        return Counter(text for _, good, text in self.records if not good)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=["second", "ok", "answer"])

    def per_second(self) -> pd.DataFrame:
        """Requests answered and failed in each second of the loop."""
        table = self.table()
        if table.empty:
            return pd.DataFrame(columns=["ok", "failed"])
        table["bucket"] = table["second"].astype(int)
        counts = table.groupby("bucket")["ok"].agg(ok="sum", total="count")
        counts["failed"] = counts["total"] - counts["ok"]
        return counts[["ok", "failed"]].astype(int)

    def __repr__(self) -> str:
        return f"<RequestLoop {self.url}: {self.sent} sent, {self.failed} failed>"


def requests_chart(loops: dict[str, RequestLoop], save: str | Path | None = None) -> Figure:
    """For each named loop, requests per second: answered (green) and failed (red), side by side."""
    figure = Figure(figsize=(4 * max(len(loops), 1) + 1, 3.2))
    axes = figure.subplots(1, max(len(loops), 1), squeeze=False)[0]
    for ax, (name, loop) in zip(axes, loops.items(), strict=False):  # no loop: one empty axis
        counts = loop.per_second()
        ax.bar(counts.index, counts["ok"], color="tab:green", label="answered", width=0.9)
        ax.bar(counts.index, counts["failed"], bottom=counts["ok"], color="tab:red", label="failed",
               width=0.9)
        ax.set_title(f"{name}\n{loop.failed} of {loop.sent} requests failed", fontsize=10)
        ax.set_xlabel("seconds since the deployment started")
    axes[0].set_ylabel("requests per second")
    axes[0].legend(fontsize="small", loc="lower left")
    figure.tight_layout()
    if save:
        figure.savefig(save, dpi=120)
    return figure


def bluegreen_table(lab, deployment_id: str, target_group_arn: str) -> pd.DataFrame:
    """One row per instance of a blue/green deployment: Blue or Green, its status, the lifecycle
    events it ran, and what the target group thinks of it now."""
    client = lab.client("codedeploy")
    ids = client.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    targets = client.batch_get_deployment_targets(deploymentId=deployment_id,
                                                  targetIds=ids)["deploymentTargets"] if ids else []
    health = target_health_table(lab, target_group_arn).set_index("target")["state"].to_dict()
    rows = []
    for target in targets:
        instance = target.get("instanceTarget") or {}
        ran = [e["lifecycleEventName"] for e in instance.get("lifecycleEvents", [])
               if e.get("status") not in ("Skipped", "Pending")]
        rows.append({"instance": instance.get("targetId"), "label": instance.get("instanceLabel", ""),
                     "status": instance.get("status"), "events run": " → ".join(ran),
                     "in the target group now": health.get(instance.get("targetId"), "not registered")})
    columns = ["instance", "label", "status", "events run", "in the target group now"]
    return pd.DataFrame(rows, columns=columns).sort_values(["label", "instance"], ignore_index=True)


def ensure_load_balancer_security_group(lab, name: str, port: int = 80, cidr: str = "0.0.0.0/0") -> str:
    """A security group in the default VPC letting `cidr` reach the load balancer's listener port."""
    ec2 = lab.client("ec2")
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    if found:
        return found[0]["GroupId"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group_id = ec2.create_security_group(
        GroupName=name, Description="labkit load balancer listener", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": lab.tags.as_list()}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
        "IpRanges": [{"CidrIp": cidr, "Description": "clients of the load balancer"}]}])
    return group_id
