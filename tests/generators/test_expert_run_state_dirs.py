"""The expert run's numbered state directories are staged and renamed like every output,
without a lock file of their own (one beside each ``state-NNNNN`` would outlive a kill)."""

from __future__ import annotations

import pytest

from generators.expert.run import _write_dir_atomic


def test_a_state_directory_replaces_the_older_one_and_leaves_nothing_beside_it(tmp_path):
    final = tmp_path / "state-00003"

    def fill(files):
        def write(directory):
            for name, text in files.items():
                (directory / name).write_text(text)
        return write

    _write_dir_atomic(final, fill({"a.json": "1", "b.json": "2"}))
    _write_dir_atomic(final, fill({"a.json": "3"}))
    assert sorted(p.name for p in final.iterdir()) == ["a.json"]
    assert (final / "a.json").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state-00003"]


def test_a_failure_while_filling_keeps_the_older_directory_and_removes_the_staging(tmp_path):
    final = tmp_path / "state-00001"
    _write_dir_atomic(final, lambda d: (d / "weights").write_text("old"))

    def broken(directory):
        (directory / "weights").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _write_dir_atomic(final, broken)
    assert (final / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state-00001"]
