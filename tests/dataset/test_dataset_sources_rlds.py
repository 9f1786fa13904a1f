"""An RLDS dataset written by TensorFlow Datasets' own writer gives the same metrics.

Needs the rlds extra (tensorflow-datasets); skipped without it.
"""

from __future__ import annotations

import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from diffrl_eval import constants as C  # noqa: E402
from diffrl_eval.dataset import load_dataset  # noqa: E402
from diffrl_eval.dataset.sources import open_source  # noqa: E402
from diffrl_eval.metrics.source_metrics import measure_source  # noqa: E402
from tests.dataset.test_dataset_sources import _close, _overall  # noqa: E402


def _write_toy_rlds(toy_dataset, tmp_path):
    from tests.rlds_fixture.toy_rlds import ToyRlds

    frames = load_dataset(toy_dataset).frames_df.sort(C.COL_EPISODE, C.COL_STEP)
    ToyRlds.EPISODES = [
        {"state": rows[C.COL_STATE].to_numpy(), "action": rows[C.COL_ACTION].to_numpy(),
         "success": rows[C.COL_SUCCESS].to_numpy(), "instruction": rows[C.COL_INSTRUCTION][0]}
        for _, rows in frames.group_by(C.COL_EPISODE, maintain_order=True)
    ]
    builder = ToyRlds(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare()
    return tmp_path / "tfds" / "toy_rlds"


@pytest.mark.parametrize("spill_rows", [None, 40], ids=["in-memory", "spilled-parts"])
def test_rlds_dataset_in_openvlas_libero_layout_gives_the_same_metrics(
        toy_dataset, tmp_path, monkeypatch, spill_rows):
    from diffrl_eval.dataset.sources import base

    if spill_rows is not None:  # episodes of 20-25 steps: a Parquet part every two
        monkeypatch.setattr(base, "SPILL_ROWS", spill_rows)
    opened = open_source(_write_toy_rlds(toy_dataset, tmp_path))
    assert (opened.source.parts is None) == (spill_rows is None)
    result = measure_source(opened)
    native = measure_source(open_source(toy_dataset))
    semantics = result["semantics"]
    assert semantics["format"] == "rlds (toy_rlds 1.0.0)" and semantics["profile"] == "libero"
    assert semantics["eef_key"] == "observation/state[0:3]" and semantics["control_hz"] == 20
    assert result["dataset"]["n_episodes"] == 6
    _close(_overall(result), _overall(native))
