"""Resumable stages: each unit of work keyed by a hash of its configuration and inputs.

A stage's output lives in ``RUN/stages/<name>-<digest>/``; it is produced in a hidden
staging sibling (:class:`~diffrl_eval.atomic.StagedDirectory`) and renamed into place with
its ``stage.json`` (key, result, timing) only when complete. A rerun finds finished stages by their digest and skips them; a
``kill -9`` loses the stage in progress and nothing else, and leaves no half-written
artefact under a final name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffrl_eval.atomic import StagedDirectory

STAGES_DIR = "stages"
STAGE_FILE = "stage.json"


def digest(key: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of ``key``."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_hashes(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` but the stage record, by relative path."""
    hashes = {}
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.name != STAGE_FILE:
            digest_ = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest_.update(block)
            hashes[path.relative_to(directory).as_posix()] = digest_.hexdigest()
    return hashes


def _damage(directory: Path, recorded: dict[str, str] | None) -> str | None:
    """What differs between ``directory`` and the file hashes ``recorded`` (None: intact;
    records written before hashes were kept are taken as they are)."""
    if recorded is None:
        return None
    actual = file_hashes(directory)
    for relative, expected in sorted(recorded.items()):
        if relative not in actual:
            return f"{relative} is missing"
        if actual[relative] != expected:
            return f"{relative} changed since the stage finished"
    return None


class StageStore:
    """The finished and pending stages of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.root = Path(run_dir) / STAGES_DIR
        self.ran: list[str] = []  # stages executed (not reused) by this process
        self.reused: list[str] = []

    def path(self, name: str, key: dict[str, Any]) -> Path:
        return self.root / f"{name}-{digest({'stage': name, **key})}"

    def lookup(self, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The finished stage's record, or None when it is not done yet.

        A finished stage whose files no longer match the hashes recorded when it finished
        (a truncated Parquet, an edited result) is removed, with a one-line note on
        stderr, and so produced again: it is never silently reused.
        """
        directory = self.path(name, key)
        record_path = directory / STAGE_FILE
        if not record_path.is_file():
            return None
        try:
            record = json.loads(record_path.read_text())
            damage = _damage(directory, record.get("files")) if isinstance(record, dict) \
                else "not a JSON object"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            damage = f"{STAGE_FILE} unreadable ({exc})"
        if damage is None:
            return record
        print(f"warning: stage {directory.name} is damaged ({damage}); producing it again",
              file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        return None

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
        started = time.perf_counter()
        # a stage produced by a concurrent run meanwhile is replaced
        with StagedDirectory(final, sources=[], overwrite=True) as staged:
            try:
                result = produce(staged.path)
                status, error = "done", None
            except expected_errors as exc:
                result, status, error = {}, "failed", " ".join(str(exc).split())
            record = {"stage": name, "key": key, "status": status, "error": error,
                      "result": result, "seconds": round(time.perf_counter() - started, 3),
                      "files": file_hashes(staged.path)}
            (staged.path / STAGE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
            staged.commit()
        self.ran.append(final.name)
        return final, record
