"""Which partner sent a file and which feed it is, from where it lies and what it is called."""

from __future__ import annotations

import fnmatch
from pathlib import PurePath

from importer.config import Settings
from importer.exceptions import UnroutableFileError
from importer.feeds import FEEDS, FeedSpec

_COMPRESSION_SUFFIXES = (".gz",)


def feed_patterns(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each feed's file-name patterns: the configured ones, else the built-in ones."""
    return {
        name: tuple(settings.feed(name).patterns or spec.patterns) for name, spec in FEEDS.items()
    }


def route(file_name: str, settings: Settings, feed: str | None = None) -> FeedSpec:
    """The feed named explicitly, else the one whose most specific pattern matches the name."""
    if feed is not None:
        if feed not in FEEDS:
            raise UnroutableFileError(f"unknown feed {feed!r}; feeds are {sorted(FEEDS)}")
        return FEEDS[feed]
    stem = file_name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        stem = stem.removesuffix(suffix)
    stem = PurePath(stem).stem if "." in stem else stem
    matches = [
        (len(pattern.replace("*", "")), name)
        for name, patterns in feed_patterns(settings).items()
        for pattern in patterns
        if fnmatch.fnmatchcase(stem, pattern.lower())
    ]
    if not matches:
        known = "; ".join(
            f"{name}: {', '.join(patterns)}" for name, patterns in feed_patterns(settings).items()
        )
        raise UnroutableFileError(f"file name {file_name!r} matches no feed pattern ({known})")
    return FEEDS[max(matches)[1]]
