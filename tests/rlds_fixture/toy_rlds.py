"""The builder (TFDS finds a builder's files next to its module, hence its own package)."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds


class ToyRlds(tfds.core.GeneratorBasedBuilder):
    """Episodes given as ``EPISODES``: dicts of state (T, 8), action (T, 7), success (T,),
    instruction."""

    VERSION = tfds.core.Version("1.0.0")
    EPISODES: list[dict] = []

    def _info(self):
        step = tfds.features.FeaturesDict({
            "observation": tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(4, 4, 3)),
                "state": tfds.features.Tensor(shape=(8,), dtype=np.float32),
            }),
            "action": tfds.features.Tensor(shape=(7,), dtype=np.float32),
            "reward": tfds.features.Scalar(dtype=np.float32),
            "is_first": np.bool_, "is_last": np.bool_, "is_terminal": np.bool_,
            "language_instruction": tfds.features.Text(),
        })
        return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
            "steps": tfds.features.Dataset(step),
            "episode_metadata": tfds.features.FeaturesDict({"file_path": tfds.features.Text()}),
        }))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for index, episode in enumerate(self.EPISODES):
            n = len(episode["action"])
            yield f"episode_{index:06d}", {
                "steps": [{
                    "observation": {"image": np.zeros((4, 4, 3), np.uint8),
                                    "state": episode["state"][t].astype(np.float32)},
                    "action": episode["action"][t].astype(np.float32),
                    "reward": float(episode["success"][t]),
                    "is_first": t == 0, "is_last": t == n - 1, "is_terminal": t == n - 1,
                    "language_instruction": episode["instruction"],
                } for t in range(n)],
                "episode_metadata": {"file_path": f"episode_{index}"},
            }
