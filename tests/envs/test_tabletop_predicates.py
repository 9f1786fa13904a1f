"""Goal predicates of the tabletop backend: each one true and false on hand-placed scenes."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from diffrl_eval.envs.tabletop.env import TabletopEnv
from diffrl_eval.envs.tabletop.objects import DRAWER_TRAVEL
from diffrl_eval.envs.tabletop.predicates import All, Closed, In, LeftOf, On, Open, RightOf
from diffrl_eval.envs.tabletop.scene import SceneLayout
from diffrl_eval.envs.tabletop.tasks import TASKS

RED, BLUE, PLATE, BOWL, CABINET = "red_cube", "blue_cube", "white_plate", "yellow_bowl", \
    "brown_cabinet"
PLATE_XY, BOWL_XY = (0.1, -0.18), (-0.1, -0.18)


class Scene:
    """The goal-suite scene with objects put exactly where a test says."""

    def __init__(self, opening: float = 0.0) -> None:
        self.env = TabletopEnv(TASKS["goal_open_drawer"])
        placement = [-0.1, 0.1, 0.0, -0.1, 0.0, 0.0, *PLATE_XY, 0.0, *BOWL_XY, 0.0,
                     0.2, 0.15, 0.0, opening]
        self.env.set_init_state(np.array(placement))
        self.state = self.env.privileged_state()

    def move(self, name: str, x: float, y: float, z: float) -> Scene:
        adr = self.env.model.joint(f"{name}_joint").qposadr[0]
        self.env.data.qpos[adr:adr + 3] = (x, y, z)
        mujoco.mj_forward(self.env.model, self.env.data)
        return self

    def holds(self, predicate) -> bool:
        return predicate.holds(self.state)


def test_on_holds_for_a_cube_resting_on_the_plate():
    # plate top is 8 mm above the table; a 4 cm cube rests with its centre 2 cm higher
    assert Scene().move(RED, *PLATE_XY, 0.008 + 0.02).holds(On(RED, PLATE))


def test_on_fails_for_a_cube_beside_the_plate_or_hovering_above_it():
    assert not Scene().move(RED, PLATE_XY[0] + 0.09, PLATE_XY[1], 0.02).holds(On(RED, PLATE))
    assert not Scene().move(RED, *PLATE_XY, 0.028 + 0.05).holds(On(RED, PLATE))


def test_on_holds_for_a_cube_stacked_on_another_cube_only_when_on_top():
    scene = Scene().move(BLUE, 0.0, 0.0, 0.02).move(RED, 0.005, -0.004, 0.06)
    assert scene.holds(On(RED, BLUE))
    assert not scene.holds(On(BLUE, RED))
    assert not Scene().move(BLUE, 0.0, 0.0, 0.02).move(RED, 0.06, 0.0, 0.02).holds(On(RED, BLUE))


def test_in_holds_for_a_cube_on_the_bowl_floor():
    assert Scene().move(RED, BOWL_XY[0] + 0.02, BOWL_XY[1], 0.004 + 0.02).holds(In(RED, BOWL))


def test_in_fails_outside_the_walls_and_above_the_rim():
    assert not Scene().move(RED, BOWL_XY[0], BOWL_XY[1] + 0.1, 0.02).holds(In(RED, BOWL))
    assert not Scene().move(RED, *BOWL_XY, 0.12).holds(In(RED, BOWL))


@pytest.mark.parametrize(("opening", "is_open", "is_closed"), [
    (0.0, False, True),
    (0.5 * DRAWER_TRAVEL, False, False),
    (DRAWER_TRAVEL, True, False),
])
def test_drawer_open_and_closed_follow_the_slide_position(opening, is_open, is_closed):
    scene = Scene(opening=opening)
    joint = SceneLayout.drawer_joint(TASKS["goal_open_drawer"].spec(CABINET))
    assert scene.env.data.qpos[scene.env.model.joint(joint).qposadr[0]] == pytest.approx(opening)
    assert scene.holds(Open(CABINET)) is is_open
    assert scene.holds(Closed(CABINET)) is is_closed


def test_left_of_and_right_of_use_the_agent_view_sides():
    # +y is the camera's left
    left = Scene().move(BLUE, PLATE_XY[0], PLATE_XY[1] + 0.1, 0.02)
    assert left.holds(LeftOf(BLUE, PLATE))
    assert not left.holds(RightOf(BLUE, PLATE))
    right = Scene().move(BLUE, -0.1, 0.0, 0.02)  # right of the red cube at y = 0.1
    assert right.holds(RightOf(BLUE, RED))
    assert not right.holds(LeftOf(BLUE, RED))


def test_left_of_fails_when_too_close_far_behind_or_lifted():
    assert not Scene().move(BLUE, PLATE_XY[0], PLATE_XY[1] + 0.03, 0.02).holds(
        LeftOf(BLUE, PLATE))
    assert not Scene().move(BLUE, PLATE_XY[0] - 0.2, PLATE_XY[1] + 0.1, 0.02).holds(
        LeftOf(BLUE, PLATE))
    assert not Scene().move(BLUE, PLATE_XY[0], PLATE_XY[1] + 0.1, 0.1).holds(
        LeftOf(BLUE, PLATE))


def test_all_holds_only_when_every_part_holds():
    scene = Scene(opening=DRAWER_TRAVEL).move(RED, *PLATE_XY, 0.028)
    assert scene.holds(All((Open(CABINET), On(RED, PLATE))))
    assert not scene.holds(All((Open(CABINET), On(BLUE, PLATE))))


def test_predicates_name_the_objects_they_refer_to():
    assert All((In(RED, BOWL), Open(CABINET))).objects() == (RED, BOWL, CABINET)
