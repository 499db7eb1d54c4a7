"""Plausible's names for browsers and operating systems.

ua-parser names what it parses in its own words ("Mobile Safari", "Edge", "Mac OS X");
Plausible stores the names of Matomo's device detector (through ua_inspector) and folds a
few mobile variants into their desktop browser. Trail stores Plausible's words, so that
Stats API answers, filters such as `["is", "visit:browser", ["Microsoft Edge"]]` and
imported Plausible data line up. A family missing here is already spelled the same way
in both vocabularies and passes through unchanged. docs/ingest.md has the table.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

MOBILE_APP: Final = "Mobile App"
"""Plausible's one label for in-app browsers and Android WebViews (no version)."""

BROWSERS: Final = MappingProxyType(
    {
        # folded into the desktop browser, as Plausible does
        "Chrome Mobile": "Chrome",
        "Chrome Mobile iOS": "Chrome",
        "Mobile Safari": "Safari",
        "Mobile Safari UI/WKWebView": "Safari",
        "Firefox Mobile": "Firefox",
        "Firefox iOS": "Firefox",
        "Opera Mobile": "Opera",
        "Opera Mini": "Opera",
        # Matomo's spelling of the same browser
        "Edge": "Microsoft Edge",
        "Edge Mobile": "Microsoft Edge",
        "Samsung Internet": "Samsung Browser",
        "DuckDuckGo": "DuckDuckGo Privacy Browser",
        "DuckDuckGo Mobile": "DuckDuckGo Privacy Browser",
        "IE": "Internet Explorer",
        "Android": "Android Browser",
        "Amazon Silk": "Mobile Silk",
        "MiuiBrowser": "MIUI Browser",
        "Huawei Browser": "Huawei Browser Mobile",
        "QQ Browser Mobile": "QQ Browser",
        "Whale": "Whale Browser",
        "Ecosia Android": "Ecosia",
        "Ecosia iOS": "Ecosia",
        # WebViews and apps' own browsers
        "Chrome Mobile WebView": MOBILE_APP,
        "Facebook": MOBILE_APP,
        "Facebook Messenger": MOBILE_APP,
        "Instagram": MOBILE_APP,
        "Pinterest": MOBILE_APP,
        "Snapchat": MOBILE_APP,
        "Twitter": MOBILE_APP,
        "TikTok": MOBILE_APP,
        "Telegram": MOBILE_APP,
        "LINE": MOBILE_APP,
        "WeChat Browser": MOBILE_APP,
        "Google": MOBILE_APP,  # the Google Search app (GSA)
    }
)

OPERATING_SYSTEMS: Final = MappingProxyType(
    {
        "Mac OS X": "Mac",
        "Mac OS": "Mac",
        "Linux": "GNU/Linux",  # distributions named in the user agent keep their names
        "WatchOS": "watchOS",
        "ATV OS X": "tvOS",
    }
)

IPADOS: Final = "iPadOS"
"""What Plausible calls iOS on an iPad from version 13 on (Apple's split of 2019)."""
