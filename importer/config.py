"""Typed settings: one TOML file, overridable from ``IMPORTER_*`` environment variables."""

from __future__ import annotations

import json
import os
import socket
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from importer.db.engine import DEFAULT_CONNECT_TIMEOUT_S
from importer.exceptions import ConfigError
from importer.feed_names import FEED_NAMES
from importer.partner_ids import PartnerId

CONFIG_PLACES = (Path("config/importer.toml"), Path("/etc/importer/importer.toml"))
"""where a command looks for its configuration when neither --config nor $IMPORTER_CONFIG says"""
ENV_PREFIX = "IMPORTER_"
ENV_CONFIG_PATH = "IMPORTER_CONFIG"

Encoding = Literal["utf-8", "cp1252", "latin-1"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/importer.db"
    batch_rows: int = Field(default=40_000, ge=1, description="rows per staging batch")
    auto_upgrade: bool = Field(
        default=True, description="migrate an older schema at start-up (under a lock)"
    )
    connect_timeout_s: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_S,
        ge=1,
        description="PostgreSQL: give up on a server that does not answer",
    )


class InboxSettings(_Section):
    root: Path = Path("inbox")
    stable_seconds: float = Field(
        default=2.0, ge=0, description="size and mtime unchanged this long"
    )
    require_done_marker: bool = Field(
        default=False, description="take x.csv only once x.csv.done or x.csv.ok exists"
    )
    host: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=255,
        description="names this inbox among daemons sharing a database; default the host name",
    )


class LocalSource(_Section):
    """A folder outside the inbox whose files all belong to one partner."""

    type: Literal["local"] = "local"
    path: Path
    partner: PartnerId
    stable_seconds: float | None = Field(default=None, ge=0)
    require_done_marker: bool = False


class SftpSource(_Section):
    """An SFTP server polled for one partner's files; host keys are verified strictly."""

    type: Literal["sftp"]
    name: str | None = Field(
        default=None, description="stable id in the ledger; default partner@host"
    )
    partner: PartnerId
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    private_key_file: Path | None = None
    passphrase_env: str | None = Field(
        default=None, description="variable holding the key passphrase"
    )
    password_env: str | None = Field(default=None, description="variable holding the password")
    remote_dir: str = "."
    recursive: bool = False
    poll_interval_s: float = Field(default=60.0, gt=0)
    cron: str | None = Field(default=None, description="crontab line; replaces poll_interval_s")
    connect_timeout_s: float = Field(default=15.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    known_hosts_file: Path | None = None
    host_key_fingerprint: str | None = Field(default=None, pattern=r"^SHA256:[A-Za-z0-9+/]{43}$")
    accept_unknown_host_keys: bool = False
    stable_seconds: float = Field(default=0.0, ge=0, description="beyond one unchanged poll")
    require_done_marker: bool = False
    post_action: Literal["move", "delete", "leave"] = "move"
    remote_done_dir: str = "done"
    remote_failed_dir: str = "failed"
    reports_dir: str | None = Field(default=None, description="default: beside the moved file")
    max_backoff_s: float = Field(default=900.0, gt=0)
    lease_s: float = Field(
        default=300.0, gt=0, description="a daemon that stops polling gives the source up after"
    )

    @property
    def id(self) -> str:
        return self.name or f"{self.partner}@{self.host}:{self.port}"

    @model_validator(mode="after")
    def _trust_and_credentials(self) -> SftpSource:
        if not (
            self.known_hosts_file or self.host_key_fingerprint or self.accept_unknown_host_keys
        ):
            raise ValueError(
                "set known_hosts_file or host_key_fingerprint (accept_unknown_host_keys = true "
                "exists, but accepts any server)"
            )
        if not (self.private_key_file or self.password_env):
            raise ValueError("set private_key_file or password_env")
        return self


def _source_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "local"))
    return str(getattr(value, "type", "local"))


Source = Annotated[
    Annotated[LocalSource, Tag("local")] | Annotated[SftpSource, Tag("sftp")],
    Discriminator(_source_type),
]


