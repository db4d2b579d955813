"""The status page's HTTP server: GET only, server-rendered HTML, every partner string escaped.

Jinja2 renders with autoescaping, so a file named ``<script>...`` shows as text; the server
answers GET alone (a form or a script cannot change anything); it runs in a thread of its own
beside the daemon, on 127.0.0.1 unless ``[web] host`` says otherwise.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine

from importer.clock import as_utc, utc_now
from importer.config import Settings
from importer.http_answers import answer
from importer.web.chart import daily_chart
from importer.web.pages import daily, grid, health, job_page, recent_jobs

_TEMPLATES = Environment(
    loader=PackageLoader("importer.web", "templates"),
    autoescape=select_autoescape(["html"]),
)
_TEMPLATES.globals.update(
    health=health,
    when=lambda moment: as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else "-",
)
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
"""no script of any origin runs on the page, whatever a partner's string holds"""
_PARTNER = re.compile(r"^/partners/([^/]+)$")
_JOB = re.compile(r"^/jobs/(\d+)$")
_ERRORS = re.compile(r"^/jobs/(\d+)/errors\.csv$")
Page = tuple[int, bytes | Path, str]
"""status, body (or a file to stream), content type"""


class StatusPages:
    def __init__(self, settings: Callable[[], Settings], engine: Engine) -> None:
        self._settings = settings
        self._engine = engine

    def answer(self, path: str) -> Page:
        if path == "/":
            return self._grid()
        if match := _PARTNER.match(path):
            return self._partner(unquote(match.group(1)))
        if match := _JOB.match(path):
            return self._job(int(match.group(1)))
        if match := _ERRORS.match(path):
            return self._errors_csv(int(match.group(1)))
        return _not_found()

    def _grid(self) -> Page:
        now = utc_now()
        body = _TEMPLATES.get_template("grid.html").render(
            grid=grid(self._settings(), self._engine, now),
            chart=daily_chart(daily(self._engine, now)),
            now=f"{now:%Y-%m-%d %H:%M} UTC",
        )
        return _html(body)

    def _partner(self, partner: str) -> Page:
        jobs = recent_jobs(self._engine, partner)
        return _html(_TEMPLATES.get_template("partner.html").render(partner=partner, jobs=jobs))

    def _job(self, job_id: int) -> Page:
        page = job_page(self._engine, job_id)
        if page is None:
            return _not_found()
        return _html(_TEMPLATES.get_template("job.html").render(page=page))

    def _errors_csv(self, job_id: int) -> Page:
        page = job_page(self._engine, job_id)
        if page is None or page.errors_csv is None:
            return _not_found()
        return 200, page.errors_csv, "text/csv; charset=utf-8"


def serve(host: str, port: int, pages: StatusPages) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, kind = pages.answer(self.path.split("?", 1)[0])
            answer(self, status, body, kind, {"Content-Security-Policy": _POLICY})

        def log_message(self, *_: object) -> None:
            """Page views are not the log's business."""

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="status-page", daemon=True).start()
    return server


def _html(body: str) -> Page:
    return 200, body.encode(), "text/html; charset=utf-8"


def _not_found() -> Page:
    return 404, b"not found\n", "text/plain; charset=utf-8"
