"""EmulatorRuntime: what every part of the running emulator shares (paths, port, processes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from labkit.emulator.children import ProcessRegistry
from labkit.emulator.eventbridge import EventBridge


class EmulatorRuntime:
    def __init__(self, state_dir: Path, port: int, host: str = "127.0.0.1"):
        self.state_dir = state_dir
        self.port = port
        self.host = host
        self.url = f"http://{host}:{port}"
        self.started_at = time.time()
        self.processes = ProcessRegistry(state_dir)
        self.events = EventBridge()
        # Set when the server shuts down, so engines' worker threads can stop waiting.
        self.stopping = threading.Event()
        self._reset_hooks: list = []
        self.services: dict[str, object] = {}  # botocore name -> labkit's service, for engines

    def service(self, name: str):
        """Another owned service (e.g. the pipeline engine asks for "codebuild")."""
        return self.services[name]

    def dir(self, name: str) -> Path:
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def on_reset(self, hook) -> None:
        """Register a callable that clears a service's in-memory state."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        for hook in self._reset_hooks:
            hook()

    @property
    def uptime(self) -> float:
        return time.time() - self.started_at