class DaemonSettings(_Section):
    workers: int = Field(
        default=2, ge=1, le=64, description="large files loaded in parallel (memory slots)"
    )
    processes: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="worker processes for small files: one per CPU on PostgreSQL by default, "
        "none on SQLite (one writer at a time); 0 loads them in the daemon's threads",
    )
    poll_interval_s: float = Field(default=2.0, gt=0, description="pause between full rescans")
    max_backoff_s: float = Field(
        default=60.0, gt=0, description="longest wait after a transient fault"
    )
    stop_timeout_s: float = Field(
        default=60.0, ge=0, description="how long SIGTERM waits for files in flight"
    )


class RetentionSettings(_Section):
    days: int = Field(default=30, ge=0, description="0 keeps done/ and failed/ forever")
    at: str = Field(default="03:30", pattern=r"^\d{2}:\d{2}$", description="daily run, HH:MM")


class ExpectedFeed(_Section):
    """A feed that must have arrived (loaded or duplicate) by a time of day."""

    partner: str
    feed: str
    by: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM")
    days: str = Field(default="*", description="cron day_of_week, e.g. mon-fri")
    timezone: str = "UTC"

    @field_validator("feed")
    @classmethod
    def _known_feed(cls, feed: str) -> str:
        if feed not in FEED_NAMES:
            raise ValueError(f"unknown feed {feed!r}; built-in feeds are {sorted(FEED_NAMES)}")
        return feed


class MetricsSettings(_Section):
    port: int = Field(default=0, ge=0, le=65535, description="0 turns the endpoint off")
    host: str = "127.0.0.1"


class WebSettings(_Section):
    """The read-only status page the daemon serves."""

    port: int = Field(default=0, ge=0, le=65535, description="0 turns the page off")
    host: str = "127.0.0.1"


class LimitSettings(_Section):
    """What one file may ask of the machine; past a limit the file fails with a clear report."""

    max_file_bytes: int = Field(default=4 << 30, ge=1, description="size as delivered")
    max_decompressed_bytes: int = Field(default=16 << 30, ge=1, description="size after gunzip")
    max_json_bytes: int = Field(
        default=16 << 30,
        ge=1,
        description="JSON and NDJSON text (read a batch of records at a time)",
    )
    max_record_bytes: int = Field(
        default=16 << 20,
        ge=1024,
        description="one CSV record, JSON record or NDJSON line; a longer one fails the file, "
        "naming its line",
    )
    max_columns: int = Field(default=2000, ge=1, description="columns of a file")
    max_rows: int = Field(default=50_000_000, ge=1)
    max_field_chars: int = Field(default=100_000, ge=1, description="longest single value")
    max_interruptions: int = Field(
        default=3,
        ge=1,
        description="loads of one file cut short (crash, kill, out of memory) before it waits in "
        "failed/ instead of going back to incoming/",
    )


class ReportSettings(_Section):
    max_errors_listed: int = Field(default=100, ge=0, description="errors copied into report.json")


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False
    progress_rows: int = Field(
        default=200_000, ge=1, description="a file past this many rows reports its progress"
    )
    progress_interval_s: float = Field(default=5.0, ge=0, description="between progress lines")


class ReadingOptions(_Section):
    """How a partner's bytes are decoded, and the order its files apply in; set per feed or per
    partner, partner wins."""

    order_by: Literal["mtime", "name"] | None = Field(
        default=None,
        description="mtime (default): files of a lane apply as they arrived; name: in the "
        "natural order of their names (digits as numbers), for backfills uploaded at once",
    )
    encoding: Encoding | None = None
    timezone: str | None = Field(
        default=None,
        description="IANA zone a date-time without an offset is in (Listrak: America/New_York); "
        "default UTC",
    )
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    date_formats: list[str] = []
    aliases: dict[str, str] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str | None) -> str | None:
        if timezone is not None:
            try:
                zoneinfo.ZoneInfo(timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {timezone!r}: use an IANA name") from exc
        return timezone


class ExportGuards(_Section):
    """Checks against a partner's broken export (a cut-off catalog, a lost column, shifted
    prices); set per feed or per partner, partner wins. ``importer retry ID --force`` lets a
    file they stopped through."""

    max_deleted_fraction: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="snapshot mode: a file that would mark more of the partner's live rows "
        "deleted fails (default 0.2)",
    )
    on_dropped_column: Literal["warn", "fail"] | None = Field(
        default=None,
        description="a file lacking a column the partner's last file filled: warn (default) "
        "or fail",
    )
    max_changed_fraction: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="a file that would change more of the partner's existing rows fails "
        "(default: no limit)",
    )


