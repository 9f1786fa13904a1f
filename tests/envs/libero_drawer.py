"""LIBERO's KITCHEN_SCENE10 (libero_90) for the replay, round-trip and cloning tests: its
env as a module-scoped fixture, and a scripted operator that closes the cabinet's open top
drawer."""

from __future__ import annotations

import numpy as np
import pytest

from diffrl_eval import constants as C
from diffrl_eval.envs.base import get_backend

TASK = "KITCHEN_SCENE10_close_the_top_drawer_of_the_cabinet"


def drawer_env_fixture():
    """A module-scoped fixture: hf-libero's env of ``TASK``, closed after the module.
    Use as ``env = drawer_env_fixture()`` in a test module (needs the libero extra)."""

    @pytest.fixture(scope="module")
    def env():
        env = get_backend("libero").make_env(TASK)
        yield env
        env.close()

    return env


def drawer_push(env):
    """Above the open drawer's front, down to its height, then push it shut."""
    waypoints, target = [], [0]

    def policy(obs, _step):
        if not waypoints:  # the drawer is where this episode's reset put it
            drawer = env.libero_env.object_states_dict["wooden_cabinet_1_top_region"]
            x = drawer.get_geom_state()["pos"][0]
            waypoints.extend([np.array([x, 0.06, 1.20]), np.array([x, 0.06, 1.06]),
                              np.array([x, -0.25, 1.06])])
        error = waypoints[target[0]] - obs[C.OBS_EEF_POS]
        if np.linalg.norm(error) < 0.01 and target[0] < len(waypoints) - 1:
            target[0] += 1
            error = waypoints[target[0]] - obs[C.OBS_EEF_POS]
        action = np.zeros(7)
        action[:3] = np.clip(10 * error, -1, 1)
        action[6] = 1.0
        return action

    return policy
