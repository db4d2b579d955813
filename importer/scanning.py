"""What is waiting: files in ``incoming/<partner>/`` and in each configured local source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from importer.config import Settings
from importer.inbox import Inbox, is_temporary
from importer.logs import printable
from importer.partner_ids import is_partner_id
from importer.stability import is_marker


@dataclass(frozen=True)
class Candidate:
    partner: str
    path: Path
    arrived: float
    """mtime when found: files of one lane are applied in this order"""
    stable_seconds: float
    require_marker: bool
    seen: tuple[int, int] | None = None
    """size and mtime (ns) the scan found it with, which the stability gate compares"""


def waiting(settings: Settings, inbox: Inbox) -> list[Candidate]:
    """Every waiting data file, oldest first; temp names, markers and symlinks are skipped."""
    found: list[Candidate] = []
    if inbox.incoming.is_dir():
        for partner_dir in sorted(inbox.incoming.iterdir()):
            if not _usable_partner_folder(partner_dir):
                continue
            if partner_dir.is_dir() and not partner_dir.is_symlink():
                found += _files(
                    partner_dir,
                    partner_dir.name,
                    settings.inbox.stable_seconds,
                    settings.inbox.require_done_marker,
                )
    for source in settings.local_sources:
        if source.path.is_dir():
            stable = source.stable_seconds
            found += _files(
                source.path,
                source.partner,
                settings.inbox.stable_seconds if stable is None else stable,
                source.require_done_marker,
            )
    return sorted(found, key=lambda c: (c.arrived, c.path.name))


_warned: set[Path] = set()


def _usable_partner_folder(folder: Path) -> bool:
    """A folder whose name is no valid partner id is left alone, and said so once."""
    if not folder.is_dir() or is_partner_id(folder.name):
        return True
    if folder not in _warned:
        _warned.add(folder)
        logger.warning("ignoring {}: not a valid partner id", printable(folder.name))
    return False


def _files(
    folder: Path, partner: str, stable_seconds: float, require_marker: bool
) -> list[Candidate]:
    """One ``stat`` a file: the folder's listing already tells links and folders apart."""
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if is_temporary(entry.name) or is_marker(entry.name) or entry.is_symlink():
                continue
            try:
                if not entry.is_file():
                    continue
                stat = entry.stat()
            except FileNotFoundError:
                continue
            seen = (stat.st_size, stat.st_mtime_ns)
            path = Path(entry.path)
            files.append(
                Candidate(partner, path, stat.st_mtime, stable_seconds, require_marker, seen)
            )
    return files
