"""User agents and screens become browser, OS, device and size class, fast."""

from __future__ import annotations

import time

import pytest

from events.ingest.clients import ClientInfo, client_info, screen_size


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ClientInfo("Chrome", "131.0", "Windows", "10", "Desktop"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            ClientInfo("Mobile Safari", "17.5", "iOS", "17.5", "Mobile"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            ClientInfo("Mobile Safari", "16.6", "iOS", "16.6", "Tablet"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
            ClientInfo("Firefox", "128.0", "Mac OS X", "14.5", "Desktop"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            ClientInfo("Chrome Mobile", "131.0", "Android", "14", "Mobile"),
        ),
        ("something odd", ClientInfo("", "", "", "", "Other")),
    ],
)
def test_client_info(user_agent: str, expected: ClientInfo) -> None:
    assert client_info(user_agent) == expected


def test_repeated_user_agents_cost_a_lookup() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0"
    client_info(agent)
    start = time.perf_counter()
    for _ in range(10_000):
        client_info(agent)
    assert (time.perf_counter() - start) / 10_000 < 5e-6


@pytest.mark.parametrize(
    ("width", "size"),
    [(None, ""), (0, ""), (390, "Mobile"), (800, "Tablet"), (1280, "Laptop"), (1920, "Desktop")],
)
def test_screen_size(width: int | None, size: str) -> None:
    assert screen_size(width) == size
