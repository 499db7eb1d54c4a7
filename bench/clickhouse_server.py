"""A ClickHouse HTTP server for the services-mode benchmarks: the embedded engine behind
ClickHouse's HTTP protocol (tests/clickhouse_http.py), in a process of its own.

    .venv/bin/python bench/clickhouse_server.py DATA_DIR PORT
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.clickhouse_http import handler_for  # noqa: E402


def main(data_dir: str, port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(Path(data_dir)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
