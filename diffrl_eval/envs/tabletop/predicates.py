"""Goal predicates: the sparse success conditions of tabletop tasks.

Each predicate is a small frozen dataclass naming objects by their scene names, with
``holds(state)`` evaluated on a :class:`PrivilegedState` after every control step.
Tolerances are in metres and chosen so that an object resting where the instruction
says counts, and an object hovering or merely near does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from diffrl_eval.envs.tabletop.objects import DRAWER_TRAVEL
from diffrl_eval.envs.tabletop.privileged import PrivilegedState

REST_TOLERANCE = 0.012  # how far a resting object's bottom may be from its support top
DRAWER_OPEN_FRACTION = 0.75
DRAWER_CLOSED_GAP = 0.01
SIDE_MARGIN = 0.06  # left-of / right-of: lateral separation of the two centres
SIDE_DEPTH = 0.12  # ... and at most this far apart front-to-back


def _inside(state: PrivilegedState, name: str, ref: str, half: float) -> bool:
    """Whether the centre of ``name`` lies within ``half`` of ``ref``'s centre, measured
    along ``ref``'s own (yawed) x and y axes."""
    px, py, _ = state.xyz(name)
    rx, ry, _ = state.xyz(ref)
    dx, dy = px - rx, py - ry
    yaw = state.yaw(ref)
    c, s = math.cos(yaw), math.sin(yaw)
    return abs(c * dx + s * dy) <= half and abs(-s * dx + c * dy) <= half


def _bottom(state: PrivilegedState, name: str) -> float:
    return state.xyz(name)[2] - state.objects[name].geometry.half_height


def _resting_on_table(state: PrivilegedState, name: str) -> bool:
    return abs(_bottom(state, name)) <= REST_TOLERANCE


class Predicate:
    """A goal condition over privileged state."""

    def holds(self, state: PrivilegedState) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def objects(self) -> tuple[str, ...]:
        """Scene names this predicate refers to."""
        return tuple(v for v in vars(self).values() if isinstance(v, str))


@dataclass(frozen=True)
class On(Predicate):
    """``item`` rests on top of ``support`` (a plate or another movable)."""

    item: str
    support: str

    def holds(self, state: PrivilegedState) -> bool:
        spec = state.objects[self.support]
        if not _inside(state, self.item, self.support, spec.geometry.half_xy):
            return False
        if spec.movable:
            top = state.xyz(self.support)[2] + spec.geometry.half_height
        else:
            top = state.xyz(self.support)[2] + spec.top_height()
        return abs(_bottom(state, self.item) - top) <= REST_TOLERANCE


@dataclass(frozen=True)
class In(Predicate):
    """``item`` is inside ``container`` (bowl or basket): its centre within the walls and
    between the floor and the rim, upright or tipped over."""

    item: str
    container: str

    def holds(self, state: PrivilegedState) -> bool:
        g = state.objects[self.container].geometry
        if not _inside(state, self.item, self.container, g.half_xy):
            return False
        centre = state.xyz(self.item)[2] - state.xyz(self.container)[2]
        return g.base <= centre <= 2 * g.half_height


@dataclass(frozen=True)
class Open(Predicate):
    """The drawer of ``cabinet`` is pulled out at least 75 % of its travel."""

    cabinet: str

    def holds(self, state: PrivilegedState) -> bool:
        return state.drawer_opening(self.cabinet) >= DRAWER_OPEN_FRACTION * DRAWER_TRAVEL


@dataclass(frozen=True)
class Closed(Predicate):
    """The drawer of ``cabinet`` is pushed in to within 1 cm."""

    cabinet: str

    def holds(self, state: PrivilegedState) -> bool:
        return state.drawer_opening(self.cabinet) <= DRAWER_CLOSED_GAP


@dataclass(frozen=True)
class LeftOf(Predicate):
    """``item`` rests on the table to the left of ``anchor`` (as the agent view sees it)."""

    item: str
    anchor: str

    def holds(self, state: PrivilegedState) -> bool:
        (ix, iy, _), (ax, ay, _) = state.xyz(self.item), state.xyz(self.anchor)
        return (iy - ay >= SIDE_MARGIN and abs(ix - ax) <= SIDE_DEPTH
                and _resting_on_table(state, self.item))


@dataclass(frozen=True)
class RightOf(Predicate):
    """``item`` rests on the table to the right of ``anchor`` (as the agent view sees it)."""

    item: str
    anchor: str

    def holds(self, state: PrivilegedState) -> bool:
        (ix, iy, _), (ax, ay, _) = state.xyz(self.item), state.xyz(self.anchor)
        return (ay - iy >= SIDE_MARGIN and abs(ix - ax) <= SIDE_DEPTH
                and _resting_on_table(state, self.item))


@dataclass(frozen=True)
class All(Predicate):
    """Every sub-goal holds at the same time (two-stage tasks)."""

    parts: tuple[Predicate, ...]

    def holds(self, state: PrivilegedState) -> bool:
        return all(p.holds(state) for p in self.parts)

    def objects(self) -> tuple[str, ...]:
        return tuple(n for p in self.parts for n in p.objects())


def subgoals(goal: Predicate) -> tuple[Predicate, ...]:
    """The stages of a goal: the parts of an :class:`All`, else the goal itself."""
    return goal.parts if isinstance(goal, All) else (goal,)

