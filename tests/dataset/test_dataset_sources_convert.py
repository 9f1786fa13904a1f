"""Datasets of other formats become this tool's for training, comparing and exporting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from diffrl_eval import constants as C
from diffrl_eval.dataset import load_dataset
from diffrl_eval.dataset.sources import open_source
from diffrl_eval.dataset.sources.convert import native_path, write_native
from diffrl_eval.errors import DatasetError
from tests.dataset.source_fixtures import write_lerobot_v3


def test_lerobot_libero_layout_converts_to_the_same_frames(toy_dataset, tmp_path):
    v3 = write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    out = write_native(open_source(v3), tmp_path / "native", backend="tabletop")
    original = load_dataset(toy_dataset).frames_df
    converted = load_dataset(out)
    assert converted.control_hz == 20  # LIBERO's controller rate, not the declared fps 10
    assert converted.manifest["converted_from"]["format"] == "lerobot v3.0"
    for column in (C.COL_STATE, C.COL_EEF_POS, C.COL_ACTION):
        np.testing.assert_array_equal(converted.frames_df[column].to_numpy(),
                                      original[column].to_numpy())
    assert converted.frames_df[C.COL_SUCCESS].to_list() == original[C.COL_SUCCESS].to_list()
    # tabletop's tasks do not carry these instructions: the dataset's own ids are kept
    assert set(converted.frames_df[C.COL_INSTRUCTION]) == set(original[C.COL_INSTRUCTION])


def test_native_dataset_is_used_in_place(toy_dataset, tmp_path):
    assert native_path(toy_dataset, tmp_path) == (toy_dataset, False)


def test_joint_space_dataset_cannot_be_converted(toy_dataset, tmp_path):
    v3 = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    info = json.loads((v3 / "meta/info.json").read_text())
    info["features"]["action"]["names"] = None
    (v3 / "meta/info.json").write_text(json.dumps(info))
    opened = open_source(v3)
    broken = type(opened)(opened.source, opened.semantics.__class__(
        None, 20.0, None, "absolute", False))
    with pytest.raises(DatasetError, match="cannot be used here"):
        write_native(broken, tmp_path / "native", backend="tabletop")


def test_export_reads_a_lerobot_directory(toy_dataset, tmp_path, capsys):
    v3 = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    out = tmp_path / "hdf5"
    code, stdout, err = run_cli(["export", v3, out, "--format", "libero-hdf5"], capsys)
    assert code == 0, err
    assert len(list(out.glob("*.hdf5"))) == 2  # one file per task


def test_a_conversion_is_staged_beside_the_output_and_a_killed_ones_left_over_is_removed(
        toy_dataset, tmp_path, capsys, monkeypatch):
    from diffrl_eval.atomic import final_name, staging_name
    from diffrl_eval.dataset.sources import convert

    written = []

    def recording_write_native(opened, path, **kwargs):
        written.append(path)
        return write_native(opened, path, **kwargs)

    monkeypatch.setattr(convert, "write_native", recording_write_native)

    v3 = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    exports = tmp_path / "exports"
    out = exports / "hdf5"
    # what a kill -9 during the conversion leaves: a staging place of the output
    left_over = staging_name(out)
    (left_over / "converted-v3").mkdir(parents=True)
    code, _, err = run_cli(["export", v3, out, "--format", "libero-hdf5"], capsys)
    assert code == 0, err
    # converted in a staging place of the output (which the next run into it would remove
    # after a kill -9), not in a temporary folder elsewhere
    assert [final_name(path.parent) for path in written] == [out]
    assert sorted(p.name for p in exports.iterdir()) == ["hdf5"]  # nothing else, no lock
    # a native dataset needs no conversion: no staging place is made for it
    code, _, err = run_cli(["export", toy_dataset, exports / "again", "--format",
                            "libero-hdf5"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in exports.iterdir()) == ["again", "hdf5"]


def test_export_of_an_unknown_folder_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    code, _, err = run_cli(["export", tmp_path / "junk", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "not a dataset of a known format")
    assert not (tmp_path / "out").exists()
