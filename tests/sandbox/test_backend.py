from __future__ import annotations

import functools
import io
import os
import random
import threading

import pytest

from sandbox import NoSandboxError, backend_names, get_backend
from sandbox._backend import MAX_LINE_BYTES, chunk_lines, stream_lines, tail_of
from sandbox.backends.bwrap import BwrapBackend
from sandbox.backends.docker import DockerBackend


def test_three_backends_are_registered() -> None:
    assert {"docker", "bwrap", "none"} <= set(backend_names())


def test_auto_prefers_docker_then_bwrap_then_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DockerBackend, "available", lambda self: None)
    assert get_backend("auto").name == "docker"
    monkeypatch.setattr(DockerBackend, "available", lambda self: "no engine")
    monkeypatch.setattr(BwrapBackend, "available", lambda self: None)
    assert get_backend("auto").name == "bwrap"
    monkeypatch.setattr(BwrapBackend, "available", lambda self: "no bwrap")
    with pytest.raises(NoSandboxError, match="labels"):
        get_backend("auto")
    backend = get_backend("auto", allow_none=True)
    assert backend.name == "none" and not backend.isolates_labels


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="bwrap") as caught:
        get_backend("podman")
    assert str(caught.value) == "unknown sandbox backend 'podman'; available: " + ", ".join(backend_names()) + ", or auto"
    with pytest.raises(KeyError, match="podman"):
        get_backend("podman://ssh://ops@gpu-1")


def test_named_backend_that_cannot_run_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DockerBackend, "available", lambda self: "no engine")
    with pytest.raises(NoSandboxError, match="no engine"):
        get_backend("docker")


def _pipe_chunks(payload: bytes, write_size: int) -> list[bytes]:
    """`payload` written into a real pipe `write_size` bytes at a time by another thread, read back as it comes."""
    r, w = os.pipe()

    def write() -> None:
        with os.fdopen(w, "wb", buffering=0) as out:
            for at in range(0, len(payload), write_size):
                out.write(payload[at:at + write_size])

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with os.fdopen(r, "rb", buffering=0) as src:
        chunks = list(iter(lambda: src.read(1 << 16), b""))
    writer.join(timeout=10)
    return chunks


def test_chunk_lines_cuts_a_line_without_newline_into_pieces_of_at_most_the_cap() -> None:
    payload = b"x" * (3 * MAX_LINE_BYTES + 10) + b"\nok\n" + b"tail"
    pieces = list(chunk_lines(_pipe_chunks(payload, 1 << 17)))
    assert b"".join(pieces) == payload
    assert max(map(len, pieces)) == MAX_LINE_BYTES
    assert pieces[-2:] == [b"ok\n", b"tail"]
    assert [len(p) for p in pieces[:4]] == [MAX_LINE_BYTES] * 3 + [11]


def test_chunk_lines_cuts_like_readline_with_the_same_limit() -> None:
    rng = random.Random(7)
    payload = bytes(rng.choice(b"ab\n") if rng.random() < 0.3 else ord("c") for _ in range(5000))
    payload += b"d" * 300  # a long last line with no newline
    for limit in (1, 2, 7, 64):
        expected = list(iter(functools.partial(io.BytesIO(payload).readline, limit), b""))
        for write_size in (1, 3, 100, 4096):
            assert list(chunk_lines(_pipe_chunks(payload, write_size), limit)) == expected, (limit, write_size)


def test_a_pipe_read_whole_and_in_chunks_is_cut_the_same() -> None:
    """The backends reading a pipe (stream_lines) and docker's chunked log (chunk_lines) hand over the same pieces."""
    payload = b"z" * (MAX_LINE_BYTES + 3) + b"\n" + b"short\n" + b"w" * (2 * MAX_LINE_BYTES)
    r, w = os.pipe()

    def write() -> None:
        with os.fdopen(w, "wb") as out:
            out.write(payload)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with os.fdopen(r, "rb") as src:
        whole = list(stream_lines(src))
    writer.join(timeout=10)
    assert whole == list(chunk_lines(_pipe_chunks(payload, 4096)))
    assert [len(p) for p in whole] == [MAX_LINE_BYTES, 4, 6, MAX_LINE_BYTES, MAX_LINE_BYTES]


def test_tail_of_keeps_the_last_bytes_whatever_the_chunking() -> None:
    data = bytes(random.Random(7).randrange(256) for _ in range(10_000))
    for size in (1, 7, 999, 4096, 20_000):
        chunks = (data[i:i + size] for i in range(0, len(data), size))
        assert tail_of(chunks, limit=1000) == data[-1000:]
    assert tail_of([b"ab", b"c"], limit=10) == b"abc" and tail_of([], limit=5) == b""