class FeedSettings(ReadingOptions, ExportGuards):
    patterns: list[str] | None = Field(default=None, description="replace the built-in patterns")
    max_error_rate: float = Field(default=0.1, ge=0, le=1)
    max_errors: int = Field(default=1000, ge=0)
    duplicate_keys: Literal["reject", "last_wins"] = "reject"
    mode: Literal["upsert", "snapshot"] = "upsert"


class PartnerSettings(ReadingOptions, ExportGuards):
    pass


_DEFAULT_FEED = FeedSettings()
_DEFAULT_PARTNER = PartnerSettings()
"""shared (settings are frozen): a file's routing asks for them many times"""


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    inbox: InboxSettings = InboxSettings()
    daemon: DaemonSettings = DaemonSettings()
    retention: RetentionSettings = RetentionSettings()
    metrics: MetricsSettings = MetricsSettings()
    web: WebSettings = WebSettings()
    sources: list[Source] = []
    expected_feeds: list[ExpectedFeed] = []
    reports: ReportSettings = ReportSettings()
    limits: LimitSettings = LimitSettings()
    logging: LoggingSettings = LoggingSettings()
    feeds: dict[str, FeedSettings] = {}
    partners: dict[str, PartnerSettings] = {}

    @field_validator("feeds")
    @classmethod
    def _known_feeds(cls, feeds: dict[str, FeedSettings]) -> dict[str, FeedSettings]:
        unknown = sorted(set(feeds) - set(FEED_NAMES))
        if unknown:
            raise ValueError(f"unknown feed(s) {unknown}; built-in feeds are {sorted(FEED_NAMES)}")
        return feeds

    @property
    def local_sources(self) -> list[LocalSource]:
        return [s for s in self.sources if isinstance(s, LocalSource)]

    @property
    def sftp_sources(self) -> list[SftpSource]:
        return [s for s in self.sources if isinstance(s, SftpSource)]

    def feed(self, name: str) -> FeedSettings:
        return self.feeds.get(name) or _DEFAULT_FEED

    def partner(self, partner_id: str) -> PartnerSettings:
        return self.partners.get(partner_id) or _DEFAULT_PARTNER


def config_path(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Path:
    """The file named on the command line, else ``$IMPORTER_CONFIG``, else the first of
    ``./config/importer.toml`` and ``/etc/importer/importer.toml`` that exists."""
    if explicit is not None:
        return Path(explicit)
    named = (os.environ if environ is None else environ).get(ENV_CONFIG_PATH)
    if named:
        return Path(named)
    found = next((place for place in CONFIG_PLACES if place.is_file()), None)
    if found is None:
        raise ConfigError(
            "no configuration found: looked for --config, $IMPORTER_CONFIG, "
            + " and ".join(str(place) for place in CONFIG_PLACES)
        )
    return found


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file, apply environment overrides, validate; ConfigError names the bad key."""
    environ = os.environ if environ is None else environ
    file = config_path(path, environ)
    try:
        raw: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {file} does not exist") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {file} cannot be read: {exc}") from exc
    apply_env_overrides(raw, environ)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration in {file} (or IMPORTER_*): {problems}") from exc


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``IMPORTER_DATABASE__URL=x`` sets ``raw["database"]["url"] = "x"``; JSON lists/objects parse.

    Only variables that name a section (``IMPORTER_DATABASE__...``, ``IMPORTER_LIMITS__...``) are
    settings; other ``IMPORTER_*`` variables (a test's ``IMPORTER_TEST_POSTGRES``) are not ours."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_PATH:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if path[0] not in Settings.model_fields:
            continue
        if not all(path):
            raise ConfigError(f"environment variable {name}: empty key segment")
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {part} is not a table")
            node = child
        node[path[-1]] = _env_value(name, value)


def _env_value(name: str, value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"environment variable {name}: invalid JSON: {exc}") from exc
    return value
