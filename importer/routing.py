"""Which feed a file is, from its name or the feed named for it."""

from __future__ import annotations

from importer.config import Settings
from importer.exceptions import UnroutableFileError
from importer.feed_names import feed_named_by
from importer.feeds import FEEDS, FeedSpec


def route(file_name: str, settings: Settings, feed: str | None = None) -> FeedSpec:
    """The feed named explicitly, else the one whose most specific pattern matches the name."""
    if feed is not None:
        if feed not in FEEDS:
            raise UnroutableFileError(f"unknown feed {feed!r}; feeds are {sorted(FEEDS)}")
        return FEEDS[feed]
    return FEEDS[feed_named_by(file_name, settings)]
