"""In-memory fastmcp Client tests of the snapshot tools: round trip, dedup, attacks, isolation, restart."""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.snapshot import build_server
from tests.mcp_servers.server_helpers import integer_bounds
from tests.mcp_servers.snapshot.snapshot_helpers import SEnv, call, make_workspace, member, rows, tar_b64, tree_of


def objects(senv: SEnv) -> list[Path]:
    root = senv.settings.store_root / "objects"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_workspace_round_trip_is_byte_identical(senv: SEnv) -> None:
    expected = make_workspace(senv.ws("alice"))
    big = senv.ws("alice") / "model.safetensors"
    big.write_bytes(b"\0" * 300_000)  # over max_file_bytes: skipped like model weights
    (senv.ws("alice") / "link").symlink_to("train.py")
    alice = build_server(local_token=senv.tokens["alice"])
    up = await call(alice, "upload_snapshot", message="baseline code", idea="vanilla")
    reasons = {s["path"]: s["reason"] for s in up["skipped"]}
    for cache in ("__pycache__/", ".git/", ".venv/", "node_modules/", "shared_findings/", "src/pkg/__pycache__/",
                  "outputs/"):
        assert cache in reasons, cache
    assert "over 200000 bytes" in reasons["model.safetensors"] and "symlink" in reasons["link"]
    assert reasons["train.log"] == "ignored"
    assert up["agent"] == "alice" and up["source"] == "workspace"
    assert up["files"] == sum(1 for v in expected.values() if v is not None)
    restored = await call(alice, "download_snapshot", snapshot_id=up["snapshot_id"], into="restored/v1")
    assert restored["into"] == "restored/v1"
    assert tree_of(senv.ws("alice") / "restored" / "v1") == expected
    detail = await call(alice, "get_snapshot", snapshot_id=up["snapshot_id"])
    assert {e["path"] for e in detail["entries"]} == set(expected)
    bob = build_server(local_token=senv.tokens["bob"])  # another agent builds on alice's code, in his own workspace
    got = await call(bob, "download_snapshot", snapshot_id=up["snapshot_id"])
    assert got["into"] == f"snapshots/{up['snapshot_id']}"
    assert tree_of(senv.ws("bob") / "snapshots" / str(up["snapshot_id"])) == expected


async def test_dedup_stores_a_repeated_file_once(senv: SEnv) -> None:
    payload = os.urandom(150_000)
    for rel in ("a/weights_copy.npy", "b/weights_copy.npy", "c/d/same.npy"):
        (senv.ws("alice") / rel).parent.mkdir(parents=True, exist_ok=True)
        (senv.ws("alice") / rel).write_bytes(payload)
    alice = build_server(local_token=senv.tokens["alice"])
    first = await call(alice, "upload_snapshot", message="three copies")
    assert first["total_bytes"] == 3 * len(payload) and first["new_bytes"] == len(payload)
    second = await call(alice, "upload_snapshot", message="unchanged")
    assert second["new_bytes"] == 0 and second["deduplicated_bytes"] == 3 * len(payload)
    stored = sum(p.stat().st_size for p in objects(senv))
    logical = first["total_bytes"] + second["total_bytes"]
    assert len(objects(senv)) == 1 and stored == len(payload)
    print(f"\ndedup: 2 snapshots hold {logical} bytes of files; the store holds {stored} bytes "
          f"(saved {logical - stored} bytes, {100 * (logical - stored) / logical:.0f}%)")


async def test_inline_round_trip(senv: SEnv) -> None:
    data = os.urandom(5000)
    b64 = tar_b64([(member("pkg", tarfile.DIRTYPE, mode=0o755), None), (member("pkg/x.py"), b"x = 1\n"),
                   (member("pkg/run", mode=0o755), b"#!/bin/sh\n"), (member("blob"), data),
                   (member("empty"), b""), (member("nothing_here", tarfile.DIRTYPE), None),
                   (member("pkg/inner_link", tarfile.SYMTYPE, link="x.py"), None)])
    alice = build_server(local_token=senv.tokens["alice"])
    up = await call(alice, "upload_snapshot", message="inline", archive_b64=b64)
    assert up["source"] == "inline" and up["files"] == 4 and up["skipped_count"] == 1
    back = await call(alice, "download_snapshot", snapshot_id=up["snapshot_id"], inline=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(back["archive_b64"]))) as tar:
        got = {m.name: (tar.extractfile(m).read() if m.isfile() else None, m.mode & 0o111 != 0)  # type: ignore[union-attr]
               for m in tar.getmembers()}
    assert got == {"pkg": (None, True), "nothing_here": (None, True), "pkg/x.py": (b"x = 1\n", False),
                   "pkg/run": (b"#!/bin/sh\n", True), "blob": (data, False), "empty": (b"", False)}


