"""The review queue's state in SQLite: every example with its decision, reviewer and reason.

SQLite (stdlib, one file) rather than Redis: review state must outlive the process and travel
with the data it describes; a queue of a few thousand examples is far below what one SQLite
file serves. Decisions are single UPDATEs, so a crash never loses a recorded decision.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from outreach.errors import DataError, TrainingError
from training.records import Example

SCHEMA = """
CREATE TABLE IF NOT EXISTS examples (
    example_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    teacher TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    overall REAL,
    reviewer TEXT,
    reason TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    updated_at REAL
);
CREATE INDEX IF NOT EXISTS examples_status ON examples(status, position);
"""
STATUSES = ("pending", "approved", "rejected")


class ReviewStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # One connection shared by the web server's threads, serialised by a lock.
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise TrainingError(f"cannot open review database {path}: {exc}") from exc
        self._lock = threading.Lock()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def add(self, examples: list[Example]) -> int:
        """Queue examples; ones already queued (same example_id) keep their decisions."""
        with self._lock, self._db:
            start = self._db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM examples"
                                     ).fetchone()[0]
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO examples (example_id, payload, status, teacher, flagged, "
                "overall, position) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(e.example_id, e.to_json(), e.status, e.teacher, int(bool(e.rubric.get("flags"))),
                  e.rubric.get("overall"), start + i) for i, e in enumerate(examples)])
            return self._db.total_changes - before

    def _example(self, row: tuple) -> Example:
        ex = Example.from_dict(json.loads(row[0]))
        ex.status, ex.approved_by, ex.reject_reason = row[1], row[2], row[3]
        return ex

    def get(self, example_id: str) -> Example:
        with self._lock:
            row = self._db.execute("SELECT payload, status, reviewer, reason FROM examples "
                                   "WHERE example_id = ?", (example_id,)).fetchone()
        if row is None:
            raise DataError(f"no example {example_id}")
        return self._example(row)

    def list(self, status: str | None = None, teacher: str | None = None,
             flagged: bool | None = None, limit: int = 500) -> list[Example]:
        query, args = "SELECT payload, status, reviewer, reason FROM examples WHERE 1=1", []
        for column, value in (("status", status), ("teacher", teacher)):
            if value:
                query += f" AND {column} = ?"
                args.append(value)
        if flagged is not None:
            query += " AND flagged = ?"
            args.append(int(flagged))
        with self._lock:
            rows = self._db.execute(query + " ORDER BY position LIMIT ?", (*args, limit)).fetchall()
        return [self._example(row) for row in rows]

    def all(self) -> list[Example]:
        return self.list(limit=10**9)

    def decide(self, example_id: str, status: str, reviewer: str, reason: str | None = None,
               subject: str | None = None, body: str | None = None) -> Example:
        """Record approve/reject; an edit (subject/body) is stored and the example approved."""
        if status not in STATUSES:
            raise DataError(f"status must be one of {STATUSES}")
        if status == "rejected" and not (reason or "").strip():
            raise DataError("a rejection needs a reason")
        ex = self.get(example_id)
        edited = (subject is not None and subject != ex.subject) or \
                 (body is not None and body != ex.body)
        ex.subject, ex.body = subject if subject is not None else ex.subject, \
            body if body is not None else ex.body
        ex.status = status
        ex.approved_by = f"human:{reviewer}" if status == "approved" else None
        ex.reject_reason = reason if status == "rejected" else None
        with self._lock, self._db:
            self._db.execute(
                "UPDATE examples SET payload = ?, status = ?, reviewer = ?, reason = ?, "
                "edited = edited OR ?, updated_at = ? WHERE example_id = ?",
                (ex.to_json(), status, ex.approved_by, ex.reject_reason, int(edited), time.time(),
                 example_id))
        return ex

    def counts(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM examples GROUP BY status"
                                    ).fetchall()
            teachers = [r[0] for r in self._db.execute(
                "SELECT DISTINCT teacher FROM examples ORDER BY teacher").fetchall()]
        counts = {s: 0 for s in STATUSES} | dict(rows)
        return {**counts, "total": sum(counts.values()), "teachers": teachers}
