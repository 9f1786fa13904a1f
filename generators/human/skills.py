"""Scripted skills of the simulated teleoperator: one per kind of goal predicate.

A skill is a Python generator of :class:`Waypoint` s. It is lazy on purpose: each
waypoint is computed from the privileged state at the moment the previous one is
reached, so targets follow objects that moved (a cube that slipped, a drawer that is
half open), and a skill can check its own result and try again, as a person would.

Only the tabletop backend's public privileged accessor is used
(:class:`~diffrl_eval.envs.tabletop.PrivilegedState`): object poses, drawer openings,
handle positions, object sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from diffrl_eval.envs.tabletop.objects import DRAWER_TRAVEL, Kind
from diffrl_eval.envs.tabletop.predicates import (
    Closed,
    In,
    LeftOf,
    On,
    Open,
    Predicate,
    RightOf,
)
from diffrl_eval.envs.tabletop.privileged import PrivilegedState

OPEN, CLOSE = -1.0, 1.0
CARRY_HEIGHT = 0.15  # grasp-point height for moving between places
SIDE_OFFSET = 0.11  # how far beside an anchor "left of" / "right of" puts things
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Waypoint:
    """Where the operator wants the grasp point, at which yaw, with which gripper command.

    ``tolerance`` (metres) says when it is reached; ``settle`` is how many steps to keep
    still once there (closing or opening the gripper takes a moment); ``transport``
    marks free-space moves where a person may overshoot.
    """

    position: tuple[float, float, float]
    yaw: float
    grip: float
    tolerance: float = 0.01
    settle: int = 0
    transport: bool = False
    done: Callable[[], bool] | None = None  # reached early when this holds (a push)


@dataclass(frozen=True)
class Strategy:
    """The multi-modal choices of one demonstration.

    ``grasp_yaw_mode`` 0 aligns the fingers with the object's faces, 1 turns them a
    quarter turn (a cube is grasped across the other pair of faces), 2 a diagonal grasp
    of round objects; ``approach_side`` -1/0/+1 detours right / goes straight / detours
    left on the way to the object; ``reverse_order`` does the sub-goals of a two-stage
    task in reverse.
    """

    grasp_yaw_mode: int
    approach_side: int
    reverse_order: bool


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def grasp_yaw(state: PrivilegedState, item: str, mode: int) -> float:
    """Gripper yaw for grasping ``item``: square objects across faces, within +-pi/2."""
    spec = state.objects[item]
    if spec.kind is Kind.CAN:
        base = (0.0, np.pi / 4, -np.pi / 4)[mode % 3]
    else:
        base = state.yaw(item) + (np.pi / 2 if mode % 2 else 0.0)
    yaw = _wrap(base)
    # a parallel gripper is symmetric under a half turn: take the smaller rotation
    if yaw > np.pi / 2:
        yaw -= np.pi
    elif yaw < -np.pi / 2:
        yaw += np.pi
    return yaw


def _grasp_height(state: PrivilegedState, item: str) -> float:
    spec = state.objects[item]
    centre = float(state.position(item)[2])
    return centre + 0.003 if spec.kind is Kind.CUBE else centre + 0.006


def _place_spot(state: PrivilegedState, goal: Predicate, slot: float) -> tuple[float, float, float]:
    """Grasp-point position at which to let go of the goal's item."""
    item = state.objects[goal.item]
    hang = item.geometry.half_height + 0.006  # centre above the surface it lands on
    if isinstance(goal, On):
        support = state.objects[goal.support]
        x, y, z = state.position(goal.support)
        top = z + (support.geometry.half_height if support.movable else support.top_height())
        return (x, y + slot, top + hang)
    if isinstance(goal, In):
        container = state.objects[goal.container]
        x, y, z = state.position(goal.container)
        return (x, y + slot, z + container.geometry.base + hang + 0.004)
    if isinstance(goal, LeftOf | RightOf):
        x, y, _ = state.position(goal.anchor)
        side = 1.0 if isinstance(goal, LeftOf) else -1.0
        spot_y = y + side * SIDE_OFFSET
        others = [n for n in state.objects if n not in (goal.item, goal.anchor)]
        for extra in (0.0, 0.03, 0.06):  # step further out if something is in the way
            spot_y = y + side * (SIDE_OFFSET + extra)
            if all(np.hypot(*(state.position(n)[:2] - (x, spot_y))) > 0.08 for n in others):
                break
        return (x, float(np.clip(spot_y, -0.3, 0.3)), item.geometry.half_height + 0.004)
    raise ValueError(f"no placing skill for {type(goal).__name__}")


