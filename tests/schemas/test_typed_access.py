"""Record fields are checked by a type checker: mypy over every package, failing on a TypedDict
key error (a misspelt or renamed field read from a record, a record built with an unknown or a
missing field, a record passed to the codec as an untyped dict). ``record.get("name")`` is not
checked (mypy types an unknown key's value as object): read fields with ``record["name"]``.

The code base is not otherwise mypy-clean, so only those errors count here. A witness file with
misspelt keys goes through the same run: if the checker stops seeing them (a changed flag, the
codec losing its overloads), the witness test fails instead of the check passing vacuously.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package, so a new one is checked without editing this list.
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
KEY_CODES = {"typeddict-item", "typeddict-unknown-key", "literal-required"}
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*?)  \[(?P<code>[\w-]+)\]$")

WITNESS = '''\
from schemas.codec import AvroCodec
from schemas.records import EmailDraft, GenerationRequest, Lead


def subject_of(codec: AvroCodec, raw: bytes) -> str:
    return codec.decode(raw, "EmailDraft")["subjet"]  # line 6: misspelt read


def request(lead: Lead) -> GenerationRequest:
    return {"request_id": "r", "lead": lead, "tier": "small", "variant": "a", "rule": "r",
            "received_at": 0}  # line 10 (the statement's): routed_at, no default, left out


def stub(draft: EmailDraft) -> None:
    draft["rungs"] = "llm"  # line 15: misspelt write


def publish(codec: AvroCodec, lead: Lead) -> bytes:
    return codec.encode("Lead", {**lead, "lead_scor": 3})  # line 19: unknown key built


def untyped(codec: AvroCodec, record: dict[str, object]) -> bytes:
    return codec.encode("Lead", record)  # line 23: an untyped dict handed to the codec
'''
WITNESS_LINES = {6, 10, 15, 19, 23}


@dataclass(frozen=True)
class Error:
    path: str
    line: int
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message} [{self.code}]"


def is_key_error(error: Error) -> bool:
    """A TypedDict key error, or a record the codec's overloads could not type (an untyped
    dict or a misspelt key handed to encode surfaces as "no overload variant")."""
    return (error.code in KEY_CODES
            or (error.code == "misc" and "TypedDict" in error.message)
            or (error.code == "call-overload" and 'of "AvroCodec"' in error.message))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[Error], Path]:
    """One mypy run over every package and the witness (one run: the stdlib stubs and the
    packages are analysed once; about 10 s from a clean cache on 2 cores)."""
    assert importlib.util.find_spec("mypy"), "mypy is in the dev extras: pip install -e .[dev]"
    work = tmp_path_factory.mktemp("mypy")
    witness = work / "typed_access_witness.py"
    witness.write_text(WITNESS)
    args = [sys.executable, "-m", "mypy",
            # Installed packages stay out: torch, transformers and numpy ship inline types that
            # would take minutes to analyse, and a record's keys never depend on them.
            "--no-site-packages", "--ignore-missing-imports",
            "--cache-dir", str(work / "cache"), "--no-error-summary", "--show-error-codes",
            "--hide-error-context", "--no-color-output", "--no-pretty",
            *PACKAGES, str(witness)]  # package folders and a file: mypy takes no mix with -p
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MYPYPATH": str(ROOT)})  # the witness imports them
    errors = [Error(m["path"], int(m["line"]), m["message"], m["code"])
              for m in map(LINE.match, done.stdout.splitlines()) if m]
    # Exit status 2 or a syntax error: mypy stopped before checking, so nothing was checked.
    blocking = [e for e in errors if e.code == "syntax"]
    assert done.returncode in (0, 1) and not blocking, \
        f"mypy did not check the packages (exit {done.returncode}):\n" \
        + "\n".join(map(str, blocking)) + done.stderr[-2000:]
    return done.returncode, errors, witness


def test_no_record_key_errors_in_the_packages(checked: tuple[int, list[Error], Path]) -> None:
    _, errors, witness = checked
    found = [str(e) for e in errors if is_key_error(e) and Path(e.path).name != witness.name]
    assert found == [], "record field errors:\n" + "\n".join(found)


def test_the_check_reports_misspelt_keys(checked: tuple[int, list[Error], Path]) -> None:
    _, errors, witness = checked
    seen = {e.line for e in errors if is_key_error(e) and Path(e.path).name == witness.name}
    assert seen == WITNESS_LINES, [str(e) for e in errors if Path(e.path).name == witness.name]