def _bomb_members(n: int, size: int) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [(member(f"f{i}"), b"\0" * size) for i in range(n)]


ATTACKS: dict[str, tuple[Any, str]] = {
    "absolute path": (lambda: tar_b64([(member("/etc/cron.d/x"), b"x")]), "is absolute"),
    "dot-dot": (lambda: tar_b64([(member("a/../../bob/x"), b"x")]), "climbs out"),
    "symlink out (absolute)": (lambda: tar_b64([(member("l", tarfile.SYMTYPE, link="/etc/passwd"), None)]),
                               "points outside"),
    "symlink out (relative)": (lambda: tar_b64([(member("a/l", tarfile.SYMTYPE, link="../../bob"), None)]),
                               "points outside"),
    "hardlink out": (lambda: tar_b64([(member("h", tarfile.LNKTYPE, link="../x"), None)]), "points outside"),
    "device": (lambda: tar_b64([(member("dev", tarfile.CHRTYPE), None)]), "device"),
    "fifo": (lambda: tar_b64([(member("p", tarfile.FIFOTYPE), None)]), "device, FIFO"),
    "file-count bomb": (lambda: tar_b64(_bomb_members(201, 0)), "more than 200 members"),
    "size bomb": (lambda: tar_b64(_bomb_members(12, 190_000)), "more than 2000000 bytes"),
    "one huge member": (lambda: tar_b64([(member("w.bin"), b"\0" * 250_000)]), "over 200000 bytes"),
    "payload over cap": (lambda: base64.b64encode(os.urandom(310_000)).decode(), "archive over 300000 bytes"),
    "not base64": (lambda: "!!notbase64!!", "not valid base64"),
    "not a tar.gz": (lambda: base64.b64encode(b"hello").decode(), "not a readable tar.gz"),
    "duplicate member": (lambda: tar_b64([(member("a"), b"1"), (member("a"), b"2")]), "duplicated"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_inline_attacks_are_refused_and_store_nothing(senv: SEnv, attack: str) -> None:
    make, expect = ATTACKS[attack]
    alice = build_server(local_token=senv.tokens["alice"])
    with pytest.raises(ToolError) as info:
        await call(alice, "upload_snapshot", message="evil", archive_b64=make())
    assert expect in str(info.value)
    assert rows(alice) == 0 and objects(senv) == []
    assert list((senv.settings.store_root / "staging").iterdir()) == []


async def test_download_attacks_and_unknown_ids(senv: SEnv) -> None:
    (senv.ws("alice") / "code.py").write_text("x = 1\n")
    (senv.ws("bob") / "notes.md").write_text("bob's notes\n")
    (senv.ws("alice") / "evil").symlink_to(senv.ws("bob"))
    (senv.ws("alice") / "rel_evil").symlink_to("../bob")
    before = tree_of(senv.ws("bob"))
    alice = build_server(local_token=senv.tokens["alice"])
    sid = (await call(alice, "upload_snapshot", message="code"))["snapshot_id"]
    for into, expect in (("/tmp/x", "is absolute"), (str(senv.ws("bob")), "is absolute"),
                         ("../bob/x", "climbs out"), ("a/../../bob", "climbs out"), ("evil/x", "symlink"),
                         ("rel_evil", "symlink"), ("evil", "symlink"), (".", "names no file")):
        with pytest.raises(ToolError, match=expect):
            await call(alice, "download_snapshot", snapshot_id=sid, into=into)
    assert tree_of(senv.ws("bob")) == before
    await call(alice, "download_snapshot", snapshot_id=sid, into="copy")
    with pytest.raises(ToolError, match="not empty"):
        await call(alice, "download_snapshot", snapshot_id=sid, into="copy")
    await call(alice, "download_snapshot", snapshot_id=sid, into="copy", overwrite=True)
    with pytest.raises(ToolError, match="no snapshot 999"):
        await call(alice, "download_snapshot", snapshot_id=999)
    with pytest.raises(ToolError, match="no snapshot 999"):
        await call(alice, "get_snapshot", snapshot_id=999)
    with pytest.raises(ToolError, match="no finding 5"):
        await call(alice, "upload_snapshot", message="m", finding_id=5)
    assert rows(alice) == 1


async def test_agent_cannot_read_another_workspace(senv: SEnv) -> None:
    (senv.ws("bob") / "secret.py").write_text("SECRET = 42\n")
    (senv.ws("alice") / "mine.py").write_text("x = 1\n")
    (senv.ws("alice") / "peek").symlink_to(senv.ws("bob"))
    (senv.ws("alice") / "peek_file").symlink_to(senv.ws("bob") / "secret.py")
    (senv.ws("alice") / "up").symlink_to("..")
    alice = build_server(local_token=senv.tokens["alice"])
    up = await call(alice, "upload_snapshot", message="try to read bob")
    detail = await call(alice, "get_snapshot", snapshot_id=up["snapshot_id"])
    assert [e["path"] for e in detail["entries"]] == ["mine.py"]
    assert {s["path"] for s in up["skipped"]} == {"peek", "peek_file", "up"}
    # bob's snapshot is readable by design (sharing), but only into alice's own workspace
    bob = build_server(local_token=senv.tokens["bob"])
    bob_snap = (await call(bob, "upload_snapshot", message="bob"))["snapshot_id"]
    await call(alice, "download_snapshot", snapshot_id=bob_snap, into="from_bob")
    assert (senv.ws("alice") / "from_bob" / "secret.py").exists()
    assert sorted(p.name for p in senv.ws("bob").iterdir()) == ["secret.py"]


async def test_missing_workspace_and_scope(senv: SEnv) -> None:
    alice = build_server(local_token=senv.tokens["alice"])
    (senv.ws("alice")).rename(senv.home / "moved")
    with pytest.raises(ToolError, match="archive_b64"):
        await call(alice, "upload_snapshot", message="m")
    with pytest.raises(PermissionError):
        build_server(local_token=senv.tokens["findings-only"])


async def test_list_filters_and_restart_loses_nothing(senv: SEnv) -> None:
    make_workspace(senv.ws("alice"))
    (senv.ws("bob") / "b.py").write_text("b\n")
    alice, bob = build_server(local_token=senv.tokens["alice"]), build_server(local_token=senv.tokens["bob"])
    ids = [(await call(alice, "upload_snapshot", message=f"v{i}", idea="ens" if i else "st"))["snapshot_id"]
           for i in range(3)]
    await call(bob, "upload_snapshot", message="bob", idea="ens")
    page = await call(bob, "list_snapshots", limit=2)
    assert page["total"] == 4 and len(page["items"]) == 2 and page["next_offset"] == 2
    assert [s["id"] for s in (await call(bob, "list_snapshots", agent="alice", idea="ens"))["items"]] == ids[:0:-1]
    restarted = build_server(local_token=senv.tokens["alice"])
    assert (await call(restarted, "list_snapshots"))["total"] == 4
    await call(restarted, "download_snapshot", snapshot_id=ids[0], into="again")
    expected = {k: v for k, v in tree_of(senv.ws("alice")).items() if not k.startswith("again")}
    restored = tree_of(senv.ws("alice") / "again")
    assert restored and all(expected[k] == v for k, v in restored.items())


async def test_tools_are_annotated(senv: SEnv) -> None:
    async with Client(build_server(local_token=senv.tokens["alice"]).mcp) as client:
        tools = {t.name: t for t in await client.list_tools()}
    assert set(tools) == {"upload_snapshot", "list_snapshots", "get_snapshot", "download_snapshot"}
    assert tools["list_snapshots"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["get_snapshot"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["upload_snapshot"].annotations.read_only_hint is False  # type: ignore[union-attr]


async def test_retry_with_idempotency_key_is_stored_once(senv: SEnv) -> None:
    """A client whose answer was lost retries with its key: the first answer comes back, nothing is stored twice."""
    (senv.ws("alice") / "a.py").write_text("a\n")
    alice, bob = build_server(local_token=senv.tokens["alice"]), build_server(local_token=senv.tokens["bob"])
    first = await call(alice, "upload_snapshot", message="v1", idempotency_key="4f9c-retry:1")
    (senv.ws("alice") / "b.py").write_text("b\n")  # the workspace moved on; the retry still answers the first
    again = await call(alice, "upload_snapshot", message="v1", idempotency_key="4f9c-retry:1")
    assert again == first and rows(alice) == 1
    with pytest.raises(ToolError, match=r"idempotency_key '4f9c-retry:1' was used for another upload \(snapshot 1\)"):
        await call(alice, "upload_snapshot", message="v2", idempotency_key="4f9c-retry:1")
    archive = tar_b64([(member("x.py"), b"x\n")])
    inline = [await call(bob, "upload_snapshot", message="v1", archive_b64=archive, idempotency_key="4f9c-retry:1")
              for _ in range(2)]  # keys are per agent: bob's is his own
    assert inline[0] == inline[1] and inline[0]["snapshot_id"] != first["snapshot_id"] and rows(alice) == 2
    with pytest.raises(ToolError, match="idempotency_key"):
        await call(alice, "upload_snapshot", message="v1", idempotency_key="no spaces allowed")
    assert rows(alice) == 2


async def test_database_faults_answer_without_sql(senv: SEnv) -> None:
    (senv.ws("alice") / "a.py").write_text("a\n")
    alice = build_server(local_token=senv.tokens["alice"])
    await call(alice, "upload_snapshot", message="before the damage")
    with sqlite3.connect(senv.settings.db_path("snapshot")) as conn:  # a damaged database
        conn.execute("DROP TABLE snapshot_entry")
    for tool, args in (("upload_snapshot", {"message": "m"}), ("get_snapshot", {"snapshot_id": 1})):
        with pytest.raises(ToolError) as info:
            await call(alice, tool, **args)
        text = str(info.value)
        assert "its database or disk failed" in text and "stored nothing" in text, text
        assert not any(word in text for word in ("SQL", "INSERT", "SELECT", "snapshot_entry", str(senv.home)))
    assert rows(alice) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to the workspace's user needs a root server")
async def test_downloaded_files_belong_to_the_workspace_user(senv: SEnv) -> None:
    """Sandboxes run as an unprivileged user: what the root server writes into a workspace must be that user's."""
    make_workspace(senv.ws("bob"))
    bob = build_server(local_token=senv.tokens["bob"])
    sid = (await call(bob, "upload_snapshot", message="m"))["snapshot_id"]
    os.chown(senv.ws("alice"), 65534, 65534)
    await call(build_server(local_token=senv.tokens["alice"]), "download_snapshot", snapshot_id=sid, into="a/b")
    written = [senv.ws("alice") / "a", *(senv.ws("alice") / "a").rglob("*")]
    assert len(written) > 10 and {(p.lstat().st_uid, p.lstat().st_gid) for p in written} == {(65534, 65534)}


async def test_a_lost_object_is_the_operators_fault(senv: SEnv) -> None:
    (senv.ws("alice") / "a.py").write_text("a\n")
    alice = build_server(local_token=senv.tokens["alice"])
    sid = (await call(alice, "upload_snapshot", message="m"))["snapshot_id"]
    for obj in objects(senv):
        obj.unlink()
    with pytest.raises(ToolError, match="is missing. tell the operator") as info:
        await call(alice, "download_snapshot", snapshot_id=sid, inline=True)
    assert str(senv.home) not in str(info.value)


async def test_integer_arguments_say_the_range_the_core_enforces(senv: SEnv) -> None:
    """Ids and offsets declare SQLite's range in the schema (the core's middleware refuses past it for every tool)."""
    async with Client(build_server(local_token=senv.tokens["alice"]).mcp) as client:
        bounds = {(t.name, name): b for t in await client.list_tools() for name, b in integer_bounds(t.input_schema).items()}
    assert {key for key in bounds if key[1].endswith(("_id", "_ids"))} >= {("get_snapshot", "snapshot_id"), ("list_snapshots", "finding_id")}
    for (tool, name), (low, high) in bounds.items():
        assert high is not None and high <= 2**63 - 1, (tool, name)
        assert low is not None and low >= (1 if name.endswith(("_id", "_ids")) else -1), (tool, name)
