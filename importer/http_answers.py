"""One HTTP answer, written the same way by the metrics endpoint and the status page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

STREAM_CHUNK_BYTES = 1 << 20
"""a file is sent this much at a time: an errors.csv can be larger than the file it is about"""


def answer(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes | Path,
    kind: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """``body`` is the bytes to send, or a file to stream."""
    if isinstance(body, bytes):
        _head(handler, status, kind, len(body), headers)
        handler.wfile.write(body)
        return
    with body.open("rb") as source:
        _head(handler, status, kind, os.fstat(source.fileno()).st_size, headers)
        shutil.copyfileobj(source, handler.wfile, STREAM_CHUNK_BYTES)


def _head(
    handler: BaseHTTPRequestHandler,
    status: int,
    kind: str,
    length: int,
    headers: Mapping[str, str] | None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(length))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
