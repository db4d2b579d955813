"""A real SFTP server on loopback (asyncssh), one folder per user, that tests can stop and slow."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import asyncssh


class SftpServer:
    def __init__(
        self, root: Path, passwords: dict[str, str], client_keys: dict[str, asyncssh.SSHKey]
    ) -> None:
        self.root = root
        self.passwords = passwords
        self.client_keys = client_keys
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.throttle_s = 0.0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._server: asyncssh.SSHAcceptor | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def fingerprint(self) -> str:
        return str(self.host_key.get_fingerprint("sha256"))

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"

    def folder(self, user: str) -> Path:
        path = self.root / user
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    def stop(self) -> None:
        """Close the listener and cut every open session, as a killed server would."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncssh.listen(
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            server_factory=lambda: _Server(self),
            sftp_factory=self._sftp,
            allow_scp=False,
            reuse_address=True,
        )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for connection in list(self._connections):
            connection.abort()
        self._connections.clear()

    def _sftp(self, channel: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
        user = channel.get_extra_info("username")
        return _ThrottledSftp(channel, self, str(self.folder(user)).encode())


class _Server(asyncssh.SSHServer):  # type: ignore[misc]
    def __init__(self, owner: SftpServer) -> None:
        self.owner = owner
        self.connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.connection = conn
        self.owner._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.owner._connections.discard(self.connection)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.owner.passwords.get(username) == password

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        expected = self.owner.client_keys.get(username)
        return expected is not None and expected.export_public_key() == key.export_public_key()


class _ThrottledSftp(asyncssh.SFTPServer):  # type: ignore[misc]
    def __init__(
        self, channel: asyncssh.SSHServerChannel, owner: SftpServer, chroot: bytes
    ) -> None:
        super().__init__(channel, chroot=chroot)
        self.owner = owner

    async def read(self, file_obj: Any, offset: int, size: int) -> bytes:
        if self.owner.throttle_s:
            await asyncio.sleep(self.owner.throttle_s)
        return bytes(super().read(file_obj, offset, size))
