"""Helpers shared by the tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

#: This directory (subprocesses import helpers from it).
HERE_PATH = Path(__file__).resolve().parent

# Test-only credential (not a secret), as in conftest.py.
OPENAI_KEY = "sk-mock-openai-000000000000"


# The start of an OpenAI Responses stream: enough for the gateway to prime it (an output item
# and a first delta), after which a `streaming` upstream goes silent.
_STREAM_START = [
    {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_hang", "object": "response",
     "created_at": 1, "status": "in_progress", "model": "gpt-hang", "output": []}},
    {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
     "item": {"type": "message", "id": "msg_hang", "role": "assistant", "status": "in_progress", "content": []}},
    {"type": "response.content_part.added", "sequence_number": 2, "item_id": "msg_hang", "output_index": 0,
     "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}},
    {"type": "response.output_text.delta", "sequence_number": 3, "item_id": "msg_hang", "output_index": 0,
     "content_index": 0, "delta": "Hello"},
]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class HangingUpstream:
    """A server that reads requests and never answers (or, `streaming`, answers the start of
    a stream and then goes silent); it records when clients hang up."""

    def __init__(self, streaming: bool = False) -> None:
        self.streaming = streaming
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
            if self.streaming:
                try:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    )
                    for event in _STREAM_START:
                        conn.sendall(_chunk(b"event: %s\ndata: %s\n\n" % (event["type"].encode(), json.dumps(event).encode())))
                except OSError:
                    # The client hung up while the start was still being written (it had
                    # read enough of it): that is a hang-up too.
                    with self._lock:
                        self.requests.append(time.monotonic())
                        self.hangups.append(time.monotonic())
                        self._lock.notify_all()
                    return
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
