"""Every dataset format the tool reads gives the same metrics for the same episodes."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from diffrl_eval.dataset import load_dataset
from diffrl_eval.dataset.sources import Declared, open_source, source_names
from diffrl_eval.errors import DatasetError, UserError
from diffrl_eval.metrics.source_metrics import measure_source
from tests.dataset.source_fixtures import write_lerobot_v3, write_lerobot_v21, write_robomimic

COMPARED = ("success", "trajectory_length", "no_op_count", "no_op_fraction",
            "mean_squared_jerk", "log_dimensionless_jerk", "action_variance")


def _overall(result):
    return {key: result["overall"][key] for key in COMPARED}


def _close(a, b):
    for key in COMPARED:
        left, right = a[key], b[key]
        if isinstance(left, dict):
            for stat in left:
                assert left[stat] == pytest.approx(right[stat], rel=1e-5, abs=1e-9), (key, stat)
        else:
            assert left == pytest.approx(right, rel=1e-5, abs=1e-9), key


@pytest.fixture
def native_result(toy_dataset):
    return measure_source(open_source(toy_dataset))


def test_native_dataset_keeps_its_metrics_and_discloses_its_semantics(toy_dataset, native_result):
    from diffrl_eval.metrics import compute_metrics

    classic = compute_metrics(load_dataset(toy_dataset))
    assert _overall(native_result) == _overall(classic)
    semantics = native_result["semantics"]
    assert semantics["format"] == "diffrl-eval" and semantics["eef_key"] == "eef_pos"
    assert semantics["control_hz"] == 20 and semantics["unavailable"] == {}


def test_lerobot_v21_directory_gives_the_same_metrics(toy_dataset, tmp_path, native_result):
    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    result = measure_source(open_source(path))
    assert result["semantics"]["format"] == "lerobot v2.1"
    assert result["semantics"]["profile"] == "libero"
    assert result["semantics"]["eef_key"] == "observation.state[0:3]"
    _close(_overall(result), _overall(native_result))
    assert result["dataset"]["n_episodes"] == 6


def test_lerobot_v3_directory_uses_liberos_20hz_controller_rate_not_the_declared_fps(
        toy_dataset, tmp_path, native_result):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    result = measure_source(open_source(path))
    semantics = result["semantics"]
    assert semantics["format"] == "lerobot v3.0" and semantics["declared_fps"] == 10
    assert semantics["control_hz"] == 20
    assert "20 Hz" in semantics["decided_by"]["control_hz"] and "fps 10" in semantics["decided_by"]["control_hz"]
    _close(_overall(result), _overall(native_result))


def test_declared_control_rate_scales_mean_squared_jerk_by_the_sixth_power(toy_dataset, tmp_path):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    at_20 = measure_source(open_source(path))["overall"]["mean_squared_jerk"]["mean"]
    at_10 = measure_source(open_source(path, Declared(control_hz=10)))
    assert at_10["semantics"]["decided_by"]["control_hz"] == "declared"
    assert at_20 / at_10["overall"]["mean_squared_jerk"]["mean"] == pytest.approx(64)


def test_lerobot_export_of_this_tool_reads_back_with_its_provenance(toy_dataset, tmp_path, native_result):
    from diffrl_eval.export.lerobot import export_lerobot

    path = export_lerobot(toy_dataset, tmp_path / "export", show_progress=False)
    result = measure_source(open_source(path))
    assert result["semantics"]["profile"] == "diffrl-eval"
    assert result["dataset"]["source"] == "human" and result["dataset"]["suite"] == "toy-suite"
    assert set(result["per_task"]) == set(native_result["per_task"])
    _close(_overall(result), _overall(native_result))


def test_robomimic_file_gives_the_same_metrics(toy_dataset, tmp_path, native_result):
    path = write_robomimic(toy_dataset, tmp_path / "robomimic")
    result = measure_source(open_source(path))
    semantics = result["semantics"]
    assert semantics["profile"] == "robomimic" and semantics["eef_key"] == "robot0_eef_pos"
    assert semantics["success"] == "recorded"
    assert semantics["decided_by"]["control_hz"].startswith("profile robomimic: env_args")
    _close(_overall(result), _overall(native_result))


def test_robomimic_read_through_spilled_parts_gives_the_same_metrics_and_cleans_up(
        toy_dataset, tmp_path, native_result, monkeypatch):
    from diffrl_eval.dataset.sources import base

    path = write_robomimic(toy_dataset, tmp_path / "robomimic")
    monkeypatch.setattr(base, "SPILL_ROWS", 40)  # a part after every two episodes
    opened = open_source(path)
    parts = opened.source.parts
    assert parts is not None and len(parts) >= 3
    assert sum(rows for _, rows in parts) == opened.frames.height
    folder = opened.source.keepalive.name
    assert sorted(p.name for p in Path(folder).iterdir())[0] == "part-00000.parquet"
    whole = measure_source(opened)
    batched = measure_source(open_source(path), batch_frames=50)
    _close(_overall(whole), _overall(native_result))
    _close(_overall(batched), _overall(native_result))
    assert whole["dataset"]["n_episodes"] == batched["dataset"]["n_episodes"] == 6
    del opened
    gc.collect()
    assert not Path(folder).exists()


def test_v21_whose_info_declares_another_width_than_its_data_is_refused(toy_dataset, tmp_path):
    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    info = json.loads((path / "meta/info.json").read_text())
    info["features"]["observation.state"]["shape"] = [6]
    (path / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="observation.state.*6.*8"):
        open_source(path)


def test_unknown_layout_without_end_effector_computes_no_jerk(toy_dataset, tmp_path):
    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    info = json.loads((path / "meta/info.json").read_text())
    info["features"]["action"]["names"] = [f"joint_{i}" for i in range(6)] + ["gripper"]
    info["features"]["observation.joints"] = info["features"].pop("observation.state")
    (path / "meta/info.json").write_text(json.dumps(info))
    for file in (path / "data").rglob("*.parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(file)
        pq.write_table(table.rename_columns(["observation.joints" if c == "observation.state" else c
                                             for c in table.column_names]), file)
    result = measure_source(open_source(path))
    semantics = result["semantics"]
    assert semantics["profile"] is None and semantics["eef_key"] is None
    assert semantics["gripper_index"] == 6  # from the action's dimension names
    assert set(semantics["unavailable"]) == {"mean_squared_jerk", "log_dimensionless_jerk",
                                             "no_op_count", "no_op_fraction"}
    assert result["overall"]["mean_squared_jerk"]["mean"] is None
    assert result["overall"]["no_op_count"] is None
    assert result["overall"]["action_variance"] is not None
    # declaring the end-effector brings jerk back
    declared = measure_source(open_source(path, Declared(eef_key="observation.joints[0:3]",
                                                         action_kind="delta")))
    assert declared["overall"]["mean_squared_jerk"]["mean"] is not None
    assert declared["overall"]["no_op_count"] is not None


@pytest.mark.parametrize("key, fragment", [
    ("observation.nothing", "no feature 'observation.nothing'"),
    ("observation.state[0:2]", "selects 2"),
    ("observation.state[0:3", "expected FEATURE"),
])
def test_bad_eef_key_is_refused(toy_dataset, tmp_path, key, fragment):
    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")):
        open_source(path, Declared(eef_key=key))


def test_non_positive_control_rate_is_refused():
    with pytest.raises(UserError, match="--control-hz"):
        Declared(control_hz=0)


def test_v3_with_a_missing_data_file_is_refused(toy_dataset, tmp_path):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", episodes_per_file=2)
    (path / "data/chunk-000/file-001.parquet").unlink()
    with pytest.raises(DatasetError, match="file-001.parquet is missing"):
        open_source(path)


def test_v3_with_inconsistent_info_is_refused(toy_dataset, tmp_path):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    info = json.loads((path / "meta/info.json").read_text())
    info["total_frames"] += 1
    (path / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="total_frames"):
        open_source(path)


def test_unknown_directory_names_the_formats_tried(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DatasetError) as caught:
        open_source(tmp_path / "stuff")
    for name in source_names():
        assert name in str(caught.value)


def test_copy_of_a_native_dataset_without_manifest_keeps_the_precise_error(toy_dataset, tmp_path):
    copy = shutil.copytree(toy_dataset, tmp_path / "copy")
    (copy / "manifest.json").unlink()
    with pytest.raises(DatasetError, match="no manifest.json"):
        open_source(copy)


def test_measuring_in_batches_of_data_files_gives_the_one_batch_results(toy_dataset, tmp_path):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", episodes_per_file=2)
    whole = measure_source(open_source(path))
    batched = measure_source(open_source(path), batch_frames=30)  # about one file per batch
    _close(_overall(batched), _overall(whole))
    assert batched["episodes"] == whole["episodes"]
    assert batched["action_variance_curves"].keys() == whole["action_variance_curves"].keys()
    for task, curve in whole["action_variance_curves"].items():
        np.testing.assert_allclose(batched["action_variance_curves"][task]["variance"],
                                   curve["variance"], rtol=1e-9, atol=1e-12)
    # action jumps are judged per batch; every other check is the same
    for key in ("non_finite_rows", "zero_variance_dims", "clipped_dims", "idle",
                "timestamps", "near_duplicates", "diversity"):
        assert batched["quality"][key] == whole["quality"][key], key


def test_dimension_statistics_merge_as_if_computed_at_once():
    from diffrl_eval.metrics.quality import DimensionStats, dimension_checks

    rng = np.random.default_rng(0)
    actions = np.clip(rng.normal(0, 1, (3, 200)), -1, 1)
    actions[1] = np.where(rng.random(200) < 0.5, -1.0, 1.0)
    merged = DimensionStats.of(actions[:, :70]).merge(DimensionStats.of(actions[:, 70:]))
    assert dimension_checks(merged) == dimension_checks(actions)


def test_a_3_wide_feature_named_like_an_end_effector_position_is_used(toy_dataset, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    info = json.loads((path / "meta/info.json").read_text())
    info["features"]["observation.state"]["shape"] = [5]  # no longer LIBERO's layout
    info["features"]["observation.ee_pos"] = {"dtype": "float32", "shape": [3], "names": None}
    (path / "meta/info.json").write_text(json.dumps(info))
    for file in (path / "data").rglob("*.parquet"):
        table = pq.read_table(file)
        state = np.stack(table["observation.state"].to_numpy(zero_copy_only=False))
        index = table.schema.get_field_index("observation.state")
        table = table.set_column(index, "observation.state", pa.FixedSizeListArray.from_arrays(
            pa.array(state[:, :5].reshape(-1)), 5))
        pq.write_table(table.append_column("observation.ee_pos", pa.FixedSizeListArray.from_arrays(
            pa.array(state[:, :3].reshape(-1)), 3)), file)
    opened = open_source(path)
    assert opened.source.profile is None
    assert str(opened.semantics.eef) == "observation.ee_pos"
    assert "named like" in opened.semantics.sources["eef_key"]


def test_a_missing_local_path_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(DatasetError, match="dataset not found: runs/human"):
        open_source("runs/human")


def test_a_damaged_data_file_is_a_one_line_error(toy_dataset, tmp_path):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", episodes_per_file=2)
    file = path / "data/chunk-000/file-001.parquet"
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(DatasetError, match="file-001.parquet: unreadable Parquet"):
        open_source(path)


def test_v21_episode_rows_without_their_index_are_a_one_line_error(toy_dataset, tmp_path):
    path = write_lerobot_v21(toy_dataset, tmp_path / "v21")
    (path / "meta/episodes.jsonl").write_text('{"tasks": ["x"], "length": 3}\n' * 6)
    with pytest.raises(DatasetError, match="episode_index"):
        open_source(path)


def test_libero_hdf5_read_directly_gives_the_metrics_of_its_import(tmp_path):
    from diffrl_eval.export.libero_import import import_libero_hdf5
    from tests.export.libero_demo_files import random_demo, write_libero_file

    rng = np.random.default_rng(0)
    folder = tmp_path / "libero_spatial"
    folder.mkdir()
    write_libero_file(folder / "PUT_BOWL_ON_PLATE_demo.hdf5",
                      [random_demo(rng, 12) for _ in range(3)])
    write_libero_file(folder / "PICK_BOWL_demo.hdf5", [random_demo(rng, 9) for _ in range(3)],
                      instruction="pick up the bowl",
                      bddl="chiliocosm/bddl_files/libero_spatial/PICK_BOWL.bddl")
    imported = import_libero_hdf5(sorted(folder.glob("*.hdf5")), tmp_path / "imported",
                                  show_progress=False)
    direct = measure_source(open_source(folder))
    semantics = direct["semantics"]
    assert semantics["format"] == "robomimic (LIBERO)" and semantics["profile"] == "libero"
    assert semantics["eef_key"] == "ee_pos" and semantics["control_hz"] == 20
    assert set(direct["per_task"]) == {"PUT_BOWL_ON_PLATE", "PICK_BOWL"}
    _close(_overall(direct), _overall(measure_source(open_source(imported.path))))
    from diffrl_eval.dataset.sources.convert import write_native

    converted = load_dataset(write_native(open_source(folder), tmp_path / "converted",
                                          backend="tabletop"))
    np.testing.assert_allclose(converted.frames_df["state"].to_numpy(),
                               load_dataset(imported.path).frames_df["state"].to_numpy(), rtol=1e-6)
