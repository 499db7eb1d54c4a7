"""User agent -> browser, version, OS, version and device type; screen width -> size class.

Parsing uses ua-parser 1.0's best resolver (the `regex` backend of ua-parser-rs, ~65 µs a
new string) and user-agents' device rules (mobile, tablet, desktop) on top of it; names
are then put in Plausible's words (`events.enrich.labels`). Results are cached per string,
so repeated user agents cost a dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse as parse_ua
from user_agents.parsers import (
    MOBILE_BROWSER_FAMILIES,
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

from events.enrich.labels import BROWSERS, IPADOS, MOBILE_APP, OPERATING_SYSTEMS

_DESKTOP_UNIXES = frozenset({"FreeBSD", "OpenBSD", "NetBSD"})


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

    def _is_android_tablet(self) -> bool:
        """Android phones say "Mobile" (Google's rule for browsers on Android), tablets do
        not; user-agents looks for "Mobile Safari" only and calls DuckDuckGo's phones
        tablets."""
        return "Mobile" not in self.ua_string and (
            self.browser.family not in (*MOBILE_BROWSER_FAMILIES, "Firefox Mobile")
        )

    @property
    def is_pc(self) -> bool:
        return bool(super().is_pc) or self.os.family in _DESKTOP_UNIXES


@dataclass(frozen=True, slots=True)
class ClientInfo:
    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str  # Desktop, Mobile, Tablet, or "" when unknown (reports say "(not set)")


def _version(version_string: str) -> str:
    """Major and minor only, as Plausible stores them ("17.4.1" -> "17.4")."""
    return ".".join(part for part in version_string.split(".")[:2] if part)


def _os_name(agent: _FastUserAgent) -> str:
    family = agent.os.family
    major = agent.os.version_string.partition(".")[0]
    if family == "iOS" and agent.device.family == "iPad" and major.isdigit() and int(major) >= 13:
        return IPADOS
    return OPERATING_SYSTEMS.get(family, family)


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
        device = ""
    browser_family, os_family = agent.browser.family, agent.os.family
    browser = "" if browser_family == "Other" else BROWSERS.get(browser_family, browser_family)
    known_os = os_family != "Other"
    return ClientInfo(
        browser=browser,
        browser_version=""
        if browser in ("", MOBILE_APP)
        else _version(agent.browser.version_string),
        os=_os_name(agent) if known_os else "",
        os_version=_version(agent.os.version_string) if known_os else "",
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
