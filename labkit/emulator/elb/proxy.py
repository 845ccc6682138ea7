"""One listener's reverse proxy: a real HTTP server on 127.0.0.1 forwarding to the target group's hosts."""

from __future__ import annotations

import http.client
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("labkit.emulator.elb.proxy")

# Headers that describe one hop's connection and must not be passed on (RFC 9110 §7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade"}
IDLE_TIMEOUT = 60.0  # an ALB's default idle timeout


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ListenerProxy:
    """Serves one listener; `router.route(listener_arn)` says where each request goes."""

    def __init__(self, router, listener_arn: str, load_balancer_arn: str, listener_port: int):
        self.router = router
        self.listener_arn = listener_arn
        self.load_balancer_arn = load_balancer_arn
        self.listener_port = listener_port
        self.server = _Server(("127.0.0.1", 0), _handler_for(self))
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"elb-proxy-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler_for(proxy: ListenerProxy):
    class Handler(BaseHTTPRequestHandler):
        server_version = "awselb/2.0"
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):  # the emulator's log, not stderr per request
            log.debug("%s %s", proxy.url, fmt % args)

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else None
            decision = proxy.router.route(proxy.listener_arn)
            if decision.fixed is not None:
                status, content_type, text = decision.fixed
                return self._answer(status, text, content_type)
            lease = decision.lease
            if lease is None:
                return self._answer(503, _error_page(503, "Service Temporarily Unavailable"))
            try:
                self._relay(lease.port, body)
            finally:
                lease.release()

        def _relay(self, port: int | None, body: bytes | None) -> None:
            if port is None:
                return self._answer(502, _error_page(502, "Bad Gateway"))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            headers["X-Forwarded-Proto"] = "http"
            headers["X-Forwarded-Port"] = str(proxy.listener_port)
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=IDLE_TIMEOUT)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
            except TimeoutError:
                return self._answer(504, _error_page(504, "Gateway Time-out"))
            except (OSError, http.client.HTTPException):
                return self._answer(502, _error_page(502, "Bad Gateway"))
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _answer(self, status: int, text: str, content_type: str = "text/html") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward

    return Handler


def _error_page(status: int, reason: str) -> str:
    """The body an ALB answers with when it cannot reach a target."""
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n")
