"""A local certificate authority for ``--tls``: made once, kept, and a server certificate from it.

The CA is kept in a directory (default ``~/.cache/suno-mock/tls``) so a client told to trust it
once keeps trusting the fake across restarts; the server certificate is issued anew on each
start for the names asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["DEFAULT_NAMES", "TlsFiles", "default_dir", "local_tls"]

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # what clients trust (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, verify=...)
    cert: Path
    key: Path


def default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "suno-mock" / "tls"


def _private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def local_tls(directory: Path, names: tuple[str, ...] = ()) -> TlsFiles:
    """The CA in ``directory`` (made if missing) and a server certificate for ``names`` plus
    localhost and the loopback addresses."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_file, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    if ca_file.is_file() and ca_key.is_file():
        ca = trustme.CA.from_pem(ca_file.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="suno-mock local CA")
        _private(ca_key, ca.private_key_pem.bytes())
        ca.cert_pem.write_to_path(str(ca_file))
    wanted = tuple(dict.fromkeys((*DEFAULT_NAMES, *names)))  # in order, once each
    server = ca.issue_cert(*wanted)
    cert, key = directory / "server.pem", directory / "server-key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    _private(key, server.private_key_pem.bytes())
    return TlsFiles(ca_file, cert, key)
