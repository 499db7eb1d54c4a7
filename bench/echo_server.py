"""A minimal keep-alive HTTP/1.1 server for checking bench/loadgen: answers every request
with 202 and no body. Not a benchmark of anything but itself.

Usage: python3 bench/echo_server.py [--port 8999] [--service-ms 0]
Listens on 127.0.0.1. --service-ms blocks the event loop that long per request, capping
the server at about 1000/service-ms requests per second (to check how loadgen reports an
overloaded server).
"""

from __future__ import annotations

import argparse
import asyncio
import time

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class Echo(asyncio.Protocol):
    service_s = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            if self.service_s:
                time.sleep(self.service_s)
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--service-ms", type=float, default=0.0)
    args = parser.parse_args()
    Echo.service_s = args.service_ms / 1000
    asyncio.run(main(args.port))
