"""This tool's own dataset directories (``manifest.json`` + ``frames.parquet``)."""

from __future__ import annotations

from pathlib import Path

from diffrl_eval import constants as C
from diffrl_eval.dataset.format import FRAMES_NAME, MANIFEST_NAME, VECTOR_COLUMNS
from diffrl_eval.dataset.sources.base import DELTA, DatasetSource, Profile, SourceFrames
from diffrl_eval.registry import dataset_sources

NATIVE_FORMAT = "diffrl-eval"


def native_profile(control_hz: float, reason: str) -> Profile:
    """The layout of this tool's frames: eef_pos, delta actions, gripper last (LIBERO's)."""
    return Profile(
        name=NATIVE_FORMAT,
        reason=reason,
        eef_key=C.COL_EEF_POS,
        control_hz=control_hz,
        control_hz_reason="the dataset's manifest (control_hz)",
        gripper_index=C.GRIPPER_ACTION_INDEX,
        action_kind=DELTA,
        state_keys=(C.COL_STATE,),
    )


@dataset_sources.register(NATIVE_FORMAT)
class NativeSource(DatasetSource):
    """diffrl-eval dataset directory (manifest.json + frames.parquet)."""

    @classmethod
    def recognizes(cls, location: str) -> bool:
        path = Path(location)
        # either file: a damaged dataset of ours gets its own precise error
        return (path / MANIFEST_NAME).is_file() or (path / FRAMES_NAME).is_file()

    @classmethod
    def read(cls, location: str) -> SourceFrames:
        from diffrl_eval.dataset.reader import load_dataset

        dataset = load_dataset(location)
        return SourceFrames(
            location=str(dataset.path),
            format=NATIVE_FORMAT,
            frames=dataset.frames_df.lazy(),
            features=dict(VECTOR_COLUMNS),
            declared_fps=float(dataset.control_hz),
            profile=native_profile(float(dataset.control_hz), f"{MANIFEST_NAME} of this tool"),
            dataset=dataset,
        )