def pick_and_place(state: PrivilegedState, goal: Predicate, strategy: Strategy,
                   slot: float = 0.0) -> Iterator[Waypoint]:
    """Grasp ``goal.item`` and put it where ``goal`` wants it; retry what failed."""
    item = goal.item
    for _ in range(MAX_ATTEMPTS):
        yaw = grasp_yaw(state, item, strategy.grasp_yaw_mode)
        target = state.position(item).copy()
        eef = state.eef_position()
        if strategy.approach_side:
            mid = 0.5 * (eef[:2] + target[:2]) + (0.0, 0.08 * strategy.approach_side)
            yield Waypoint((mid[0], mid[1], CARRY_HEIGHT), yaw, OPEN, 0.03, transport=True)
        # hover with the finger tips well clear of the object's top before descending
        spec = state.objects[item]
        hover = max(CARRY_HEIGHT - 0.04, float(target[2]) + spec.geometry.half_height + 0.07)
        yield Waypoint((target[0], target[1], hover), yaw, OPEN, 0.012, transport=True)
        target = state.position(item)
        yield Waypoint((target[0], target[1], _grasp_height(state, item)), yaw, OPEN, 0.005)
        yield Waypoint(tuple(state.eef_position()), yaw, CLOSE, 0.01, settle=6)
        lift = state.eef_position()
        yield Waypoint((lift[0], lift[1], CARRY_HEIGHT), yaw, CLOSE, 0.015)
        if float(state.position(item)[2]) < CARRY_HEIGHT - 0.06:
            yield Waypoint(tuple(state.eef_position()), yaw, OPEN, 0.02, settle=3)
            continue  # it slipped: open up and grasp again
        spot = _place_spot(state, goal, slot)
        yield Waypoint((spot[0], spot[1], CARRY_HEIGHT), yaw, CLOSE, 0.015, transport=True)
        spot = _place_spot(state, goal, slot)
        yield Waypoint(spot, yaw, CLOSE, 0.006)
        yield Waypoint(tuple(state.eef_position()), yaw, OPEN, 0.01, settle=4)
        up = state.eef_position()
        yield Waypoint((up[0], up[1], up[2] + 0.07), yaw, OPEN, 0.02)
        if goal.holds(state):
            return


def operate_drawer(state: PrivilegedState, goal: Open | Closed,
                   strategy: Strategy) -> Iterator[Waypoint]:
    """Pull the drawer out by its handle, or push it shut."""
    cabinet = goal.cabinet
    for _ in range(MAX_ATTEMPTS):
        handle = state.handle_position(cabinet)
        hx, hy, hz = handle
        if strategy.approach_side:
            eef = state.eef_position()
            mid = 0.5 * (eef[:2] + handle[:2]) + (-0.04, 0.06 * strategy.approach_side)
            yield Waypoint((mid[0], mid[1], CARRY_HEIGHT), 0.0, OPEN, 0.03, transport=True)
        if isinstance(goal, Open):
            yield Waypoint((hx, hy, hz + 0.08), 0.0, OPEN, 0.01, transport=True)
            # a little below the handle centre keeps the palm clear of the cabinet top
            yield Waypoint((hx, hy, hz - 0.004), 0.0, OPEN, 0.005)
            yield Waypoint(tuple(state.eef_position()), 0.0, CLOSE, 0.01, settle=6)
            remaining = DRAWER_TRAVEL - state.drawer_opening(cabinet)
            pull = state.eef_position() - (remaining + 0.01, 0.0, 0.0)
            yield Waypoint(tuple(pull), 0.0, CLOSE, 0.008, done=lambda: state.drawer_opening(
                cabinet) >= DRAWER_TRAVEL - 0.004)
            yield Waypoint(tuple(state.eef_position()), 0.0, OPEN, 0.01, settle=4)
        else:
            # push with closed fingers on the handle, or beside it on the drawer front
            offset = 0.0 if strategy.grasp_yaw_mode % 2 == 0 else 0.025 * (
                1 if strategy.approach_side >= 0 else -1)
            # beside the handle the palm enters the cabinet: go low to clear its top
            push_z = hz if offset == 0.0 else hz - 0.012
            start_x = hx - 0.05
            yield Waypoint((start_x, hy + offset, push_z + 0.08), 0.0, CLOSE, 0.012,
                           transport=True)
            yield Waypoint((start_x, hy + offset, push_z), 0.0, CLOSE, 0.006)
            closed_x = hx + state.drawer_opening(cabinet)
            # aim past the closed position and stop when the drawer is shut
            yield Waypoint((closed_x + 0.03, hy + offset, push_z), 0.0, CLOSE, 0.004,
                           done=lambda: goal.holds(state))
            # back straight out before anything else, so nothing drags the drawer along
            away = state.eef_position()
            yield Waypoint((away[0] - 0.05, away[1], away[2]), 0.0, CLOSE, 0.01)
        back = state.eef_position()
        yield Waypoint((back[0] - 0.04, back[1], back[2] + 0.08), 0.0, OPEN, 0.02)
        if goal.holds(state):
            return


def skill_for(state: PrivilegedState, goal: Predicate, strategy: Strategy,
              slot: float = 0.0) -> Iterator[Waypoint]:
    """The scripted skill that achieves one (non-compound) goal predicate."""
    if isinstance(goal, Open | Closed):
        return operate_drawer(state, goal, strategy)
    if isinstance(goal, On | In | LeftOf | RightOf):
        return pick_and_place(state, goal, strategy, slot)
    raise ValueError(f"no teleoperation skill for {type(goal).__name__}")
