"""Where a visit came from: its source, its channel and the referrer kept for reports; and
referrer spam.

`attribute()` follows Plausible's web analytics: a `utm_source` names the source (mapped to
a known source when it is one of its aliases), else the referrer's host does, looked up with
its parent domains in Trail's own list of well-known sources (data/sources.json). The
channel follows GA4's default channel grouping (the one Plausible also uses), computed from
the source's category, `utm_medium`, `utm_campaign` and the page's click id.

`is_spam_referrer()` checks the referrer's host and each parent domain against
data/referrer_spam.txt. Both data files ship with the package and load once, lazily;
nothing is downloaded. Decisions and the data formats: docs/referrers.md.

Why one file of ~470 lines: `attribute()` is one decision procedure (referrer parsing, the
source table, then the channel from both), and the channel rules need the source's
category; split, each half would import the other.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final, Generic, TypeVar
from urllib.parse import urlsplit

CHANNELS: Final[tuple[str, ...]] = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Unassigned",
)

# Categories a known source may have in data/sources.json. "ai" and "referral" are named
# sources whose visits count as Referral (GA4 has no AI channel).
CATEGORIES: Final[tuple[str, ...]] = (
    "search",
    "social",
    "video",
    "shopping",
    "email",
    "sms",
    "ai",
    "referral",
)

MAX_REFERRER = 2_000  # characters kept of the cleaned referrer (the edge caps it too)


@dataclass(frozen=True, slots=True)
class Attribution:
    source: str  # "Google", "Facebook", "Newsletter" (a utm_source kept as sent); "" direct
    channel: str  # one of CHANNELS
    referrer: str  # host without "www." + path; "" when direct or internal


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    category: str  # one of CATEGORIES, "" for a source that is not in the list


@dataclass(frozen=True, slots=True)
class SourceTable:
    hosts: dict[str, Source]  # exact domain -> source (subdomains match via parents)
    labels: dict[str, Source]  # "google" of "google.*" -> source
    apps: dict[str, Source]  # Android package name -> source
    aliases: dict[str, Source]  # normalised utm_source value -> source
    names: dict[str, Source]


DIRECT: Final = Attribution(source="", channel="Direct", referrer="")
_UNKNOWN = Source(name="", category="")

# --- data files ------------------------------------------------------------------------

_HOST_ENTRY = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z0-9-]+$")
_LABEL_ENTRY = re.compile(r"^([a-z0-9-]+)\.\*$")
_APP_ENTRY = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
_ALIAS_SEPARATORS = re.compile(r"[\s_-]+")


def _alias_key(value: str) -> str:
    return _ALIAS_SEPARATORS.sub("", value.strip().lower())


def parse_sources(text: str) -> SourceTable:
    """Parse and validate sources.json; a mistake in the file raises ValueError naming it."""
    data = json.loads(text)
    hosts: dict[str, Source] = {}
    labels: dict[str, Source] = {}
    apps: dict[str, Source] = {}
    aliases: dict[str, Source] = {}
    names: dict[str, Source] = {}

    def put(table: dict[str, Source], key: str, source: Source, what: str) -> None:
        if key in table and table[key] != source:
            raise ValueError(f"{what} {key!r} is given to {table[key].name} and {source.name}")
        table[key] = source

    for entry in data["sources"]:
        name, category = entry["name"], entry["category"]
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"bad source name {name!r}")
        if category not in CATEGORIES:
            raise ValueError(f"{name}: unknown category {category!r}")
        if name in names:
            raise ValueError(f"source {name!r} is listed twice")
        source = Source(name=name, category=category)
        names[name] = source
        for host in entry.get("hosts", []):
            if host.startswith("www."):
                raise ValueError(f"{name}: write {host!r} without 'www.'")
            if match := _LABEL_ENTRY.match(host):
                put(labels, match.group(1), source, "label")
            elif _HOST_ENTRY.match(host):
                put(hosts, host, source, "host")
            else:
                raise ValueError(f"{name}: bad host {host!r}")
        for app in entry.get("apps", []):
            if not _APP_ENTRY.match(app):
                raise ValueError(f"{name}: bad app {app!r} (lower case package name)")
            put(apps, app, source, "app")
        for alias in entry.get("aliases", []):
            put(aliases, _alias_key(alias), source, "alias")
    # A source's name is an alias of it, unless a source claimed that word explicitly.
    for source in names.values():
        aliases.setdefault(_alias_key(source.name), source)
    return SourceTable(hosts=hosts, labels=labels, apps=apps, aliases=aliases, names=names)


def parse_spam_list(text: str) -> frozenset[str]:
    domains = set()
    for line in text.splitlines():
        domain = line.strip().lower().rstrip(".")
        if domain and not domain.startswith("#"):
            domains.add(_to_ascii(domain.removeprefix("www.")))
    return frozenset(domains)


def _read_data(name: str) -> str:
    return resources.files("events.enrich").joinpath("data").joinpath(name).read_text("utf-8")


_T = TypeVar("_T")


class _Lazy(Generic[_T]):
    """A value built on first use, once, even when threads race for it."""

    def __init__(self, build: Callable[[], _T]) -> None:
        self._build = build
        self._value: _T | None = None
        self._lock = threading.Lock()

    def get(self) -> _T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value


_sources: Final = _Lazy(lambda: parse_sources(_read_data("sources.json")))
_spam: Final = _Lazy(lambda: parse_spam_list(_read_data("referrer_spam.txt")))


def sources() -> SourceTable:
    return _sources.get()


def spam_domains() -> frozenset[str]:
    return _spam.get()


# --- referrer URLs ---------------------------------------------------------------------

_WEB, _APP = "web", "app"
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)*$")  # letters of any script: IDN hosts as sent
# Scheme-less referrers some servers send ("example.com/page"): a dotted host first.
_SCHEMELESS = re.compile(r"^[\w-]+(?:\.[\w-]+)+(?::\d+)?(?:[/?#]\S*)?$")


@dataclass(frozen=True, slots=True)
class _Referrer:
    kind: str  # _WEB, _APP or "" (no usable referrer)
    host: str  # lower case, without "www." and a trailing dot; the package for _APP
    cleaned: str


_NO_REFERRER: Final = _Referrer(kind="", host="", cleaned="")


def _to_ascii(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _valid_host(host: str) -> bool:
    if len(host) > 253:
        return False
    if ":" in host:  # an IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOST.match(host))


@lru_cache(maxsize=50_000)
def _parse_referrer(referrer: str) -> _Referrer:
    text = referrer.strip()
    if not text:
        return _NO_REFERRER
    if "://" not in text:
        if not _SCHEMELESS.match(text):
            return _NO_REFERRER  # "not a url", "javascript:…", "about:blank"
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:  # "http://[::1" and other broken authorities
        return _NO_REFERRER
    scheme = parts.scheme.lower()
    host = host.rstrip(".")
    if not host or not _valid_host(host):
        return _NO_REFERRER
    if scheme == "android-app":
        return _Referrer(kind=_APP, host=host, cleaned=f"android-app://{host}"[:MAX_REFERRER])
    if scheme not in ("http", "https"):
        return _NO_REFERRER
    host = host.removeprefix("www.")
    shown = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    path = parts.path if parts.path not in ("", "/") else ""
    return _Referrer(kind=_WEB, host=host, cleaned=(shown + path)[:MAX_REFERRER])


# --- sources ---------------------------------------------------------------------------

# Second-level labels under a ccTLD that "label.*" accepts: google.co.uk, amazon.com.br.
_CC_SECOND_LEVEL: Final = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or"})


def _suffix_like(labels: list[str]) -> bool:
    """Whether labels look like a registry suffix: "com", "de", "co.uk", "com.br"."""
    if len(labels) == 1:
        return len(labels[0]) >= 2 and labels[0].isalpha()
    return (
        len(labels) == 2
        and labels[0] in _CC_SECOND_LEVEL
        and len(labels[1]) == 2
        and labels[1].isalpha()
    )


@lru_cache(maxsize=20_000)
def known_source(host: str) -> Source | None:
    """The listed source of a host (no "www."), trying the host, then each parent domain;
    at each level an exact domain first, then a "label.*" rule."""
    table = sources()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        found = table.hosts.get(".".join(labels[i:]))
        if found is None and _suffix_like(labels[i + 1 :]):
            found = table.labels.get(labels[i])
        if found is not None:
            return found
    return None


@lru_cache(maxsize=20_000)
def _referrer_source(kind: str, host: str) -> Source:
    found = sources().apps.get(host) if kind == _APP else known_source(host)
    return found or Source(name=host, category="")


@lru_cache(maxsize=10_000)
def _utm_source(value: str) -> Source:
    """A utm_source: the known source it names (an alias, or a domain of one), else itself."""
    sent = value.strip()
    key = _alias_key(sent)
    found = sources().aliases.get(key)
    if found is None and "." in key:
        ref = _parse_referrer(sent)
        if ref.kind == _WEB:
            found = known_source(ref.host)
    return found or Source(name=sent, category="")


def _is_internal(host: str, page_host: str) -> bool:
    page = page_host.strip().lower().rstrip(".").removeprefix("www.")
    if not page:
        return False
    return host == page or host.endswith("." + page) or page.endswith("." + host)


# --- channels --------------------------------------------------------------------------

# Click ids: the platform they name, and whether the click was paid. Facebook adds fbclid
# to organic links as well, so it names the source but never makes a visit paid.
_CLICK_IDS: Final[dict[str, tuple[str, bool]]] = {
    "gclid": ("Google", True),
    "gbraid": ("Google", True),
    "wbraid": ("Google", True),
    "dclid": ("Google", True),
    "msclkid": ("Bing", True),
    "fbclid": ("Facebook", False),
    "ttclid": ("TikTok", True),
    "twclid": ("Twitter", True),
    "li_fat_id": ("LinkedIn", True),
}

_PAID_MEDIUM = re.compile(r"^(?:.*cp.*|ppc|retargeting|paid.*)$")
_SHOPPING_CAMPAIGN = re.compile(r"(?:^|[^a-df-z])shop|shopping")
_DISPLAY = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_REFERRAL = frozenset({"referral", "app", "link"})
_EMAIL = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter", "newsletters"})
_AFFILIATE = frozenset({"affiliate", "affiliates"})


def channel_for(
    *,
    source: Source,
    medium: str,
    campaign: str,
    paid_click: bool = False,
    external_referrer: bool = False,
) -> str:
    """GA4's default channel grouping, in its order; medium and campaign in lower case."""
    category = source.category
    name = source.name.lower()
    if not source.name and not medium:
        return "Direct"
    if "cross-network" in campaign:
        return "Cross-network"
    paid = paid_click or bool(medium and _PAID_MEDIUM.match(medium))
    shopping = category == "shopping" or bool(campaign and _SHOPPING_CAMPAIGN.search(campaign))
    if paid:
        if shopping:
            return "Paid Shopping"
        if category == "search":
            return "Paid Search"
        if category == "social":
            return "Paid Social"
        if category == "video":
            return "Paid Video"
    if medium in _DISPLAY:
        return "Display"
    if paid:
        return "Paid Other"
    if shopping:
        return "Organic Shopping"
    if category == "social" or medium in _SOCIAL:
        return "Organic Social"
    if category == "video" or "video" in medium:
        return "Organic Video"
    if category == "search" or medium == "organic":
        return "Organic Search"
    if medium in _REFERRAL:
        return "Referral"
    if category == "email" or medium in _EMAIL or name in _EMAIL:
        return "Email"
    if medium in _AFFILIATE:
        return "Affiliates"
    if medium == "audio":
        return "Audio"
    if category == "sms" or medium == "sms" or name == "sms":
        return "SMS"
    if (
        medium.endswith("push")
        or "mobile" in medium
        or "notification" in medium
        or name == "firebase"
    ):
        return "Mobile Push Notifications"
    if external_referrer or category in ("ai", "referral"):
        return "Referral"
    return "Unassigned"


