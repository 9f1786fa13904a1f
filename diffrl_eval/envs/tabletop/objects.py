"""The tabletop object catalogue: kinds, sizes and colours that tasks and language use.

Every object is a handful of boxes or one cylinder, so contacts stay cheap. Movable
objects (cubes, cans) have a free joint; fixtures (plates, bowls, baskets, the cabinet)
are static bodies whose pose is set per initial state; the cabinet's drawer slides on a
joint.

Geometry conventions (metres): the table top is the plane z = 0; ``+x`` points away
from the agent-view camera, ``+y`` is the camera's left.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.12),
    "green": (0.15, 0.7, 0.2),
    "blue": (0.15, 0.3, 0.85),
    "yellow": (0.92, 0.85, 0.15),
    "orange": (0.95, 0.5, 0.1),
    "purple": (0.55, 0.2, 0.7),
    "white": (0.92, 0.92, 0.92),
    "black": (0.12, 0.12, 0.12),
    "brown": (0.5, 0.32, 0.18),
    "pink": (0.95, 0.55, 0.7),
}


class Kind(str, Enum):
    CUBE = "cube"
    CAN = "can"
    PLATE = "plate"
    BOWL = "bowl"
    BASKET = "basket"
    CABINET = "cabinet"


MOVABLE_KINDS = frozenset({Kind.CUBE, Kind.CAN})


@dataclass(frozen=True)
class Geometry:
    """Sizes of one kind (half extents, metres).

    ``half_xy`` is the footprint half extent (a square), ``half_height`` half the
    height of the object's body (movables) or of its walls (containers);
    ``clearance`` the radius kept free around it when placing objects.
    """

    half_xy: float
    half_height: float
    clearance: float
    mass: float = 0.0
    wall: float = 0.0
    base: float = 0.0


GEOMETRY: dict[Kind, Geometry] = {
    Kind.CUBE: Geometry(half_xy=0.02, half_height=0.02, clearance=0.04, mass=0.05),
    Kind.CAN: Geometry(half_xy=0.021, half_height=0.035, clearance=0.04, mass=0.06),
    Kind.PLATE: Geometry(half_xy=0.06, half_height=0.004, clearance=0.07),
    Kind.BOWL: Geometry(half_xy=0.055, half_height=0.02, clearance=0.07, wall=0.006, base=0.004),
    Kind.BASKET: Geometry(half_xy=0.07, half_height=0.03, clearance=0.085, wall=0.006, base=0.004),
    # The cabinet footprint; its drawer slides out towards -x by up to ``DRAWER_TRAVEL``.
    Kind.CABINET: Geometry(half_xy=0.09, half_height=0.05, clearance=0.13, wall=0.008),
}

DRAWER_TRAVEL = 0.12  # metres the drawer slides out when fully open
DRAWER_HANDLE_REACH = 0.035  # how far the handle sticks out of the drawer front


@dataclass(frozen=True)
class ObjectSpec:
    """One object in a scene: a unique body name, its kind and colour."""

    name: str
    kind: Kind
    colour: str

    def __post_init__(self) -> None:
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}")

    @property
    def movable(self) -> bool:
        return self.kind in MOVABLE_KINDS

    @property
    def geometry(self) -> Geometry:
        return GEOMETRY[self.kind]

    @property
    def phrase(self) -> str:
        """How instructions name it, e.g. ``"red cube"``."""
        noun = "drawer" if self.kind is Kind.CABINET else self.kind.value
        return f"{self.colour} {noun}"

    def top_height(self) -> float:
        """Height above the table of the surface things are put *on* (plates, cubes)."""
        g = self.geometry
        if self.kind is Kind.PLATE:
            return 2 * g.half_height
        if self.kind in (Kind.BOWL, Kind.BASKET):
            return g.base
        return 2 * g.half_height


def obj(colour: str, kind: str, name: str | None = None) -> ObjectSpec:
    """Shorthand used by the task table: ``obj("red", "cube")`` names it ``red_cube``."""
    k = Kind(kind)
    return ObjectSpec(name or f"{colour}_{k.value}", k, colour)
