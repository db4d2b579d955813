"""The systemd notify protocol (READY, STATUS, WATCHDOG, STOPPING) over ``$NOTIFY_SOCKET``."""

from __future__ import annotations

import os
import socket

from loguru import logger


def sd_notify(*fields: str) -> bool:
    """Send ``KEY=value`` lines to systemd; a no-op (False) when not started by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        logger.warning("cannot notify systemd at {}: {}", address, exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half the watchdog timeout systemd set for this process, or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2
