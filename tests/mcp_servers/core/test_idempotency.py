from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, SQLModel, select

from mcp_servers.core import (
    IdempotencyKeys,
    IdempotencyRecord,
    RefusedError,
    create_sqlite_engine,
    init_tables,
    read_session,
    request_sha256,
    write_session,
)


class CoreNote(SQLModel, table=True):
    __tablename__ = "test_core_note"
    id: int | None = Field(default=None, primary_key=True)
    text: str


class CoreNoteKey(IdempotencyRecord, table=True):
    __tablename__ = "test_core_note_idempotency"
    __table_args__ = (UniqueConstraint("agent", "key"),)
    note_id: int = Field(foreign_key="test_core_note.id")


class NoteAnswer(BaseModel):
    note_id: int
    text: str


class NoteError(RefusedError):
    pass


KEYS = IdempotencyKeys(CoreNoteKey, "note_id", NoteError, "note")


def post(engine: Engine, agent: str, text: str, key: str | None) -> NoteAnswer:
    """A service's write as the servers do it: replay, then check again in the write's transaction, then store."""
    request = request_sha256({"text": text})
    if (first := KEYS.replay(engine, agent, key, request, NoteAnswer)) is not None:
        return first
    with write_session(engine) as session:
        if key is not None and (first := KEYS.first_answer(session, agent, key, request, NoteAnswer)) is not None:
            return first
        row = CoreNote(text=text)
        session.add(row)
        session.flush()
        answer = NoteAnswer(note_id=int(row.id or 0), text=text)
        if key is not None:
            KEYS.record(session, agent, key, request, note_id=answer.note_id, result_json=answer.model_dump_json(),
                        created_at=datetime.now(UTC))
    return answer


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_sqlite_engine(tmp_path / "notes.db")
    init_tables(engine, CoreNote, CoreNoteKey)
    return engine


def _notes(engine: Engine) -> int:
    with read_session(engine) as session:
        return len(session.exec(select(CoreNote)).all())


def test_a_retry_answers_the_first_result_and_stores_nothing(engine: Engine) -> None:
    first = post(engine, "alice", "hello", "k-1")
    assert post(engine, "alice", "hello", "k-1") == first
    assert _notes(engine) == 1
    second = post(engine, "alice", "hello", "k-2")  # a new key is a new write
    unkeyed = post(engine, "alice", "hello", None)  # no key: always a new write
    assert len({first.note_id, second.note_id, unkeyed.note_id}) == 3
    assert _notes(engine) == 3


def test_a_key_reused_for_another_request_is_refused_naming_the_first(engine: Engine) -> None:
    first = post(engine, "alice", "hello", "k-1")
    with pytest.raises(NoteError, match=rf"idempotency_key 'k-1' was used for another note \({first.note_id}\)") as e:
        post(engine, "alice", "goodbye", "k-1")
    assert e.value.fix == "send a new key for a new note; reuse a key only to retry the same call"
    assert _notes(engine) == 1


def test_a_table_gets_the_shared_columns_and_one_key_per_agent(tmp_path: Path, engine: Engine) -> None:
    with sqlite3.connect(tmp_path / "notes.db") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(test_core_note_idempotency)")]
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'test_core_note_idempotency'").fetchone()[0]
    assert set(columns) == {"id", "agent", "key", "request_sha256", "result_json", "created_at", "note_id"}
    assert 'UNIQUE (agent, "key")' in ddl


def test_keys_are_scoped_per_agent(engine: Engine) -> None:
    mine = post(engine, "alice", "hello", "k-1")
    theirs = post(engine, "bob", "something else", "k-1")
    assert theirs.note_id != mine.note_id and _notes(engine) == 2


@pytest.mark.parametrize("key", ["", "has space", "quote'", "x" * 129, "semi;colon", "slash/", "k-1\n", "x" * 128 + "\n",
                                 "k\x00", "\uff11", "\u0430bc", "k-1\u200b"])  # a trailing newline, NUL, look-alikes
