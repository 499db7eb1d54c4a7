"""ClickHouse's HTTP interface, served by the test process's embedded engine.

No ClickHouse server can be installed on CI, so the server backend (clickhouse-connect)
is tested against this: real ClickHouse (chDB) behind the subset of the HTTP protocol
that clickhouse-connect uses: the query in the body or the `query` URL parameter,
`param_<name>` bound parameters, settings as URL parameters, `INSERT … FORMAT <fmt>` with
the data in the body, errors as HTTP 500 with ClickHouse's message.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb
import pyarrow as pa

from events.clickhouse.base import INSERT_FORMATS, checked_identifier, quoted
from events.clickhouse.embedded import insert_arrow, insert_file

_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s", re.IGNORECASE)
_INSERT_BODY = re.compile(rb"^(\s*INSERT\s.*?\sFORMAT\s+\w+)\s", re.IGNORECASE | re.DOTALL)
# URL parameters of the protocol itself, not query settings.
_PROTOCOL = {
    "query",
    "query_id",
    "database",
    "default_format",
    "user",
    "password",
    "session_id",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "enable_http_compression",
    "compress",
    "decompress",
    "buffer_size",
}


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart/form-data body (clickhouse-connect sends a long query and
    its parameters this way, as ClickHouse's HTTP interface allows)."""
    message = BytesParser(policy=policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields


# `input('structure')`: the request's body as a table (the structure a quoted literal).
_INPUT = re.compile(r"\binput\(('(?:[^'\\]|\\.)*')\)")
_INTO = re.compile(r"^\s*INSERT\s+INTO\s+([A-Za-z0-9_.]+)", re.IGNORECASE)


def _insert(conn: Any, statement: str, fmt: str, data: bytes) -> int:
    """Insert as a server would: Arrow blocks through the embedded backend's own insert
    (chDB's streaming insert loses refused blocks silently), other formats streamed."""
    if fmt == "ArrowStream":
        table = _INTO.match(statement)
        if table is None:
            raise ValueError(f"cannot tell the table of {statement[:80]!r}")
        rows = pa.ipc.open_stream(data).read_all()
        types = dict(
            conn.query(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase()"
                " AND table = {table:String}",
                "ArrowTable",
                params={"table": table.group(1)},
            )
            .to_pydict()
            .items()
        )
        by_name = dict(zip(types["name"], types["type"], strict=True))
        insert_arrow(conn, table.group(1), by_name, rows, None)  # token: SET above
        return int(rows.num_rows)
    if fmt in INSERT_FORMATS:  # as the embedded backend: a refused block raises
        return insert_file(conn, statement, fmt, data)
    if found := _INPUT.search(statement):  # INSERT … SELECT … FROM input(structure)
        with tempfile.NamedTemporaryFile(prefix="trail-input-") as file:
            file.write(data)
            file.flush()
            source = f"file({quoted(file.name)}, {quoted(fmt)}, {found.group(1)})"
            conn.query(statement[: found.start()] + source + statement[found.end() :], "Null")
        return 0
    with conn.send_insert(statement, fmt) as inserter:
        inserter.append(data)
        return int(inserter.finish().rows_written)


class _Connections:
    """Open engine connections for the request threads to reuse: opening one costs ~26 ms
    of CPU, which a real server never spends per request. A connection goes back with the
    settings its request set returned to their defaults."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._idle: list[Any] = []
        self._guard = threading.Lock()

    @contextmanager
    def borrowed(self, settings: dict[str, str], database: str = "") -> Iterator[Any]:
        """A connection with `settings` set and `database` (a request's `database`
        parameter, as clickhouse-connect sends a URL's path) the current one."""
        with self._guard:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = chdb.connect(str(self.data_dir))
        try:
            for name, value in settings.items():
                conn.query(f"SET {name} = {quoted(value)}", "Null")
            if database:
                conn.query(f"USE {checked_identifier(database)}", "Null")
            yield conn
        finally:
            try:
                if database:
                    conn.query("USE default", "Null")
                for name in settings:
                    conn.query(f"SET {name} = DEFAULT", "Null")
            except Exception:
                conn.close()
            else:
                with self._guard:
                    self._idle.append(conn)

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    connections: _Connections

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/ping":
            self._reply(200, b"Ok.\n", {})
        else:
            self.do_POST()

    def _body(self) -> bytes:
        """The request's body, of a Content-Length or chunked (a streamed insert)."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after a chunk
        while self.rfile.readline().strip():  # trailers, up to the blank line
            pass
        return b"".join(parts)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._body()
        content_type = self.headers.get("Content-Type") or ""
        if content_type.startswith("multipart/form-data"):  # long queries: query + params
            args.update(_form_fields(content_type, body))
            body = b""
        if self.headers.get("Content-Encoding") not in (None, "identity"):
            self._reply(500, b"Code: 1. DB::Exception: compressed requests not supported here", {})
            return
        params = {k[len("param_") :]: v for k, v in args.items() if k.startswith("param_")}
        settings = {
            k: v for k, v in args.items() if k not in _PROTOCOL and not k.startswith("param_")
        }
        sql, data = args.get("query", ""), body
        if not sql:
            insert = _INSERT_BODY.match(body)
            if insert:  # `INSERT … FORMAT x` then the data, in the body
                sql, data = insert.group(1).decode(), body[insert.end() :]
            else:
                sql, data = body.decode(), b""
        try:
            with self.connections.borrowed(settings, args.get("database", "")) as conn:
                self._run(conn, sql, args.get("default_format", "TabSeparated"), data, params)
        except Exception as exc:  # every engine error becomes ClickHouse's HTTP 500
            self._reply(500, f"Code: 1. DB::Exception: {exc}".encode(), {})

    def _run(
        self, conn: Any, sql: str, default_format: str, data: bytes, params: dict[str, str]
    ) -> None:
        match = _FORMAT.search(sql)
        fmt = match.group(1) if match else default_format
        statement = sql[: match.start()] if match else sql
        if _INSERT.match(statement) and data:
            written = _insert(conn, statement, fmt, data)
            summary = {"written_rows": str(written)}
            self._reply(200, b"", {"X-ClickHouse-Summary": json.dumps(summary)})
            return
        result = conn.query(statement, fmt, params=params or None)
        self._reply(200, result.bytes(), {"X-ClickHouse-Format": fmt})

    def _reply(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-ClickHouse-Timezone", "UTC")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def handler_for(data_dir: Path) -> type[_Handler]:
    """The request handler class of a server of `data_dir`'s engine."""
    return type("Handler", (_Handler,), {"connections": _Connections(data_dir)})


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """Serve `data_dir`'s engine over HTTP on a free loopback port; the base URL."""
    handler = handler_for(data_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://default:@127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        handler.connections.close()
