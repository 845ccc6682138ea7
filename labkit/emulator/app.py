"""The emulator's WSGI application: labkit's own Code* services, git over HTTP, and moto for the rest."""

from __future__ import annotations

import json
import logging
import traceback

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from labkit import __version__
from labkit.emulator import metric_filters
from labkit.emulator.cloudformation import install as install_cloudformation
from labkit.emulator.codebuild.responses import CodeBuildResponses
from labkit.emulator.codecommit.responses import CodeCommitResponses
from labkit.emulator.codedeploy.responses import CodeDeployResponses
from labkit.emulator.codepipeline.responses import CodePipelineResponses
from labkit.emulator.context import RequestContext
from labkit.emulator.cost_explorer import CostExplorer
from labkit.emulator.elb.registry import LoadBalancerRegistry
from labkit.emulator.json_api import AWSError, JsonService
from labkit.emulator.runtime import EmulatorRuntime
from labkit.statedir import clear_run_dirs

log = logging.getLogger("labkit.emulator")
OWNED_SERVICES = (CodeCommitResponses, CodeBuildResponses, CodeDeployResponses, CodePipelineResponses)
GIT_PREFIX = "/v1/repos/"


class EmulatorApp:
    def __init__(self, runtime: EmulatorRuntime):
        self.runtime = runtime
        self.services: dict[str, JsonService] = {}
        for cls in OWNED_SERVICES:
            service = cls(runtime)
            self.services[service.target_prefix] = service
            runtime.services[service.service_name] = service
        self.moto_app = DomainDispatcherApplication(create_backend_app)
        # Cost Explorer's GetCostAndUsage prices the emulator's measured usage; moto serves the rest.
        self.cost_explorer = CostExplorer(runtime)
        metric_filters.install()  # moto stores CloudWatch Logs metric filters; these apply them
        # labkit's resource types in moto's CloudFormation, and stacks that fail and roll back as AWS's do.
        install_cloudformation(runtime)
        # The CodeCommit service provides the git smart HTTP app once it serves repositories.
        codecommit = next(s for s in self.services.values() if s.service_name == "codecommit")
        self.git_app = getattr(codecommit, "git_app", None)
        # Local load balancers: a proxy per moto ELBv2 listener, health checks behind DescribeTargetHealth.
        self.load_balancers = LoadBalancerRegistry(runtime)
        runtime.services["elbv2"] = self.load_balancers
        runtime.on_reset(self.load_balancers.reset)
        self.load_balancers.start()
        self.internal_routes = {
            ("GET", "/_labkit/health"): self.health,
            ("POST", "/_labkit/reset"): self.reset,
            # Local hosts backing EC2 instances (CodeDeploy targets), with their ports and URLs.
            ("GET", "/_labkit/hosts"): lambda environ: runtime.service("codedeploy").hosts.describe(),
            # Local proxies of ELBv2 listeners, with their ports and URLs.
            ("GET", "/_labkit/load-balancers"): lambda environ: self.load_balancers.describe(),
        }

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        try:
            if path.startswith("/_labkit/"):
                return self._internal(environ, start_response)
            if path.startswith(GIT_PREFIX):
                return self._git(environ, start_response)
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            prefix, _, operation = target.partition(".")
            service = self.services.get(prefix)
            if service is not None:
                return self._owned(service, operation, environ, start_response)
            if target == "AWSInsightsIndexService.GetCostAndUsage":
                return self._owned(self.cost_explorer, operation, environ, start_response)
            if target == "AWSEvents.PutEvents":
                return self._put_events(environ, start_response)
            return self._moto(environ, start_response)
        except NotImplementedError as exc:  # an operation moto lacks: name it, not a vague failure
            operation = environ.get("HTTP_X_AMZ_TARGET", "") or f"{environ.get('REQUEST_METHOD')} {path}"
            log.info("not emulated: %s (%s)", operation, exc)
            return _failure(environ, start_response,
                            f"labkit's emulator does not emulate {operation} ({exc}).",
                            code="NotImplementedException")
        except Exception:  # never answer a bare 500: say what broke and where to look
            log.error("unexpected error on %s %s\n%s", environ.get("REQUEST_METHOD"), path,
                      traceback.format_exc())
            return _failure(environ, start_response,
                            "The labkit emulator hit an unexpected error; see .labkit/emulator.log.")

    # --- labkit's own services -------------------------------------------------------
    def _owned(self, service: JsonService, operation: str, environ, start_response):
        ctx = RequestContext.from_environ(environ)
        body = _read_body(environ)
        headers = [("x-amzn-RequestId", ctx.request_id)]
        try:
            result = service.handle(operation, body, ctx)
        except AWSError as err:
            log.info("%s.%s -> %s: %s", service.service_name, operation, err.code, err.message)
            return _json(start_response, f"{err.status} {_reason(err.status)}",
                         {"__type": err.code, "message": err.message}, headers)
        return _json(start_response, "200 OK", result, headers)

    def _put_events(self, environ, start_response):
        ctx = RequestContext.from_environ(environ)
        try:
            entries = json.loads(_read_body(environ) or b"{}").get("Entries", [])
        except ValueError:
            return _json(start_response, "400 Bad Request",
                         {"__type": "ValidationException", "message": "The body is not valid JSON."})
        if not 1 <= len(entries) <= 10:
            return _json(start_response, "400 Bad Request", {
                "__type": "ValidationException",
                "message": "1 validation error detected: Value at 'entries' failed to satisfy "
                           "constraint: Member must have length between 1 and 10"})
        result = self.runtime.events.put_events_api(entries, ctx.account_id, ctx.region)
        return _json(start_response, "200 OK", result, [("x-amzn-RequestId", ctx.request_id)])

    # --- git smart HTTP ----------------------------------------------------------------
    def _git(self, environ, start_response):
        if self.git_app is None:
            return _text(start_response, "404 Not Found", "git over HTTP is not available yet\n")
        return self.git_app(environ, start_response)

    # --- moto ------------------------------------------------------------------------
    def _moto(self, environ, start_response):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            if status.startswith("500"):
                return lambda _data: None  # the body is replaced below
            return start_response(status, headers, exc_info)

        body = self.moto_app(environ, capture)
        if not captured.get("status", "").startswith("500"):
            return body
        text = b"".join(body).decode("utf-8", "replace")
        log.error("moto answered 500 for %s %s: %s", environ.get("REQUEST_METHOD"),
                  environ.get("PATH_INFO"), text[:2000])
        return _failure(environ, start_response, "The emulator's moto backend failed on this "
                        "request; see .labkit/emulator.log.")

    # --- /_labkit ------------------------------------------------------------------------
    def _internal(self, environ, start_response):
        key = (environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "").rstrip("/"))
        handler = self.internal_routes.get(key)
        if handler is None:
            known = ", ".join(f"{m} {p}" for m, p in sorted(self.internal_routes))
            return _json(start_response, "404 Not Found",
                         {"message": f"No such emulator endpoint {key[0]} {key[1]}. Known: {known}."})
        return _json(start_response, "200 OK", handler(environ))

    def health(self, environ) -> dict:
        return {
            "status": "ok",
            "service": "labkit-emulator",
            "version": __version__,
            "uptime": round(self.runtime.uptime, 3),
            "port": self.runtime.port,
            "url": self.runtime.url,
        }

    def reset(self, environ) -> dict:
        """Back to empty: end processes, forget labkit's and moto's state, clear run folders."""
        from moto.moto_api._internal.models import moto_api_backend

        ended = self.runtime.processes.end()
        self.runtime.reset()
        moto_api_backend.reset()
        clear_run_dirs(self.runtime.state_dir)
        return {"status": "reset", "processesEnded": ended}


def _failure(environ, start_response, message: str, code: str = "LabkitEmulatorError"):
    """A 400 in the protocol the client speaks: JSON for X-Amz-Target services, XML otherwise."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return _json(start_response, "400 Bad Request",
                     {"__type": code, "message": message})
    xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
           f"<Message>{message}</Message></Error></ErrorResponse>")
    return _text(start_response, "400 Bad Request", xml, "text/xml")


def _read_body(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _reason(status: int) -> str:
    return {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            429: "Too Many Requests"}.get(status, "Error")


def _json(start_response, status: str, payload: dict, headers=None):
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"),
                            ("Content-Length", str(len(data))), *(headers or [])])
    return [data]


def _text(start_response, status: str, text: str, content_type: str = "text/plain"):
    data = text.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]