def test_a_malformed_key_is_refused_before_anything_is_stored(engine: Engine, key: str) -> None:
    with pytest.raises(NoteError, match="idempotency_key must be 1-128 of letters") as e:
        post(engine, "alice", "hello", key)
    assert e.value.fix == "send a fresh uuid4 per new note, and the same one when retrying it"
    assert _notes(engine) == 0


def test_a_server_may_word_its_refusals_itself(engine: Engine) -> None:
    first = post(engine, "alice", "hello", "k-1")
    keys = IdempotencyKeys(CoreNoteKey, "note_id", NoteError, "note", used_for="another post (note {ref})",
                           key_fix="send a uuid4", reuse_fix="send another key")
    with (pytest.raises(NoteError, match=rf"was used for another post \(note {first.note_id}\)") as e,
          read_session(engine) as session):
        keys.first(session, "alice", "k-1", request_sha256({"text": "other"}))
    assert e.value.fix == "send another key"
    with pytest.raises(NoteError) as e:
        keys.check("no spaces")
    assert e.value.fix == "send a uuid4"


def test_a_uuid_and_the_longest_key_are_accepted(engine: Engine) -> None:
    KEYS.check("0b7e1d2c-4f9c-4a57-9d1e-3c2b1a0f9e8d")
    KEYS.check("a.b:c_d-" + "x" * 120)
    KEYS.check(None)


def test_the_request_digest_is_stable_and_order_free() -> None:
    """Digests stored by earlier versions must still match: JSON with sorted keys, anything else as str."""
    assert request_sha256({"a": 1, "b": [1, None]}) == request_sha256({"b": [1, None], "a": 1})
    assert request_sha256(["m", None, 3]) != request_sha256(["m", None, 4])
    assert request_sha256({"p": Path("x")}) == request_sha256({"p": "x"})


def test_the_key_is_stored_in_the_write_transaction(engine: Engine, tmp_path: Path) -> None:
    """A write that fails after the key was added stores neither: a retry then does the work once."""
    request = request_sha256({"text": "t"})
    with pytest.raises(RuntimeError), write_session(engine) as session:
        row = CoreNote(text="t")
        session.add(row)
        session.flush()
        KEYS.record(session, "alice", "k", request, note_id=int(row.id or 0), result_json="{}",
                    created_at=datetime.now(UTC))
        raise RuntimeError("crash before commit")
    with sqlite3.connect(tmp_path / "notes.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM test_core_note_idempotency").fetchone() == (0,)
    assert post(engine, "alice", "t", "k").text == "t" and _notes(engine) == 1


def test_another_agent_replaying_a_key_never_reads_the_first_answer(engine: Engine) -> None:
    """Bob read Alice's key (a log, a shared file) and sends her very request with it: he gets a write of his own,
    never her answer."""
    mine = post(engine, "alice", "alice's secret note", "0b7e1d2c-4f9c-4a57-9d1e-3c2b1a0f9e8d")
    theirs = post(engine, "bob", "alice's secret note", "0b7e1d2c-4f9c-4a57-9d1e-3c2b1a0f9e8d")
    assert theirs.note_id != mine.note_id and _notes(engine) == 2


def test_racing_calls_with_one_key_store_once(tmp_path: Path) -> None:
    """Eight calls with one key at once, each on its own engine (as separate server processes would be): one note,
    one answer for all."""
    init_tables(create_sqlite_engine(tmp_path / "notes.db"), CoreNote, CoreNoteKey)
    start = threading.Barrier(8)
    answers: list[NoteAnswer] = []
    errors: list[BaseException] = []

    def call() -> None:
        engine = create_sqlite_engine(tmp_path / "notes.db")
        start.wait()
        try:
            answers.append(post(engine, "alice", "once", "race-1"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(answers) == 8 and len({a.note_id for a in answers}) == 1
    assert _notes(create_sqlite_engine(tmp_path / "notes.db")) == 1
