"""Action chunks of a recorded episode: what the experts' behaviour cloning and the VLA's
training samples both predict."""

from __future__ import annotations

import numpy as np

from diffrl_eval.dataset import action_chunks


def test_action_chunks_repeat_the_last_action_past_the_end_of_the_episode():
    actions = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])  # (T=3, Da=2)
    chunks = action_chunks(actions, 2)  # (T, Ta=2, Da)
    expected = np.array([[[0, 10], [1, 11]], [[1, 11], [2, 12]], [[2, 12], [2, 12]]])
    np.testing.assert_array_equal(chunks, expected)
