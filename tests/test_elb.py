"""Local load balancers: a proxy per listener, 503 without targets, spreading across healthy targets,
health checks that really run (unhealthy when the service dies, healthy again when it is back),
DescribeTargetHealth's states and reasons, draining, and no port left once the emulator stops."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from bundles import emulator_hosts, http_get, wait_until
from conftest import free_port
from elb_helpers import Balancer, end, load_balancers, start_backend

from labkit import emulator_control


@pytest.fixture
def instances(aws, emulator):
    """`instances(n)` -> {instance id: its local host's port}; terminated after the test."""
    made: list[str] = []

    def launch(count: int = 1) -> dict[str, int]:
        ids = [i["InstanceId"] for i in aws("ec2").run_instances(
            ImageId="ami-12c6146b", MinCount=count, MaxCount=count)["Instances"]]
        made.extend(ids)
        hosts = wait_until(lambda: (lambda h: h if all(i in h for i in ids) else None)(
            emulator_hosts(emulator)), 20, "hosts for the instances")
        return {i: hosts[i]["port"] for i in ids}

    yield launch
    if made:
        aws("ec2").terminate_instances(InstanceIds=made)


@pytest.fixture
def backends():
    """`backends(name, port)` starts a small service on a host's port, as a deployment would."""
    started = []

    def start(name: str, port: int):
        started.append(start_backend(port, name))
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/")[0] == 200, 20, f"backend {name}")
        return port

    yield start
    for proc in started:
        end(proc)


def test_listener_gets_a_proxy_that_answers_503_without_targets(aws, emulator):
    lb = Balancer(aws, emulator, target_type="ip")
    found = load_balancers(emulator)[lb.listener_arn]
    assert found["loadBalancerArn"] == lb.arn and found["targetGroupArn"] == lb.group_arn
    assert found["url"] == f"http://127.0.0.1:{found['port']}"
    status, body = http_get(found["url"] + "/")
    assert status == 503 and "503 Service Temporarily Unavailable" in body

    # A second listener with a fixed response gets its own port and answers it.
    fixed = aws("elbv2").create_listener(LoadBalancerArn=lb.arn, Protocol="HTTP", Port=8080, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "nothing here"}}])
    listener = load_balancers(emulator)[fixed["Listeners"][0]["ListenerArn"]]
    assert listener["port"] != found["port"] and listener["targetGroupArn"] is None
    assert http_get(listener["url"] + "/any") == (404, "nothing here")
    lb.delete()
    wait_until(lambda: lb.listener_arn not in load_balancers(emulator), 10, "the proxy to go")
    assert emulator_control.port_is_free(found["port"])


def test_requests_spread_over_healthy_targets_and_health_follows_the_service(
        aws, emulator, instances, backends):
    lb = Balancer(aws, emulator, path="/")
    ports = instances(3)
    (one, p1), (two, p2), (three, p3) = sorted(ports.items())
    backends("one", p1), backends("two", p2)
    lb.register((one, None), (two, None))
    assert lb.states() == {f"{one}:3000": "initial", f"{two}:3000": "initial"}
    wait_until(lambda: set(lb.states().values()) == {"healthy"}, 30, "both targets healthy")
    seen = {http_get(lb.url + "/")[1] for _ in range(10)}
    assert seen == {"one", "two"}

    # Nothing listens on the third host yet: unhealthy with ELB's reason, and it gets no traffic.
    lb.register((three, None))
    wait_until(lambda: lb.states().get(f"{three}:3000") == "unhealthy", 30, "the dead target unhealthy")
    health = lb.health()[f"{three}:3000"]
    assert health["Reason"] == "Target.FailedHealthChecks" and health["Description"] == "Health checks failed"
    assert all(http_get(lb.url + "/")[0] == 200 for _ in range(10))

    # Its service comes up: healthy, and it gets requests.
    backends("three", p3)
    wait_until(lambda: lb.states().get(f"{three}:3000") == "healthy", 30, "the target healthy")
    assert "three" in {http_get(lb.url + "/")[1] for _ in range(10)}

    lb.deregister((three, None))
    assert f"{three}:3000" not in lb.states()
    lb.delete()


