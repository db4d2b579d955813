"""How every feed is doing: one row per partner and feed that has been seen or is expected.

The ledger gives each lane's last file and its last seven days; ``[[expected_feeds]]`` say which
are late; the inbox says what waits; ``remote_files`` and ``source_leases`` say which host polls
each SFTP source and which fetched files are still in a host's hands. A lane is unhealthy when
its last file failed or its deadline passed with nothing arrived: ``importer status`` then exits
1, for cron or a check.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.types import DateTime, Integer, String

from importer.clock import as_utc
from importer.config import ExpectedFeed, Settings
from importer.db.lanes import latest_per_lane
from importer.db.ledger import OUTCOMES, JobStatus, Ledger
from importer.db.remote_files import in_hand
from importer.db.source_leases import leases
from importer.exceptions import TerminalError
from importer.feed_names import feed_named_by
from importer.inbox import Inbox

WINDOW = timedelta(days=7)
UNROUTED = "-"
"""the feed of files whose name matched no feed"""
_OUTCOMES = [status.value for status in OUTCOMES]
Lane = tuple[str, str]


@dataclass(frozen=True)
class SourceHolder:
    source: str
    partner: str
    held_by: str | None
    """the host that polls it, or polled it last (``until`` passed: nobody does now)"""
    until: datetime | None

    def as_json(self) -> dict[str, object]:
        until = as_utc(self.until).isoformat() if self.until else None
        return {"source": self.source, "held_by": self.held_by, "until": until}


@dataclass(frozen=True)
class RemoteInHand:
    host: str | None
    remote_path: str
    state: str


@dataclass
class LaneStatus:
    partner: str
    feed: str
    last_file: str | None = None
    last_received: datetime | None = None
    last_status: str | None = None
    last_rows: int | None = None
    files_7d: int = 0
    failed_files_7d: int = 0
    rows_7d: int = 0
    failed_rows_7d: int = 0
    expected_by: str | None = None
    late: bool = False
    dropped_columns: list[str] = field(default_factory=list)
    """columns the partner's previous file filled that its last one lacked: a broken export?"""
    waiting: int = 0
    """files in ``incoming/``"""
    in_hand: int = 0
    """files in ``processing/``"""
    sources: list[SourceHolder] = field(default_factory=list)
    """the partner's SFTP sources and which host polls each"""
    remote_in_hand: list[RemoteInHand] = field(default_factory=list)
    """files of the lane fetched by a host (of any daemon sharing the database), not yet
    answered on the server"""

    @property
    def healthy(self) -> bool:
        return not self.late and self.last_status != JobStatus.FAILED

    @property
    def health(self) -> str:
        """late, failing, ok, or never (no file yet and not late): the word and the colour."""
        if self.late:
            return "late"
        if not self.healthy:
            return "failing"
        return "ok" if self.last_status else "never"

    @property
    def error_rate_7d(self) -> float:
        return self.failed_rows_7d / self.rows_7d if self.rows_7d else 0.0

    def as_json(self) -> dict[str, object]:
        body = asdict(self)
        received = self.last_received
        body["last_received"] = as_utc(received).isoformat() if received else None
        body["error_rate_7d"] = round(self.error_rate_7d, 4)
        body["healthy"] = self.healthy
        body["sources"] = [source.as_json() for source in self.sources]
        body["remote_in_hand"] = [asdict(remote) for remote in self.remote_in_hand]
        return body