# --- the API ---------------------------------------------------------------------------


def attribute(
    *,
    referrer: str,
    page_host: str,
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
    click_id_param: str = "",
) -> Attribution:
    """Source, channel and cleaned referrer of a pageview (see the module docstring)."""
    ref = _parse_referrer(referrer)
    if ref.kind == _WEB and _is_internal(ref.host, page_host):
        ref = _NO_REFERRER
    medium = utm_medium.strip().lower()
    campaign = utm_campaign.strip().lower()
    if utm_source.strip():
        source = _utm_source(utm_source)
    elif ref.kind:
        source = _referrer_source(ref.kind, ref.host)
    else:
        source = _UNKNOWN
    click = _CLICK_IDS.get(click_id_param.strip().lower())
    paid_click = False
    if click is not None and not medium:
        platform, paid_click = click
        if not source.name:
            source = sources().names.get(platform) or Source(name=platform, category="")
    channel = channel_for(
        source=source,
        medium=medium,
        campaign=campaign,
        paid_click=paid_click,
        external_referrer=bool(ref.kind),
    )
    if channel == "Direct":
        return DIRECT
    return Attribution(source=source.name, channel=channel, referrer=ref.cleaned)


@lru_cache(maxsize=20_000)
def _is_spam_host(host: str) -> bool:
    spam = spam_domains()
    labels = _to_ascii(host).split(".")
    return any(".".join(labels[i:]) in spam for i in range(len(labels) - 1))


def is_spam_referrer(referrer: str) -> bool:
    """Whether the referrer's host, or any parent domain of it, is a known spam domain."""
    ref = _parse_referrer(referrer)
    return ref.kind == _WEB and _is_spam_host(ref.host)
