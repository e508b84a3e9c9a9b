"""A Redis lock so two retraining runs never overlap (two cron hosts, a manual run beside the
scheduled one, a compose service restarted mid-run).

SET key token NX PX ttl takes it; only the holder's token can release or extend it (a Lua
compare-and-delete), so a run whose lock expired cannot delete the next run's lock. The TTL
(RetrainSettings.lock_ttl_s, 6 h) bounds how long a crashed run blocks the schedule; a live run
extends the lock at every stage boundary.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any

import redis

from outreach.errors import LockHeld, RetrainError

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) " \
           "else return 0 end"
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"


class RunLock:
    """``with RunLock(client, key, ttl_s, run_id):`` holds the lock or raises LockHeld."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: int, run_id: str) -> None:
        self.client, self.key, self.ttl_ms = client, key, ttl_s * 1000
        self.holder = {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(),
                       "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "token": uuid.uuid4().hex}
        self.token = json.dumps(self.holder, sort_keys=True)
        self.held = False

    def acquire(self) -> None:
        try:
            taken = self.client.set(self.key, self.token, nx=True, px=self.ttl_ms)
            current = None if taken else self.client.get(self.key)
        except redis.RedisError as exc:
            raise RetrainError("lock", f"cannot reach Redis for the run lock: {exc}") from exc
        if not taken:
            raise LockHeld("lock", f"another retraining run holds {self.key}: "
                           f"{_describe(current)}")
        self.held = True

    def extend(self) -> None:
        """Push the expiry out by the full TTL; raises if the lock was lost meanwhile."""
        try:
            ok = self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms)
        except redis.RedisError as exc:
            raise RetrainError("lock", f"cannot extend the run lock: {exc}") from exc
        if not ok:
            self.held = False
            raise RetrainError("lock", f"the run lock {self.key} expired or was taken over; "
                               "stopping so two runs never release at once")

    def release(self) -> None:
        if not self.held:
            return
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            pass  # the TTL frees it; nothing else to do on the way out
        self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _describe(raw: bytes | None) -> str:
    if raw is None:
        return "it was released a moment ago; try again"
    try:
        holder = json.loads(raw)
        return f"run {holder['run_id']} on {holder['host']} (pid {holder['pid']}) since " \
               f"{holder['since']}"
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")
