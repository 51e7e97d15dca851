"""What a snapshot never holds: credential files (left out by name) and tokens inside any file (the upload is
refused, naming the file).

By name, at any depth and case-insensitive, a file or folder is left out of an upload and withheld from every
download (so snapshots stored before these rules cannot hand one out either): the agent's MCP config `.mcp.json`
(its bearer token), the model client's home `.home/`, and the usual credential stores (`.netrc`, `.git-credentials`,
`.env`, `*.pem`, `*.key`, `.ssh/`, `.aws/`, ... see `SECRET_FILES` and `SECRET_DIRS`). No `.snapshotignore` line
can bring one back.

By content, every staged byte is searched for a live w2s bearer token (any agent's, checked by hash against the
tokens database), an Anthropic API key and a PEM private key block. These find tokens written by accident (a
script, a log, a copied config); an agent that deliberately encodes its own token can hide it, which is why tokens
are scoped per server and revoked when their launch stops.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcp_servers.core import TokenStore

SECRET_DIRS: tuple[str, ...] = (
    ".home", ".ssh", ".aws", ".azure", ".gnupg", ".docker", ".kube", ".claude", ".config", ".password-store",
    ".gcloud", ".terraform.d",
)
"""Folders whose whole content is a credential store (the model client's `.home/`, ssh, cloud CLIs)."""
SECRET_FILES: tuple[str, ...] = (
    ".mcp.json", ".claude.json", ".netrc", "_netrc", ".git-credentials", ".pypirc", ".npmrc", ".yarnrc", ".boto",
    ".s3cfg", ".dockercfg", ".vault-token", ".htpasswd", ".pgpass", ".my.cnf", ".env", ".env.*", "*.env",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.ovpn", "*.token", "*.credentials",
    "credentials", "credentials.json", "application_default_credentials.json", "service-account*.json",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "tokens.db*",
)
"""File names (fnmatch patterns) that hold credentials; the scanner (`sandbox.leak_scan`) reads the same kinds."""

_ANTHROPIC_KEY = re.compile(rb"sk-ant-[A-Za-z0-9_-]{20,}")
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{64}")
"""A header with key material after it: code that merely mentions the header is not a key."""
_W2S_PREFIX = re.compile(rb"w2s_")
_W2S_TOKEN = re.compile(rb"w2s_[A-Za-z0-9_-]{43}")
_OVERLAP = 256
_CHUNK = 1024 * 1024


def secret_reason(relpath: str, is_dir: bool) -> str | None:
    """Why `relpath` (or a folder above it) is a credential that no snapshot holds, or None."""
    parts = relpath.lower().strip("/").split("/")
    for part in parts[:-1] if not is_dir else parts:
        if part in SECRET_DIRS:
            return f"secret folder {part}/ (never snapshotted)"
    name = parts[-1]
    if not is_dir and any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILES):
        return "credential file (never snapshotted)"
    return None


@dataclass(frozen=True)
class Carried:
    """A file that carries a secret: its path in the snapshot and what kind (never the secret itself)."""

    path: str
    kind: str


def _scan_stream(source: BinaryIO) -> tuple[set[str], str | None]:
    """(candidate w2s tokens, the kind of any other secret found) in the bytes of `source`."""
    candidates: set[str] = set()
    tail = b""
    while chunk := source.read(_CHUNK):
        window = tail + chunk
        if _ANTHROPIC_KEY.search(window):
            return candidates, "an Anthropic API key"
        if _PRIVATE_KEY.search(window):
            return candidates, "a private key"
        # Every occurrence of the prefix, overlapping ones too (`w2s_w2s_<token>` must still yield the token); a
        # literal search first keeps this near memory speed, which a lookahead pattern at every byte was not.
        candidates.update(window[m.start():m.start() + 47].decode() for m in _W2S_PREFIX.finditer(window)
                          if _W2S_TOKEN.fullmatch(window, m.start(), m.start() + 47))
        tail = window[-_OVERLAP:]
    return candidates, None


class SecretFinder:
    """Searches files for tokens; one tokens-db query per upload, however many files."""

    def __init__(self, tokens: TokenStore) -> None:
        self.tokens = tokens

    def carried(self, files: Iterable[tuple[str, Path]]) -> list[Carried]:
        """The files among (path, local copy) that carry a live token, an API key or a private key."""
        found: list[Carried] = []
        candidates: dict[str, list[str]] = {}
        for path, local in files:
            with local.open("rb") as source:
                tokens, other = _scan_stream(source)
            if other:
                found.append(Carried(path, other))
            for token in tokens:
                candidates.setdefault(token, []).append(path)
        live = self.tokens.live_agents(candidates)
        found += [Carried(path, "a live w2s bearer token") for t in live for path in candidates[t]]
        return sorted(set(found), key=lambda c: c.path)

    def carries(self, source: BinaryIO) -> str | None:
        """The kind of secret in one stream, or None (for objects already in the store)."""
        tokens, other = _scan_stream(source)
        if other:
            return other
        return "a live w2s bearer token" if self.tokens.live_agents(tokens) else None
