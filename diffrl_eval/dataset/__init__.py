"""Datasets: the in-memory episode, the one writer, the validating reader."""

from diffrl_eval.dataset.episode import Episode, action_chunks
from diffrl_eval.dataset.reader import Dataset, load_dataset, validate_frames
from diffrl_eval.dataset.writer import DatasetWriter, check_output_path, write_dataset

__all__ = [
    "Dataset",
    "DatasetWriter",
    "Episode",
    "action_chunks",
    "check_output_path",
    "load_dataset",
    "validate_frames",
    "write_dataset",
]
