"""Job leases: which dispatcher runs a job, for how long, and how another dispatcher tells that one is gone.

A dispatcher that claims a job holds its lease for `LEASE_S` seconds and renews it every `lease_s / 5` while the
job's reader thread lives. Every live dispatcher (the train and the predict server share one jobs db) looks for
expired leases about once a second and requeues those jobs (or fails them once their attempts are spent). So a
job never depends on one dispatcher's lifetime: a dead, hung or zombie dispatcher stops renewing, and its job is
back in the queue within the lease. When the owner's pid is in our pid namespace and is gone (or a zombie), its
jobs are recovered at once, without waiting for the lease to run out.
"""

from __future__ import annotations

import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path

LEASE_S = 10.0
"""Default lease: four missed heartbeats (every 2 s) before a job is taken back; `W2S_COMPUTE_LEASE_S` overrides."""
LEASE_ENV = "W2S_COMPUTE_LEASE_S"


def default_lease_s() -> float:
    """`W2S_COMPUTE_LEASE_S` (seconds, 1-3600) when set, else LEASE_S; a bad value stops the server at start."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return LEASE_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{LEASE_ENV}={raw!r} is not a number of seconds (e.g. 10)") from None
    if not 1.0 <= value <= 3600:
        raise ValueError(f"{LEASE_ENV}={raw!r} must be between 1 and 3600 seconds")
    return value
EXPIRE_EVERY_S = 1.0
"""How often each dispatcher looks for expired leases."""


def pid_space() -> str:
    """This machine's boot and pid namespace: two dispatchers with the same space see each other's pids."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "?"
    try:
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        ns = "?"
    return f"{boot}:{ns}"


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie (an unreaped dead dispatcher must not count as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: signal 0 is all we know
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")


def kill_job_process(pid: int) -> None:
    """Kill an orphaned job's sandbox, but only if that pid is still one (pids are reused after a restart)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if not any(mark in cmdline for mark in (b"trainer.jobs", b"bwrap", b"sandbox/_launch.py")):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class LeaseHolder:
    """One dispatcher instance (several may live in one process: each has its own nonce)."""

    lease_s: float = LEASE_S
    pid: int = field(default_factory=os.getpid)
    space: str = field(default_factory=pid_space)
    nonce: str = field(default_factory=lambda: secrets.token_hex(6))

    def __post_init__(self) -> None:
        if not 1.0 <= self.lease_s <= 3600:
            raise ValueError(f"lease_s {self.lease_s} must be between 1 and 3600 seconds")

    @property
    def owner(self) -> str:
        return f"{self.space}/{self.pid}/{self.nonce}"

    @property
    def heartbeat_s(self) -> float:
        return self.lease_s / 5
