"""Figure 4: latency (p50, p99) of read-only calls through the emulator beside plain moto server
on another port, and requests per second with 8 concurrent clients."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

from benchmarks.harness import free_port, lab_on, own_emulator, percentile, wait_until
from labkit.procs import end_process_tree
from labkit.services import iam

BUCKET = "bench-overhead"
CLIENTS = 8


def client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, max_pool_connections=CLIENTS))


def latency(call, calls: int) -> dict:
    """Milliseconds per call after a short warm-up (connections, botocore's caches)."""
    for _ in range(10):
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(percentile(samples, 0.99), 2), "calls": calls}


def throughput(make_call, calls_per_client: int) -> float:
    """Requests per second of CLIENTS threads, each with a client of its own."""
    callers = [make_call() for _ in range(CLIENTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda call: [call() for _ in range(calls_per_client)], callers))
    return round(CLIENTS * calls_per_client / (time.perf_counter() - started), 1)


def fill_bucket(s3) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for n in range(20):
        s3.put_object(Bucket=BUCKET, Key=f"objects/{n:02d}.txt", Body=b"x" * 100)


def list_objects(url: str):
    s3 = client(url, "s3")
    return lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="objects/")


def small_pipeline(lab) -> str:
    """A two-stage S3 → S3 pipeline: something for GetPipelineState to read."""
    from labkit.names import course_names

    names = course_names(lab)
    lab.client("s3").create_bucket(Bucket=names.artifact_bucket)
    role = iam.ensure_service_role(lab, names.codepipeline_role, "codepipeline.amazonaws.com",
                                   iam.codepipeline_policy(names), "bench")
    s3_action = {"runOrder": 1, "actionTypeId": {"owner": "AWS", "provider": "S3", "version": "1"}}
    lab.client("codepipeline").create_pipeline(pipeline={
        "name": names.pipeline, "roleArn": role,
        "artifactStore": {"type": "S3", "location": names.artifact_bucket},
        "stages": [
            {"name": "Source", "actions": [{**s3_action, "name": "Source",
             "actionTypeId": {**s3_action["actionTypeId"], "category": "Source"},
             "configuration": {"S3Bucket": names.artifact_bucket, "S3ObjectKey": "in.zip",
                               "PollForSourceChanges": "false"},
             "outputArtifacts": [{"name": "Out"}]}]},
            {"name": "Deploy", "actions": [{**s3_action, "name": "Deploy",
             "actionTypeId": {**s3_action["actionTypeId"], "category": "Deploy"},
             "configuration": {"BucketName": names.artifact_bucket, "Extract": "true"},
             "inputArtifacts": [{"name": "Out"}]}]}]})
    return names.pipeline


def plain_moto_server():
    """moto's own server on a free port, in its own session (ended by pid)."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            client(url, "s3").list_buckets()
            return True
        except Exception:  # not listening yet
            return False

    wait_until(answers, 60, "moto_server to answer", interval=0.1)
    return proc, url


def measure(calls: int = 500, calls_per_client: int = 100) -> dict:
    results: dict = {}
    proc, moto_url = plain_moto_server()
    try:
        fill_bucket(client(moto_url, "s3"))
        results["moto_server"] = {
            "s3_list_objects_v2": latency(list_objects(moto_url), calls),
            "s3_rps_8_clients": throughput(lambda: list_objects(moto_url), calls_per_client)}
    finally:
        end_process_tree(proc.pid)
        proc.wait(timeout=10)
    with own_emulator() as info, lab_on(info) as lab:
        url = info.url
        fill_bucket(client(url, "s3"))
        pipeline = small_pipeline(lab)
        codepipeline, codebuild = client(url, "codepipeline"), client(url, "codebuild")
        state = lambda: codepipeline.get_pipeline_state(name=pipeline)  # noqa: E731
        builds = lambda: codebuild.batch_get_builds(ids=["bench:0000"])  # noqa: E731
        results["emulator"] = {
            "s3_list_objects_v2": latency(list_objects(url), calls),
            "get_pipeline_state": latency(state, calls),
            "batch_get_builds": latency(builds, calls),
            "s3_rps_8_clients": throughput(lambda: list_objects(url), calls_per_client),
            "get_pipeline_state_rps_8_clients": throughput(
                lambda: (lambda c: lambda: c.get_pipeline_state(name=pipeline))(
                    client(url, "codepipeline")), calls_per_client)}
    moto_p50 = results["moto_server"]["s3_list_objects_v2"]["p50_ms"]
    emulator_p50 = results["emulator"]["s3_list_objects_v2"]["p50_ms"]
    results["moto_routed_overhead_percent"] = round(100 * (emulator_p50 / moto_p50 - 1), 1)
    return results
