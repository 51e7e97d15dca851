"""Client idempotency keys on writes: one pattern for every server that stores something on request.

A client sends `idempotency_key` with a write. The server stores the key, a digest of the request and a reference
to what the call stored, in the write's own transaction (a crash between commit and answer leaves both or
neither). A retry with the same key and request from the same agent answers the first result and stores nothing;
the same key with another request is refused; keys are scoped per agent (two agents may use the same key).

Each server keeps its own table, so its rows can reference its own records through a foreign key and databases
created before this module keep working unchanged. A table needs the columns `agent`, `key` and `request_sha256`,
unique on (agent, key), plus the reference column (and `result_json` where the first answer is replayed):
`IdempotencyRecord` has them all but the reference.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel
from pydantic import Field as ArgField
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from mcp_servers.core._db import read_session

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
"""A client's retry key: 1-128 of letters, digits, '_', '.', ':', '-' (a uuid4 fits)."""
KEY_RULE = "idempotency_key must be 1-128 of letters, digits, '_', '.', ':', '-'"

IdempotencyKeyArg = Annotated[str | None, ArgField(
    description="optional retry key (e.g. a uuid4 per request): a retry with the same key answers the first result "
                "and stores, queues or counts nothing new; the same key with other arguments is refused",
    pattern=IDEMPOTENCY_KEY.pattern)]
"""The `idempotency_key` argument of every tool that writes: one schema (and one rule) for all servers."""

Answer = TypeVar("Answer", bound=BaseModel)


def request_sha256(request: Any) -> str:
    """A digest of what a client asked for (its arguments as JSON, object keys sorted, anything else as str)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyRecord(SQLModel):
    """The columns of a table of keys whose first answer is replayed. A server's table subclasses it with
    `table=True`, its `__tablename__`, `__table_args__ = (UniqueConstraint("agent", "key"),)` and the column
    referencing what the first call stored (a constraint belongs to one table, so each declares its own)."""

    id: int | None = Field(default=None, primary_key=True)
    agent: str
    key: str
    request_sha256: str
    """Hash of the request: the same key with another request is refused, not answered."""
    result_json: str
    """The first answer, replayed to a retry."""
    created_at: datetime


@dataclass(frozen=True)
class IdempotencyKeys:
    """The idempotency keys of one kind of write, stored in `table`.

    `ref` names the column that references what the first call stored (its value is shown when a key is reused
    for another request). `refuse(problem, fix)` builds the service's own error, so each server keeps its error
    class. `what` names the write in the refusals ("finding": "send a fresh uuid4 per new finding, ..."); a server
    whose texts say more passes them.
    """

    table: type[SQLModel]
    ref: str
    refuse: Callable[[str, str], Exception]
    what: str
    used_for: str | None = None
    """What a reused key was used for, formatted with `ref` (default "another <what> ({ref})")."""
    key_fix: str | None = None
    """The fix sent with a malformed key."""
    reuse_fix: str | None = None
    """The fix sent with a key reused for another request."""

    def check(self, key: str | None) -> None:
        """Refuse a malformed key (None, no key, passes)."""
        if key is not None and (not isinstance(key, str) or not IDEMPOTENCY_KEY.fullmatch(key)):  # `$` allows a \n
            raise self.refuse(KEY_RULE, self.key_fix or
                              f"send a fresh uuid4 per new {self.what}, and the same one when retrying it")

    def first(self, session: Session, agent: str, key: str, request: str) -> Any | None:
        """The row the agent's earlier call with `key` stored, None for a new key; a key stored with another
        request is refused. Called inside the write's transaction too: a concurrent retry may have stored it."""
        table: Any = self.table
        row = session.exec(select(table).where(table.agent == agent, table.key == key)).first()
        if row is None:
            return None
        if row.request_sha256 != request:
            used_for = (self.used_for or f"another {self.what} ({{ref}})").format(ref=getattr(row, self.ref))
            raise self.refuse(f"idempotency_key {key!r} was used for {used_for}", self.reuse_fix or
                              f"send a new key for a new {self.what}; reuse a key only to retry the same call")
        return row

    def first_answer(self, session: Session, agent: str, key: str, request: str,
                     answer: type[Answer]) -> Answer | None:
        """The stored first answer to the agent's call with `key` (from the row's `result_json`), None for a new key."""
        row = self.first(session, agent, key, request)
        return None if row is None else answer.model_validate_json(row.result_json)

    def lookup(self, engine: Engine, agent: str, key: str | None, request: str) -> Any | None:
        """Check the key and find the row of an earlier call with it, before doing the work again (None: no key, or
        a new one); the write checks again inside its transaction (`first`), so two racing retries store once."""
        self.check(key)
        if key is None:
            return None
        with read_session(engine) as session:
            return self.first(session, agent, key, request)

    def replay(self, engine: Engine, agent: str, key: str | None, request: str,
               answer: type[Answer]) -> Answer | None:
        """`lookup`, answered with the first call's stored answer."""
        row = self.lookup(engine, agent, key, request)
        return None if row is None else answer.model_validate_json(row.result_json)

    def record(self, session: Session, agent: str, key: str, request: str, **fields: Any) -> None:
        """Store the key in the write's session; `fields` are the table's other columns (reference, answer)."""
        session.add(self.table(agent=agent, key=key, request_sha256=request, **fields))