def feed_status(
    settings: Settings, engine: Engine, now: datetime, holders: list[SourceHolder]
) -> list[LaneStatus]:
    """Every lane, each with the partner's SFTP sources among ``holders``
    (:func:`source_holders`, which the caller shows too)."""
    lanes: dict[Lane, LaneStatus] = {}

    def lane(partner: str, feed: str | None) -> LaneStatus:
        key = (partner, feed or UNROUTED)
        return lanes.setdefault(key, LaneStatus(*key))

    with engine.connect() as connection:
        for row in connection.execute(_LAST_FILES, {"statuses": _OUTCOMES}):
            found = lane(row.partner_id, row.feed)
            found.last_file, found.last_received = row.file_name, row.created_at
            found.last_status, found.last_rows = row.status, row.row_count
            found.dropped_columns = json.loads(row.dropped_columns or "[]")
        for row in connection.execute(_WEEK, {"since": now - WINDOW, "final": _OUTCOMES}):
            found = lane(row.partner_id, row.feed)
            found.files_7d, found.failed_files_7d = row.files, row.failed_files
            found.rows_7d, found.failed_rows_7d = row.rows or 0, row.failed_rows or 0
    for expected in settings.expected_feeds:
        found = lane(expected.partner, expected.feed)
        found.expected_by = f"{expected.by} {expected.days} {expected.timezone}"
        found.late = found.late or _is_late(engine, expected, now)
    inbox = Inbox(settings.inbox.root)
    for (partner, feed), count in _files_in(inbox.incoming, settings, in_hand=False).items():
        lane(partner, feed).waiting = count
    for (partner, feed), count in _files_in(inbox.processing, settings, in_hand=True).items():
        lane(partner, feed).in_hand = count
    for remote in in_hand(engine):
        found = lane(remote.partner_id, remote.feed or None)
        found.remote_in_hand.append(RemoteInHand(remote.host, remote.remote_path, remote.state))
    for found in lanes.values():
        found.sources = [h for h in holders if h.partner == found.partner]
    return [lanes[key] for key in sorted(lanes)]


def source_holders(settings: Settings, engine: Engine) -> list[SourceHolder]:
    """Every configured SFTP source, with the host whose lease on it is the latest."""
    held = {lease.source: lease for lease in leases(engine)}
    holders = []
    for source in settings.sftp_sources:
        lease = held.get(source.id)
        holders.append(
            SourceHolder(
                source.id,
                source.partner,
                lease.holder if lease else None,
                lease.expires_at if lease else None,
            )
        )
    return holders


def _is_late(engine: Engine, expected: ExpectedFeed, now: datetime) -> bool:
    """Today's deadline is past (on a day the feed is due) and nothing arrived since midnight."""
    zone = ZoneInfo(expected.timezone)
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time(), tzinfo=zone)
    hour, minute = (int(part) for part in expected.by.split(":"))
    trigger = CronTrigger(day_of_week=expected.days, hour=hour, minute=minute, timezone=zone)
    deadline = trigger.get_next_fire_time(None, midnight)
    if deadline is None or deadline.date() != local.date() or local < deadline:
        return False
    return not Ledger(engine).arrived_since(expected.partner, expected.feed, midnight)


def _files_in(folder: Path, settings: Settings, *, in_hand: bool) -> Counter[Lane]:
    """Files per lane in ``incoming/`` or ``processing/`` (``<job>-<file>`` there)."""
    counts: Counter[Lane] = Counter()
    if not folder.is_dir():
        return counts
    for partner in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in partner.iterdir():
            if path.name.startswith(".") or not path.is_file():
                continue
            name = path.name.partition("-")[2] if in_hand else path.name
            try:
                feed = feed_named_by(name, settings)
            except TerminalError:
                feed = UNROUTED
            counts[(partner.name, feed)] += 1
    return counts


_LAST_FILES = latest_per_lane(
    "partner_id", "feed", "file_name", "created_at", "status", "row_count", "dropped_columns"
).columns(
    partner_id=String,
    feed=String,
    file_name=String,
    created_at=DateTime(timezone=True),
    status=String,
    row_count=Integer,
    dropped_columns=String,
)
# The week's jobs are read through their created_at index. SQLite, which keeps no statistics of
# the ledger, would rather walk a whole index it can group by, or the index of a status named in
# WHERE: so the outcomes are picked out in the sums, and the partner is grouped by as an
# expression no index holds.
_WEEK = (
    text(
        "SELECT partner_id || '' AS partner_id, feed, "
        "SUM(CASE WHEN status IN :final THEN 1 ELSE 0 END) AS files, "
        "SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed_files, "
        "SUM(CASE WHEN status IN :final THEN row_count END) AS rows, "
        "SUM(CASE WHEN status IN :final THEN failed_count END) AS failed_rows "
        "FROM import_jobs WHERE created_at >= :since GROUP BY partner_id || '', feed "
        "HAVING SUM(CASE WHEN status IN :final THEN 1 ELSE 0 END) > 0"
    )
    .bindparams(bindparam("final", expanding=True))
    .columns(
        partner_id=String,
        feed=String,
        files=Integer,
        failed_files=Integer,
        rows=Integer,
        failed_rows=Integer,
    )
)
