"""Resumable stages: each unit of work keyed by a hash of its configuration and inputs.

A stage's output lives in ``RUN/stages/<name>-<digest>/``; it is produced in a hidden
temporary sibling and renamed into place with its ``stage.json`` (key, result, timing)
only when complete. A rerun finds finished stages by their digest and skips them; a
``kill -9`` loses the stage in progress and nothing else, and leaves no half-written
artefact under a final name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffrl_eval.errors import UserError

STAGES_DIR = "stages"
STAGE_FILE = "stage.json"


def digest(key: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of ``key``."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StageStore:
    """The finished and pending stages of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.root = Path(run_dir) / STAGES_DIR
        self.ran: list[str] = []  # stages executed (not reused) by this process
        self.reused: list[str] = []

    def path(self, name: str, key: dict[str, Any]) -> Path:
        return self.root / f"{name}-{digest({'stage': name, **key})}"

    def lookup(self, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        record = self.path(name, key) / STAGE_FILE
        if not record.is_file():
            return None
        try:
            return json.loads(record.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"corrupted stage record {record}: {exc}") from None

    def run(
        self,
        name: str,
        key: dict[str, Any],
        produce: Callable[[Path], dict[str, Any]],
        *,
        expected_errors: tuple[type[BaseException], ...] = (),
    ) -> tuple[Path, dict[str, Any]]:
        """The stage's directory and record, producing it first when not done yet.

        ``produce(directory)`` writes the stage's files into ``directory`` and returns
        its result (JSON-ready). An error of ``expected_errors`` is recorded as a failed
        stage (``status: failed``) rather than raised: a deterministic failure (an expert
        that cannot reach the goal) would fail the same way on every rerun.
        """
        final = self.path(name, key)
        found = self.lookup(name, key)
        if found is not None:
            self.reused.append(final.name)
            return final, found
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f".{final.name}.tmp-{uuid.uuid4().hex[:12]}"
        temp.mkdir()
        started = time.perf_counter()
        try:
            try:
                result = produce(temp)
                status, error = "done", None
            except expected_errors as exc:
                result, status, error = {}, "failed", " ".join(str(exc).split())
            record = {"stage": name, "key": key, "status": status, "error": error,
                      "result": result, "seconds": round(time.perf_counter() - started, 3)}
            (temp / STAGE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
            if final.exists():  # produced by a concurrent run meanwhile
                shutil.rmtree(final)
            temp.rename(final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        self.ran.append(final.name)
        return final, record
