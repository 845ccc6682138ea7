"""Test helpers for local load balancers: an ALB with one listener, small HTTP backends, a request loop."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

FAST_CHECKS = {"HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
               "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}


def load_balancers(emulator) -> dict[str, dict]:
    with urllib.request.urlopen(f"{emulator.url}/_labkit/load-balancers", timeout=10) as response:
        return {lb["listenerArn"]: lb for lb in json.load(response)["loadBalancers"]}


class Balancer:
    """An application load balancer, a target group (port 3000, /health) and a listener on 80."""

    def __init__(self, aws, emulator, *, target_type: str = "instance", delay: int = 1,
                 path: str = "/health", port: int = 3000, listener: bool = True):
        self.aws, self.emulator = aws, emulator
        elb, ec2 = aws("elbv2"), aws("ec2")
        name = f"lb-{uuid.uuid4().hex[:8]}"
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
        self.group_arn = elb.create_target_group(
            Name=f"tg-{name}", Protocol="HTTP", Port=port, VpcId=vpc, TargetType=target_type,
            HealthCheckPath=path, **FAST_CHECKS)["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=self.group_arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
        self.arn = elb.create_load_balancer(Name=name, Subnets=subnets, Type="application",
                                            Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        self.listener_arn = None
        if listener:
            self.add_listener()
        self.name = name

    def add_listener(self) -> str:
        self.listener_arn = self.aws("elbv2").create_listener(
            LoadBalancerArn=self.arn, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.group_arn}])["Listeners"][0]["ListenerArn"]
        return self.listener_arn

    @property
    def url(self) -> str:
        return load_balancers(self.emulator)[self.listener_arn]["url"]

    def register(self, *targets: tuple[str, int | None]) -> None:
        self.aws("elbv2").register_targets(TargetGroupArn=self.group_arn, Targets=[
            {"Id": i, **({"Port": p} if p else {})} for i, p in targets])

    def deregister(self, *targets: tuple[str, int | None]) -> None:
        self.aws("elbv2").deregister_targets(TargetGroupArn=self.group_arn, Targets=[
            {"Id": i, **({"Port": p} if p else {})} for i, p in targets])

    def health(self) -> dict[str, dict]:
        found = self.aws("elbv2").describe_target_health(TargetGroupArn=self.group_arn)
        return {d["Target"]["Id"] + ":" + str(d["Target"]["Port"]): d["TargetHealth"]
                for d in found["TargetHealthDescriptions"]}

    def states(self) -> dict[str, str]:
        return {k: v["State"] for k, v in self.health().items()}

    def delete(self) -> None:
        self.aws("elbv2").delete_load_balancer(LoadBalancerArn=self.arn)


BACKEND_SCRIPT = r"""
import http.server, sys
name = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = name.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def start_backend(port: int, name: str) -> subprocess.Popen:
    """A tiny HTTP service on 127.0.0.1:port answering its name (ended by the caller, by pid)."""
    return subprocess.Popen([sys.executable, "-c", BACKEND_SCRIPT, str(port), name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class RequestLoop:
    """Sends GET requests to a URL in a bounded loop on a thread, counting answers and failures."""

    def __init__(self, url: str, max_requests: int = 20000, pace: float = 0.01):
        # `pace` spaces the requests so the loop measures the emulator without starving it of CPU.
        self.url, self.max_requests, self.pace = url, max_requests, pace
        self.answers: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < self.max_requests:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    self.answers[response.read().decode()] += 1
            except urllib.error.HTTPError as exc:
                self.failures[f"HTTP {exc.code}"] += 1
            except OSError as exc:
                self.failures[type(exc).__name__] += 1
            self._stop.wait(self.pace)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


REPO = Path(__file__).resolve().parents[1]
