"""Time from an event's 2xx to its row being visible in ClickHouse (reports read there).

    .venv/bin/python bench/visibility.py services [events]
    .venv/bin/python bench/visibility.py embedded [events]

services: a real Trail (2 web workers, Celery worker + beat, ClickHouse over HTTP); each
event is posted to `/api/event` with a unique property, then ClickHouse is polled every
20 ms until the row is there. embedded: the same in one process, as `make run` runs it
(the WSGI application and the job thread), polling the embedded engine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request

DOMAIN = "bench-visible.com"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def post(base: str, seq: int) -> None:
    body = json.dumps({"n": "Seen", "u": f"https://{DOMAIN}/", "d": DOMAIN, "p": {"seq": seq}})
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/api/event",
        data=body.encode(),
        headers={"User-Agent": UA, "Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 202


def measure(send: object, visible: object, events: int) -> list[float]:
    delays = []
    for seq in range(events):
        send(seq)  # type: ignore[operator]
        answered = time.monotonic()
        while not visible(seq):  # type: ignore[operator]
            if time.monotonic() - answered > 60:
                raise SystemExit(f"event {seq} not visible after 60 s")
            time.sleep(0.02)
        delays.append(time.monotonic() - answered)
        time.sleep(0.3)  # land at different points of the rotation and flush cycle
    return delays


def services(events: int) -> list[float]:
    from trail_proc import Trail

    from events.clickhouse.server import ServerClickHouse

    trail = Trail(mode="services", workers=2)
    trail.prepare()
    trail.start()
    trail.add_site(DOMAIN)
    client = ServerClickHouse(trail.clickhouse_url)
    sql = "SELECT count() AS n FROM events WHERE name = 'Seen' AND props['seq'] = {s:String}"
    try:
        return measure(
            lambda seq: post(trail.base, seq),
            lambda seq: client.query(sql, {"s": str(seq)})[0]["n"] > 0,
            events,
        )
    finally:
        trail.stop()


def embedded(events: int) -> list[float]:
    import _setup

    _setup.django()
    import io

    from django.core.wsgi import get_wsgi_application

    from events.clickhouse import get_client
    from events.clickhouse.migrate import migrate
    from events.ingest.wsgi import wrap
    from events.job_thread import job_thread
    from tests import factories

    migrate(get_client())
    factories.site(factories.organization(), DOMAIN)
    app = wrap(get_wsgi_application())
    job_thread.start()

    def send(seq: int) -> None:
        body = json.dumps({"n": "Seen", "u": f"https://{DOMAIN}/", "p": {"seq": seq}}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/event",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "81.2.69.142",
            "HTTP_USER_AGENT": UA,
            "wsgi.input": io.BytesIO(body),
        }
        status = []
        app(environ, lambda s, h: status.append(s))
        assert status[0].startswith("202"), status

    sql = "SELECT count() AS n FROM events WHERE name = 'Seen' AND props['seq'] = {s:String}"
    try:
        return measure(
            send, lambda seq: get_client().query(sql, {"s": str(seq)})[0]["n"] > 0, events
        )
    finally:
        job_thread.stop()


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "services"
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    delays = sorted(services(events) if mode == "services" else embedded(events))
    print(
        f"{mode}: 2xx -> visible in ClickHouse over {events} events: "
        f"median {statistics.median(delays):.2f} s, max {delays[-1]:.2f} s (limit 5 s)"
    )


if __name__ == "__main__":
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.dirname(__file__)))
    main()
