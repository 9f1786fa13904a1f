"""Dataset sources: every format the tool reads, behind one interface.

Built-in formats register themselves in ``registry.dataset_sources`` when this package is
imported; third parties add theirs through the ``diffrl_eval.dataset_sources`` entry-point
group (the value: a :class:`DatasetSource` subclass). :func:`open_source` tries the formats
in order (the built-ins first) and reads the first that recognizes the location; a
location that none recognizes is a one-line error naming the formats tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from diffrl_eval.dataset.sources import hub, lerobot, native, rlds, robomimic
from diffrl_eval.dataset.sources.base import DatasetSource, Profile, SourceFrames
from diffrl_eval.dataset.sources.semantics import (
    Declared,
    FeatureSlice,
    Semantics,
    measurement_frames,
    read_mapping,
    resolve_semantics,
)
from diffrl_eval.errors import DatasetError, unknown_choice
from diffrl_eval.registry import dataset_sources

BUILT_IN_ORDER = (native.NATIVE_FORMAT, lerobot.LEROBOT_FORMAT, robomimic.ROBOMIMIC_FORMAT,
                  rlds.RLDS_FORMAT, hub.HUB_FORMAT)


def source_names() -> list[str]:
    """Every registered format, the built-ins first in the order they are tried."""
    names = dataset_sources.names()
    return [n for n in BUILT_IN_ORDER if n in names] + [n for n in names if n not in BUILT_IN_ORDER]


def detect_source(location: str) -> type[DatasetSource]:
    """The first format that recognizes ``location``."""
    names = source_names()
    for name in names:
        source = dataset_sources.load(name)
        if source.recognizes(location):
            return source
    if not Path(location).exists():
        hint = ("neither a path nor a Hub id OWNER/NAME" if hub.parse_repo_id(location) is None
                else f"no such path; not read as a Hub id since {Path(location).parent}/ is a "
                     "local folder")
        raise DatasetError(f"dataset not found: {location} ({hint})")
    raise DatasetError(f"{location}: not a dataset of a known format (tried: {', '.join(names)})")


@dataclass
class OpenedDataset:
    """A dataset of any format with its resolved semantics: what the metrics consume."""

    source: SourceFrames
    semantics: Semantics

    @cached_property
    def frames(self) -> pl.DataFrame:
        """The measurement frame table (see :func:`semantics.measurement_frames`)."""
        return measurement_frames(self.source, self.semantics)

    def frame_batches(self, max_frames: int):
        """The measurement frames in batches of whole episodes, about ``max_frames`` rows
        each (one batch when the source has no parts or fits)."""
        parts = self.source.parts
        if not parts or sum(rows for _, rows in parts) <= max_frames:
            yield self.frames
            return
        group: list[pl.LazyFrame] = []
        rows_in_group = 0
        for lazy, rows in parts:
            group.append(lazy)
            rows_in_group += rows
            if rows_in_group >= max_frames:
                yield measurement_frames(self.source, self.semantics, pl.concat(group))
                group, rows_in_group = [], 0
        if group:
            yield measurement_frames(self.source, self.semantics, pl.concat(group))

    def disclosure(self) -> dict:
        profile = self.source.profile
        return {"format": self.source.format,
                **self.semantics.disclosure(profile.name if profile else None,
                                            self.source.declared_fps)}


def open_source(location: str | Path, declared: Declared | None = None, *,
                format: str | None = None) -> OpenedDataset:
    """Read ``location`` (path or Hub id) in its format, or in ``format`` when given."""
    location = str(location)
    if format is not None:
        if format not in dataset_sources.names():
            raise unknown_choice("dataset format", format, source_names())
        source = dataset_sources.load(format)
    else:
        source = detect_source(location)
    frames = source.read(location)
    return OpenedDataset(frames, resolve_semantics(frames, declared or Declared()))


__all__ = [
    "DatasetSource",
    "Declared",
    "FeatureSlice",
    "OpenedDataset",
    "Profile",
    "Semantics",
    "SourceFrames",
    "detect_source",
    "open_source",
    "read_mapping",
    "source_names",
]
