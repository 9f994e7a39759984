"""Helpers shared by the tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Dict, List, Optional

# Test-only credential (not a secret), as in conftest.py.
OPENAI_KEY = "sk-mock-openai-000000000000"


class HangingUpstream:
    """A server that reads requests and never answers; it records when clients hang up."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests: List[float] = []
        self.hangups: List[float] = []
        self._lock = threading.Condition()
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        seen = b""
        with conn:
            while b"\r\n\r\n" not in seen:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                seen += chunk
            with self._lock:
                self.requests.append(time.monotonic())
                self._lock.notify_all()
            conn.settimeout(0.2)
            while not self._stopping:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    with self._lock:
                        self.hangups.append(time.monotonic())
                        self._lock.notify_all()
                    return

    def wait_for(self, what: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Waits until `count` requests (or hang-ups) were seen."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(getattr(self, what)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self) -> None:
        self._stopping = True
        self._listener.close()


def hanging_call(server: HangingUpstream) -> Dict[str, Any]:
    """Keywords for an OpenAI Responses deployment on `server`."""
    return {"model": "openai/gpt-hang", "api_base": f"{server.url}/v1", "api_key": OPENAI_KEY, "num_retries": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def output_text_of(events: List[Any]) -> str:
    """The text of the `response.output_text.delta` events."""
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def final_of(events: List[Any]) -> Optional[Any]:
    """The response of the terminal event."""
    for e in events:
        if e.type in ("response.completed", "response.incomplete", "response.failed"):
            return e.response
    return None
