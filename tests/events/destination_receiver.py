"""A real local receiver for the destinations' tests: an HTTP server (threads) that
verifies each request's signature with `common.outbound.verify`, records every event id
it accepts, and answers what the test says; it can be stopped and started again on the
same port (a receiver outage). `mixpanel=True` speaks Mixpanel's /import: Basic auth with
the project token, NDJSON of `{"event", "properties"}`, answers
`{"code": 200, "num_records_imported": n, "status": "OK"}`."""

from __future__ import annotations

import base64
import collections
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common.outbound import SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    secret: str = ""
    mixpanel: bool = False
    token: str = ""
    status: int = 200  # answered while no `answer` is queued
    answers: list[tuple[int, bytes]] = field(default_factory=list)  # answered in turn
    requests: list[dict[str, object]] = field(default_factory=list)
    ids: collections.Counter[str] = field(default_factory=collections.Counter)
    bad_signatures: int = 0
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/" + ("import" if self.mixpanel else "hook")

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def unique(self) -> set[str]:
        return set(self.ids)

    @property
    def repeated(self) -> int:
        return sum(self.ids.values()) - len(self.ids)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            if self.answers:
                return self.answers.pop(0)
            if self.status >= 300:
                return self.status, b'{"error": "the receiver is unwell"}'
            lines = [json.loads(line) for line in body.decode().splitlines() if line]
            if self.mixpanel:
                expected = "Basic " + base64.b64encode(f"{self.token}:".encode()).decode()
                if headers.get("Authorization") != expected:
                    return 401, b'{"code": 401, "error": "Invalid token", "status": "error"}'
                for event in lines:
                    self.ids[event["properties"]["$insert_id"]] += 1
                answer = {"code": 200, "num_records_imported": len(lines), "status": "OK"}
                return 200, json.dumps(answer).encode()
            if self.secret and not verify(self.secret, body, headers.get(SIGNATURE_HEADER, "")):
                self.bad_signatures += 1
                return 401, b"bad signature"
            for event in lines:
                self.ids[event["event_id"]] += 1
            return 200, b"ok"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, answer = receiver.handle(self.path, dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
