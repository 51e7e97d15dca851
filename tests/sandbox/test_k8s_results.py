"""Results of an agent pod brought back as data: real tar streams (GNU tar over a planted tree, and crafted ones)
extracted beneath a host workspace, then the leak scan over what came back."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from sandbox import SandboxSpec
from sandbox.k8s_results import Collected, ResultLimits, ResultsRefused, extract_beneath, scan_results

OWN = "w2s_ownTok3nAbcdefghijklmnopq"
OTHER = "w2s_otherTok3nZyxwvutsrqponml"


def _stream(build: dict[str, bytes | str | None]) -> io.BytesIO:
    """A tar of `name -> bytes` (a file), `str` (a symlink to it) or None (a folder)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, value in build.items():
            info = tarfile.TarInfo(name)
            if value is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    out.seek(0)
    return out


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
def test_a_planted_tree_comes_back_as_plain_files(tmp_path: Path) -> None:
    pod_side = tmp_path / "pod-workspace"
    (pod_side / "runs" / "j1").mkdir(parents=True)
    (pod_side / "runs" / "j1" / "predictions.json").write_text('{"predictions": [0.5]}')
    (pod_side / "notes.md").write_text("# notes")
    tool = pod_side / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o4755)  # setuid: must not survive
    (pod_side / "passwd").symlink_to("/etc/passwd")
    (pod_side / "up").symlink_to("..")
    os.link(pod_side / "notes.md", pod_side / "hard")
    os.mkfifo(pod_side / "fifo")
    host = tmp_path / "host-workspace"
    host.mkdir()
    proc = subprocess.Popen(["tar", "-C", str(pod_side), "-cf", "-", "."], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    done = extract_beneath(proc.stdout, host)
    assert proc.wait(timeout=30) == 0
    assert json.loads((host / "runs" / "j1" / "predictions.json").read_text()) == {"predictions": [0.5]}
    assert (host / "notes.md").read_text() == "# notes"
    assert stat.S_IMODE((host / "tool.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((host / "notes.md").stat().st_mode) == 0o644
    for name in ("passwd", "up", "fifo"):
        assert not os.path.lexists(host / name), name
    assert {s.split(":")[0] for s in done.skipped} >= {"passwd", "up", "fifo"}
    assert done.files >= 3 and "skipped" in done.summary()
    assert not any(p.is_symlink() for p in host.rglob("*"))


def test_a_link_on_the_host_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    host = tmp_path / "ws"
    host.mkdir()
    (host / "runs").symlink_to(outside)
    with pytest.raises(ResultsRefused, match="link"):
        extract_beneath(_stream({"runs/x.json": b"{}"}), host)
    assert list(outside.iterdir()) == []
    # a link in a file's place is replaced by the file; its target is untouched
    target = tmp_path / "target"
    target.write_text("keep")
    (host / "out.json").symlink_to(target)
    extract_beneath(_stream({"out.json": b"new"}), host)
    assert not (host / "out.json").is_symlink() and (host / "out.json").read_text() == "new"
    assert target.read_text() == "keep"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt", "d/" * 70 + "f",
                                  "a/" + "n" * 256, "\u00e9" * 128])
def test_names_that_leave_the_workspace_are_refused(tmp_path: Path, name: str) -> None:
    host = tmp_path / "ws"
    host.mkdir()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    out.seek(0)
    with pytest.raises(ResultsRefused):
        extract_beneath(out, host)
    assert not (tmp_path / "escape.txt").exists() and not Path("/etc/escape.txt").exists()
    assert (host / "x").read_bytes() == b"x"  # what came before the bad member stays, as data


def test_caps_and_a_cut_stream(tmp_path: Path) -> None:
    host = tmp_path / "ws"
    host.mkdir()
    with pytest.raises(ResultsRefused, match="members"):
        extract_beneath(_stream({f"f{i}": b"x" for i in range(5)}), host, ResultLimits(max_members=3))
    with pytest.raises(ResultsRefused, match="over 4 bytes"):
        extract_beneath(_stream({"big": b"12345"}), host, ResultLimits(max_file_bytes=4))
    with pytest.raises(ResultsRefused, match="results are over"):
        extract_beneath(_stream({"a": b"123", "b": b"456"}), host, ResultLimits(max_total_bytes=5))
    whole = _stream({"cut": b"y" * 5000}).getvalue()
    with pytest.raises(ResultsRefused):
        extract_beneath(io.BytesIO(whole[:2048]), host)
    assert not any(p.name.startswith(".w2s-incoming") for p in host.iterdir())
    with pytest.raises(ResultsRefused, match="not a readable tar"):
        extract_beneath(io.BytesIO(b"this is not a tar stream at all" * 40), host)


def test_a_folder_in_place_of_a_file_is_kept(tmp_path: Path) -> None:
    host = tmp_path / "ws"
    (host / "results").mkdir(parents=True)
    done = extract_beneath(_stream({"results": b"file now"}), host)
    assert (host / "results").is_dir() and done.skipped == ["results: a folder on the host (not replaced)"]


def test_leak_scan_runs_over_what_came_back(fake_home, tmp_path: Path) -> None:
    from sandbox._detect import Fingerprint
    from sandbox.fingerprint import build

    p = fake_home.paths
    host = p.workspaces_dir / "agent_1"
    host.mkdir(parents=True)
    spec = SandboxSpec(agent_id="agent_1", workspace=host, token=OWN, command=["true"])
    fp = Fingerprint.load(build(p.label_store_dir, p.data_dir))
    clean = extract_beneath(_stream({"notes.md": f"my token {OWN}".encode()}), host)
    clean.scan = scan_results(spec, fp)
    assert clean.scan["clean"], clean.scan["findings"]
    leaked = "".join(json.dumps({"id": k, "label": v}) + "\n" for k, v in fake_home.hidden.items())
    done = extract_beneath(_stream({"runs/copy.jsonl": leaked.encode(), "stolen.txt": OTHER.encode()}), host)
    done.scan = scan_results(spec, fp)
    kinds = {f["kind"] for f in done.scan["findings"]}
    assert {"hidden_labels", "foreign_token"} <= kinds
    assert "LEAK SCAN" in done.summary() and OTHER not in json.dumps(done.scan)
    assert Collected().summary() == "0 files, 0 folders, 0 bytes back"
    assert Collected(shared=True, scan={"findings": []}).summary() == "workspace on shared storage; leak scan clean"


def test_the_collect_program_streams_into_the_extractor(tmp_path: Path) -> None:
    """The pod's collect program (run here on a planted tree) piped into the host's extractor: the whole results
    path but the `kubectl exec` transport."""
    import sys

    from sandbox.k8s import COLLECT_TAR

    pod_side = tmp_path / "pod"
    (pod_side / "runs" / "j2").mkdir(parents=True)
    (pod_side / "runs" / "j2" / "metrics.json").write_text('{"acc": 0.8}')
    (pod_side / "escape").symlink_to("/etc")
    (pod_side / "runs" / "j2" / "up").symlink_to("../..")
    host = tmp_path / "host"
    host.mkdir()
    program = COLLECT_TAR[3].replace("/w2s/workspace", str(pod_side))
    proc = subprocess.Popen([sys.executable, "-I", "-c", program], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    done = extract_beneath(proc.stdout, host)
    assert proc.wait(timeout=30) == 0
    assert json.loads((host / "runs" / "j2" / "metrics.json").read_text()) == {"acc": 0.8}
    assert sorted(done.skipped) == ["escape: link (not created)", "runs/j2/up: link (not created)"]
    assert not any(p.is_symlink() for p in host.rglob("*"))


def _raw_header(name: bytes, size: int, kind: bytes) -> bytes:
    """One ustar header block written by hand (what tarfile itself refuses to write: negative sizes, any type)."""
    info = tarfile.TarInfo("x")
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    block[0:100] = name.ljust(100, b"\0")
    if size < 0 or size >= 8 ** 11:  # GNU base-256, the one way to write such a size
        block[124:136] = bytes([0xFF if size < 0 else 0x80]) + (size % (1 << 88)).to_bytes(11, "big")
    else:
        block[124:136] = b"%011o\0" % size
    block[156:157] = kind
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _pax(records: dict[str, str], then: tarfile.TarInfo, data: bytes = b"") -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        then.pax_headers = records
        then.size = len(data)
        tar.addfile(then, io.BytesIO(data))
    out.seek(0)
    return out


def test_a_negative_size_never_lowers_the_total(tmp_path: Path) -> None:
    """A size of -1..-511 moves tarfile by zero blocks: each such member would have taken 511 bytes off the total
    cap (and the summary would have counted bytes below zero)."""
    host = tmp_path / "ws"
    host.mkdir()
    stream = io.BytesIO(_raw_header(b"neg", -511, b"0") + b"\0" * 1024)
    with pytest.raises(ResultsRefused, match="declares -511 bytes"):
        extract_beneath(stream, host)
    with pytest.raises(ResultsRefused, match="declares -5 bytes"):
        extract_beneath(_pax({"size": "-5"}, tarfile.TarInfo("pax-neg")), host)
    assert not (host / "neg").exists() and not (host / "pax-neg").exists()


def test_headers_read_whole_are_capped_before_they_are_read(tmp_path: Path) -> None:
    """tarfile reads a PAX or GNU long-name header whole into memory and keeps every member it read: an agent
    declaring a header of gigabytes, or chaining headers, must be refused on the header's word."""
    host = tmp_path / "ws"
    host.mkdir()
    limits = ResultLimits(max_header_bytes=4096)
    # the declared size is refused before a byte of it is read: the stream holds only the header block
    for kind in (tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
        with pytest.raises(ResultsRefused, match="extended header of 68719476736 bytes"):
            extract_beneath(io.BytesIO(_raw_header(b"h", 64 << 30, kind)), host, limits)
    with pytest.raises(ResultsRefused, match="extended header"):
        extract_beneath(_pax({"comment": "c" * 8000}, tarfile.TarInfo("f")), host, limits)
    chain = b"".join(_raw_header(b"././@LongLink", 1, tarfile.GNUTYPE_LONGNAME) + b"a".ljust(512, b"\0")
                     for _ in range(2000))
    with pytest.raises(ResultsRefused, match="more than 4 extended headers"):
        extract_beneath(io.BytesIO(chain + b"\0" * 1024), host)
    glob = _raw_header(b"g", 0, tarfile.XGLTYPE) + b"\0" * 1024
    with pytest.raises(ResultsRefused, match="global PAX header"):
        extract_beneath(io.BytesIO(glob), host)
    # a long name within the cap (a PAX path of 3 KB) still comes back
    deep = "/".join(["d" * 200] * 15 + ["f.json"])
    done = extract_beneath(_pax({}, tarfile.TarInfo(deep), b"{}"), host)
    assert done.files == 1 and (host.joinpath(*deep.split("/"))).read_bytes() == b"{}"


def test_sparse_members_are_refused(tmp_path: Path) -> None:
    """A sparse member of a few bytes on the wire would be written out in full (16 GiB of zeros per member)."""
    host = tmp_path / "ws"
    host.mkdir()
    old_gnu = bytearray(_raw_header(b"holes", 512, tarfile.GNUTYPE_SPARSE))
    old_gnu[483:495] = b"%011o\0" % (16 << 30)  # realsize
    old_gnu[148:156] = b" " * 8
    old_gnu[148:156] = b"%06o\0 " % sum(old_gnu)
    with pytest.raises(ResultsRefused, match="sparse"):
        extract_beneath(io.BytesIO(bytes(old_gnu) + b"\0" * 2048), host)
    for records in ({"GNU.sparse.map": "0,1", "GNU.sparse.realsize": str(16 << 30)},
                    {"GNU.sparse.size": str(16 << 30), "GNU.sparse.offset": "0", "GNU.sparse.numbytes": "1"},
                    {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": str(16 << 30)}):
        with pytest.raises(ResultsRefused, match="sparse"):
            extract_beneath(_pax(records, tarfile.TarInfo("holes"), b"1\n0\n1\n".ljust(512, b"\0") + b"x"), host)
    assert not (host / "holes").exists()


def test_a_stream_of_links_keeps_the_host_memory_flat(tmp_path: Path) -> None:
    host = tmp_path / "ws"
    host.mkdir()
    done = extract_beneath(_stream({f"l{i}": "/etc/passwd" for i in range(500)}), host)
    assert len(done.skipped) == 200 and done.more_skipped == 300 and "500 skipped" in done.summary()


def test_names_are_shown_without_terminal_escapes(tmp_path: Path) -> None:
    """What the operator reads (refusals, skipped members) never carries the agent's escape codes or newlines."""
    host = tmp_path / "ws"
    host.mkdir()
    (host / "f").write_text("a file")
    evil = "f/\x1b]0;owned\x07\x1b[2J\nfake line/x"
    with pytest.raises(ResultsRefused) as caught:
        extract_beneath(_stream({evil: b"x"}), host)
    assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value) and "\\x1b" in str(caught.value)
    done = extract_beneath(_stream({"\x1b[31mred": "/etc"}), host)
    assert done.skipped == ["\\x1b[31mred: link (not created)"]
    with pytest.raises(ResultsRefused) as caught:
        extract_beneath(_stream({"big\x1b[2J": b"12345"}), host, ResultLimits(max_file_bytes=4))
    assert "\x1b" not in str(caught.value)


def test_a_directory_replaced_by_a_file_then_written_through(tmp_path: Path) -> None:
    """Duplicated names: a folder, then a file of that name, then a member below it; a symlink member named like
    a folder written before it. None of it leaves the workspace or turns into a link."""
    host = tmp_path / "ws"
    host.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    done = extract_beneath(_stream({"d": None, "d/a": b"1", "d ": b"2", "e": str(outside)}), host)
    assert done.skipped == ["e: link (not created)"]
    with pytest.raises(ResultsRefused, match="not written through"):
        extract_beneath(_stream({"d2": b"file", "d2/x": b"below a file"}), host)
    done = extract_beneath(_stream({"d": b"a file over a folder"}), host)
    assert (host / "d").is_dir() and (host / "d" / "a").read_bytes() == b"1"
    assert list(outside.iterdir()) == [] and not any(p.is_symlink() for p in host.rglob("*"))
