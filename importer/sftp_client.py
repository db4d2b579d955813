"""An SFTP session with strict host-key checking, streaming transfers and remote housekeeping.

Every paramiko or socket failure becomes an :class:`SftpError` (transient: the source backs off,
nothing is lost); a host key that is unknown or changed refuses the connection before any file
is listed, and the log names the fingerprint the server offered.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import stat
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
from loguru import logger

from importer.config import SftpSource
from importer.exceptions import TransientError

CHUNK_BYTES = 1 << 20
TRANSPORT_ERRORS = (paramiko.SSHException, OSError, EOFError)


class SftpError(TransientError):
    """The source could not be reached or used right now; its files stay where they are."""


class HostKeyError(SftpError):
    """The server's host key is not the one we trust: nothing is downloaded."""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class RemoteEntry:
    path: str
    name: str
    size: int
    mtime: int


class _StrictHostKeys(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Called for keys not in known_hosts: accept only the pinned fingerprint (or, loudly, any)."""

    def __init__(self, source: SftpSource) -> None:
        self.source = source

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        offered = fingerprint(key)
        if self.source.host_key_fingerprint == offered:
            return
        if self.source.accept_unknown_host_keys:
            logger.warning(
                "sftp {}: accepting UNVERIFIED host key {} {} because accept_unknown_host_keys is "
                "set; anyone on the path could be this server",
                self.source.id,
                key.get_name(),
                offered,
            )
            return
        raise HostKeyError(
            f"host key of {hostname} is not trusted: the server offered {key.get_name()} {offered}; "
            "add it to known_hosts or pin host_key_fingerprint if it is genuine"
        )


@contextmanager
def open_session(
    source: SftpSource, environ: Mapping[str, str], key: paramiko.PKey | None = None
) -> Iterator[SftpSession]:
    """Connect and verify the host; ``key`` is the loaded private key (see :func:`load_private_key`)."""
    client = paramiko.SSHClient()
    if source.known_hosts_file is not None:
        try:
            client.load_host_keys(str(source.known_hosts_file))
        except OSError as exc:
            raise HostKeyError(f"known_hosts_file {source.known_hosts_file}: {exc}") from exc
    client.set_missing_host_key_policy(_StrictHostKeys(source))
    try:
        client.connect(
            source.host,
            port=source.port,
            username=source.username,
            password=_secret(environ, source.password_env),
            pkey=key,
            timeout=source.connect_timeout_s,
            banner_timeout=source.connect_timeout_s,
            auth_timeout=source.connect_timeout_s,
            channel_timeout=source.read_timeout_s,
            allow_agent=False,
            look_for_keys=False,
        )
        sftp = client.open_sftp()
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"host key of {source.host} CHANGED: the server offered {fingerprint(exc.key)}, "
            f"known_hosts has {fingerprint(exc.expected_key)}; refusing to connect"
        ) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SftpError(f"authentication as {source.username!r} failed") from exc
    except HostKeyError:
        client.close()
        raise
    except TRANSPORT_ERRORS as exc:
        client.close()
        raise SftpError(
            f"cannot connect to {source.host}:{source.port}: {exc or type(exc).__name__}"
        ) from exc
    channel = sftp.get_channel()
    if channel is not None:
        channel.settimeout(source.read_timeout_s)
    try:
        yield SftpSession(sftp)
    finally:
        sftp.close()
        client.close()


def _secret(environ: Mapping[str, str], variable: str | None) -> str | None:
    if variable is None:
        return None
    try:
        return environ[variable]
    except KeyError as exc:
        raise SftpError(f"environment variable {variable} is not set") from exc


def load_private_key(source: SftpSource, environ: Mapping[str, str]) -> paramiko.PKey | None:
    """Decrypt the key once per source: its KDF is slow on purpose and polls are frequent."""
    if source.private_key_file is None:
        return None
    passphrase = _secret(environ, source.passphrase_env)
    try:
        return paramiko.PKey.from_path(
            source.private_key_file, password=passphrase.encode() if passphrase else None
        )
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise SftpError(f"private key {source.private_key_file}: {exc}") from exc


class SftpSession:
    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp

    def list_files(self, folder: str, recursive: bool, skip: set[str]) -> list[RemoteEntry]:
        """Regular files under ``folder``; sub-folders in ``skip`` and dot-folders are passed over."""
        entries: list[RemoteEntry] = []
        try:
            for attr in self.sftp.listdir_attr(folder):
                path = posixpath.join(folder, attr.filename)
                mode = attr.st_mode or 0
                if stat.S_ISDIR(mode):
                    if recursive and not attr.filename.startswith(".") and path not in skip:
                        entries += self.list_files(path, recursive, skip)
                elif stat.S_ISREG(mode):
                    entries.append(
                        RemoteEntry(path, attr.filename, attr.st_size or 0, int(attr.st_mtime or 0))
                    )
        except TRANSPORT_ERRORS as exc:
            raise SftpError(f"cannot list {folder}: {exc or type(exc).__name__}") from exc
        return entries

    def download(self, entry: RemoteEntry, target: Path) -> str:
        """Stream ``entry`` into ``target`` (created here); returns the sha256 of the bytes.

        A short transfer (the file changed, or the connection dropped) raises SftpError.
        """
        digest, size = hashlib.sha256(), 0
        try:
            with self.sftp.open(entry.path, "rb") as remote, target.open("xb") as local:
                remote.prefetch(entry.size)
                while chunk := remote.read(CHUNK_BYTES):
                    local.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                local.flush()
                os.fsync(local.fileno())
        except TRANSPORT_ERRORS as exc:
            raise SftpError(
                f"download of {entry.path} broke off: {exc or type(exc).__name__}"
            ) from exc
        if size != entry.size:
            raise SftpError(
                f"download of {entry.path} gave {size} bytes, the server listed {entry.size}"
            )
        return digest.hexdigest()

    def move(self, path: str, folder: str, name: str) -> str:
        """Move into ``folder`` (created if missing); a taken name gets a unique prefix."""
        try:
            self._ensure_folder(folder)
            target = posixpath.join(folder, name)
            if self.exists(target):
                target = posixpath.join(folder, f"{uuid.uuid4().hex[:8]}-{name}")
            self.sftp.posix_rename(path, target)
        except TRANSPORT_ERRORS as exc:
            raise SftpError(f"cannot move {path} to {folder}: {exc or type(exc).__name__}") from exc
        return target

    def remove(self, path: str) -> None:
        try:
            if self.exists(path):
                self.sftp.remove(path)
        except TRANSPORT_ERRORS as exc:
            raise SftpError(f"cannot delete {path}: {exc or type(exc).__name__}") from exc

    def upload(self, content: Iterable[bytes], folder: str, name: str) -> None:
        """Write under a temporary name, then rename, so the partner never sees half a report;
        ``content`` comes a part at a time, so a large errors.csv is never whole in memory."""
        try:
            self._ensure_folder(folder)
            temporary = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")
            with self.sftp.open(temporary, "wb") as remote:
                for part in content:
                    remote.write(part)
            self.sftp.posix_rename(temporary, posixpath.join(folder, name))
        except TRANSPORT_ERRORS as exc:
            raise SftpError(
                f"cannot upload {name} to {folder}: {exc or type(exc).__name__}"
            ) from exc

    def exists(self, path: str) -> bool:
        try:
            self.sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    def _ensure_folder(self, folder: str) -> None:
        if folder in ("", ".", "/") or self.exists(folder):
            return
        self._ensure_folder(posixpath.dirname(folder))
        self.sftp.mkdir(folder)
