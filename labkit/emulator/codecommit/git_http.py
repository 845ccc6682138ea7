"""git smart HTTP for CodeCommit repositories: runs `git http-backend` as a CGI per request."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile

from labkit.emulator.codecommit.models import GitHost
from labkit.emulator.identity import default_arn

log = logging.getLogger("labkit.emulator.codecommit.git")
PREFIX = "/v1/repos/"
BACKEND_TIMEOUT = 300  # seconds; a clone or push of a course-sized repository takes well under one
CHUNK = 64 * 1024
SMART_PATHS = ("info/refs", "git-upload-pack", "git-receive-pack", "HEAD")


class GitHttpApp:
    """WSGI app for `/v1/repos/<name>/...`; pushes are announced like API writes."""

    def __init__(self, host: GitHost):
        self.host = host

    def __call__(self, environ, start_response):
        name, _, rest = environ.get("PATH_INFO", "")[len(PREFIX):].partition("/")
        name = name[:-4] if name.endswith(".git") else name
        repo = self.host.find(name)
        if repo is None or not repo.git.path.is_dir():
            return _answer(start_response, "404 Not Found",
                           f"repository '{name}' not found: no CodeCommit repository of that name "
                           "exists in the emulator (check the name, or create it with CreateRepository)\n")
        if rest not in SMART_PATHS:
            return _answer(start_response, "404 Not Found",
                           "labkit's emulator speaks git's smart HTTP protocol only\n")
        with tempfile.TemporaryFile() as body:
            _copy_body(environ, body)
            env = _cgi_env(environ, repo.git.path, rest, body.tell())
            body.seek(0)
            if rest != "git-receive-pack":
                return self._run(env, body, start_response)
            with repo.lock:  # refs before and after the push tell what it changed
                before = repo.git.refs()
                result = self._run(env, body, start_response)
                changes = _ref_changes(before, repo.git.refs())
                if changes:
                    repo.owner.reference_changed(repo, changes, default_arn(repo.account_id))
            return result

    def _run(self, env: dict, body, start_response):
        try:
            done = subprocess.run(["git", "http-backend"], stdin=body, env=env, capture_output=True,
                                  timeout=BACKEND_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("git http-backend timed out for %s", env.get("PATH_INFO"))
            return _answer(start_response, "504 Gateway Timeout", "git http-backend timed out\n")
        if done.stderr:
            log.info("git http-backend: %s", done.stderr.decode("utf-8", "replace").strip()[:2000])
        status, headers, payload = _parse_cgi(done.stdout)
        start_response(status, headers + [("Content-Length", str(len(payload)))])
        return [payload]


def _copy_body(environ, target) -> None:
    source = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    remaining = int(length) if length and length.isdigit() else None
    # Without a length (a chunked push), read to the end; werkzeug de-chunks into wsgi.input.
    if remaining is None and not environ.get("wsgi.input_terminated"):
        return
    while remaining is None or remaining > 0:
        data = source.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not data:
            break
        target.write(data)
        if remaining is not None:
            remaining -= len(data)


def _cgi_env(environ, repo_path, rest: str, length: int) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GIT_PROJECT_ROOT": str(repo_path.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo_path.name}/{rest}",
        "QUERY_STRING": environ.get("QUERY_STRING", ""),
        "REQUEST_METHOD": environ.get("REQUEST_METHOD", "GET"),
        "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
        "CONTENT_LENGTH": str(length),
        "REMOTE_USER": "labkit-learner",  # the emulator needs no git credentials (loopback only)
        "REMOTE_ADDR": environ.get("REMOTE_ADDR", "127.0.0.1"),
        "SERVER_PROTOCOL": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    for header in ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL"):
        if environ.get(header):
            env[header] = environ[header]
    return env


def _parse_cgi(output: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, sep, payload = output.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = output.partition(b"\n\n")
    status, headers = "200 OK", []
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = value.strip()
        elif key:
            headers.append((key.strip(), value.strip()))
    return status, headers, payload


def _ref_changes(before: dict, after: dict) -> list[tuple[str, str | None, str | None]]:
    changes = []
    for ref in sorted(set(before) | set(after)):
        old, new = before.get(ref), after.get(ref)
        if old != new:
            changes.append((ref, old, new))
    return changes


def _answer(start_response, status: str, text: str):
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