def test_killed_service_turns_unhealthy_and_back(aws, emulator, instances, backends):
    lb = Balancer(aws, emulator, path="/")
    (instance, port), = instances(1).items()
    proc = start_backend(port, "svc")
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/")[0] == 200, 20, "service up")
        lb.register((instance, None))
        wait_until(lambda: lb.states() == {f"{instance}:3000": "healthy"}, 30, "healthy")
    finally:
        end(proc)
    wait_until(lambda: lb.states() == {f"{instance}:3000": "unhealthy"}, 30, "unhealthy after kill")
    assert http_get(lb.url + "/")[0] == 502  # fails open to the only target, which is down
    backends("svc-again", port)
    wait_until(lambda: lb.states() == {f"{instance}:3000": "healthy"}, 30, "healthy after restart")
    assert http_get(lb.url + "/") == (200, "svc-again")
    lb.delete()


def test_unused_targets_and_ports_nothing_listens_on(aws, emulator, instances, backends):
    lb = Balancer(aws, emulator, path="/", listener=False)
    (instance, port), = instances(1).items()
    backends("idle", port)
    lb.register((instance, None))
    health = lb.health()[f"{instance}:3000"]
    assert (health["State"], health["Reason"]) == ("unused", "Target.NotInUse")
    lb.add_listener()
    wait_until(lambda: lb.states() == {f"{instance}:3000": "healthy"}, 30, "healthy once in use")
    # The same instance on another port: a host has one service port, so nothing answers there.
    lb.register((instance, 8080))
    wait_until(lambda: lb.states().get(f"{instance}:8080") == "unhealthy", 30, "port 8080 unhealthy")
    lb.delete()


SLOW_SCRIPT = r"""
import http.server, sys, os
release = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            open(release + ".seen", "w").close()
            while not os.path.exists(release):
                import time; time.sleep(0.05)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_deregistered_target_drains_its_in_flight_request(aws, emulator, instances, tmp_path):
    import subprocess
    import sys

    lb = Balancer(aws, emulator, path="/", delay=60)
    (instance, port), = instances(1).items()
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SCRIPT, str(port), str(release)])
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/")[0] == 200, 20, "service up")
        lb.register((instance, None))
        wait_until(lambda: lb.states() == {f"{instance}:3000": "healthy"}, 30, "healthy")
        result = {}

        def slow_request():
            with urllib.request.urlopen(lb.url + "/slow", timeout=60) as response:
                result["answer"] = (response.status, response.read())

        thread = threading.Thread(target=slow_request)
        thread.start()
        wait_until(lambda: (tmp_path / "release.seen").exists(), 20, "the request to reach the target")
        lb.deregister((instance, None))
        target = [{"Id": instance, "Port": 3000}]
        described = aws("elbv2").describe_target_health(TargetGroupArn=lb.group_arn, Targets=target)
        health = described["TargetHealthDescriptions"][0]["TargetHealth"]
        assert (health["State"], health["Reason"]) == ("draining", "Target.DeregistrationInProgress")
        assert http_get(lb.url + "/")[0] == 503  # no new request goes to a draining target
        release.touch()
        thread.join(timeout=30)
        assert result["answer"] == (200, b"ok")
        wait_until(lambda: aws("elbv2").describe_target_health(TargetGroupArn=lb.group_arn, Targets=target)
                   ["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unused", 10, "unused")
    finally:
        end(proc)
        lb.delete()


def test_no_proxy_port_is_left_after_the_emulator_stops(aws, tmp_path):
    from types import SimpleNamespace

    import boto3

    info = emulator_control.start(tmp_path / "state", free_port())
    try:
        client = lambda service: boto3.client(service, region_name="us-east-1", endpoint_url=info.url)  # noqa: E731
        lb = Balancer(client, SimpleNamespace(url=info.url), target_type="ip")
        port = load_balancers(SimpleNamespace(url=info.url))[lb.listener_arn]["port"]
        assert not emulator_control.port_is_free(port)
    finally:
        emulator_control.stop(tmp_path / "state")
    # The last threads of an exiting process may hold its sockets a moment after its pid looks gone.
    wait_until(lambda: emulator_control.port_is_free(port), 10, f"proxy port {port} to close")
