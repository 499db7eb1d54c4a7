"""User agent -> browser, version, OS, version and device type; screen width -> size class.

Parsing uses ua-parser 1.0's best resolver (the `regex` backend of ua-parser-rs, ~65 µs a
new string) and user-agents' device rules (mobile, tablet, desktop) on top of it; results
are cached per string, so repeated user agents cost a dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse as parse_ua
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system


class _FastUserAgent(UserAgent):
    """user-agents' device rules on a result from ua-parser's fast resolver (its own
    constructor re-parses through ua-parser's legacy API, 20x slower)."""

    def __init__(self, user_agent: str) -> None:  # deliberately not calling super().__init__
        result = parse_ua(user_agent).with_defaults()
        agent, os, device = result.user_agent, result.os, result.device
        self.ua_string = user_agent
        self.os = parse_operating_system(
            family=os.family,
            major=os.major,
            minor=os.minor,
            patch=os.patch,
            patch_minor=os.patch_minor,
        )
        self.browser = parse_browser(
            family=agent.family, major=agent.major, minor=agent.minor, patch=agent.patch
        )
        self.device = parse_device(family=device.family, brand=device.brand, model=device.model)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str  # Desktop, Mobile, Tablet or Other


def _version(*parts: str | None) -> str:
    present = [p for p in parts if p]
    return ".".join(present[:2])


@lru_cache(maxsize=50_000)
def client_info(user_agent: str) -> ClientInfo:
    agent = _FastUserAgent(user_agent)
    if agent.is_tablet:
        device = "Tablet"
    elif agent.is_mobile:
        device = "Mobile"
    elif agent.is_pc:
        device = "Desktop"
    else:
        device = "Other"
    browser, os = agent.browser, agent.os
    return ClientInfo(
        browser="" if browser.family == "Other" else browser.family,
        browser_version=""
        if browser.family == "Other"
        else _version(*browser.version_string.split(".")),
        os="" if os.family == "Other" else os.family,
        os_version="" if os.family == "Other" else _version(*os.version_string.split(".")),
        device=device,
    )


def screen_size(width: int | None) -> str:
    """Plausible's size classes of the screen width in CSS pixels."""
    if width is None or width <= 0:
        return ""
    if width < 576:
        return "Mobile"
    if width < 992:
        return "Tablet"
    if width < 1440:
        return "Laptop"
    return "Desktop"
