"""The tabletop task table and its LIBERO-shaped suites, declared as data.

A task is an instruction, the objects in its scene, where each object may start (a
:class:`Region` per object, sampled without overlaps), a goal predicate, and the step
budget of its suite. Suites follow LIBERO's knowledge-transfer split:

* ``tabletop-spatial`` - the same objects (two identical green cubes, a plate, a bowl);
  which cube to move is given by the layout ("the cube on the left").
* ``tabletop-object`` - the same motion (into the basket) with a different object.
* ``tabletop-goal`` - one scene, different goals.
* ``tabletop-long`` - two-stage compositions of the goals above.
* ``tabletop-90`` - a larger pre-training suite whose tasks (objects, colours and
  goals) appear in none of the four suites above, for the out-of-distribution protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffrl_eval.envs.tabletop.objects import DRAWER_TRAVEL, Kind, ObjectSpec, obj
from diffrl_eval.envs.tabletop.predicates import (
    All,
    Closed,
    In,
    LeftOf,
    On,
    Open,
    Predicate,
    RightOf,
)
from diffrl_eval.errors import unknown_choice

SPATIAL, OBJECT, GOAL, LONG, PRETRAIN = (
    "tabletop-spatial", "tabletop-object", "tabletop-goal", "tabletop-long", "tabletop-90",
)
SUITES = (SPATIAL, OBJECT, GOAL, LONG, PRETRAIN)
MAX_STEPS = {SPATIAL: 220, OBJECT: 280, GOAL: 300, LONG: 520, PRETRAIN: 400}

Range = tuple[float, float]


@dataclass(frozen=True)
class Region:
    """Where an object may start: uniform in x, y (metres) and yaw (radians).

    With ``relative_to`` the x/y ranges are offsets from that object's sampled position
    (which must come earlier in the scene). ``opening`` is a cabinet's initial drawer
    opening range (metres).
    """

    x: Range
    y: Range
    yaw: Range = (0.0, 0.0)
    relative_to: str | None = None
    opening: Range = (0.0, 0.0)


FRONT = Region(x=(-0.16, 0.04), y=(-0.24, 0.24), yaw=(-np.pi / 4, np.pi / 4))
BACK = Region(x=(0.06, 0.18), y=(-0.22, 0.22), yaw=(-0.3, 0.3))
CABINET_LEFT = Region(x=(0.18, 0.21), y=(0.12, 0.2))
CABINET_RIGHT = Region(x=(0.18, 0.21), y=(-0.2, -0.12))


def default_region(spec: ObjectSpec) -> Region:
    """Movables start in the front half of the table, fixtures at the back."""
    if spec.kind is Kind.CABINET:
        return CABINET_LEFT
    return FRONT if spec.movable else BACK


@dataclass(frozen=True)
class TaskDef:
    """One task: everything the env, the init-state sampler and the experts need."""

    task_id: str
    suite: str
    instruction: str
    objects: tuple[ObjectSpec, ...]
    goal: Predicate
    regions: dict[str, Region] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [o.name for o in self.objects]
        missing = set(self.goal.objects()) - set(names)
        if missing:
            raise ValueError(f"task {self.task_id}: goal names unknown objects {missing}")
        unknown = set(self.regions) - set(names)
        if unknown:
            raise ValueError(f"task {self.task_id}: regions for unknown objects {unknown}")

    @property
    def max_steps(self) -> int:
        return MAX_STEPS[self.suite]

    def region(self, spec: ObjectSpec) -> Region:
        return self.regions.get(spec.name) or default_region(spec)

    def spec(self, name: str) -> ObjectSpec:
        return next(o for o in self.objects if o.name == name)


# --- tabletop-spatial ----------------------------------------------------------------------
_CUBE_A, _CUBE_B = obj("green", "cube", "green_cube_a"), obj("green", "cube", "green_cube_b")
_PLATE, _BOWL = obj("white", "plate"), obj("brown", "bowl")
_SPATIAL_OBJECTS = (_CUBE_A, _CUBE_B, _PLATE, _BOWL)
_YAW = (-np.pi / 4, np.pi / 4)
_BACK_ROW = {_PLATE.name: Region((0.1, 0.18), (-0.22, 0.22), (-0.3, 0.3)),
             _BOWL.name: Region((0.1, 0.18), (-0.22, 0.22), (-0.3, 0.3))}
_SIDES = {_PLATE.name: Region((0.0, 0.15), (0.16, 0.22), (-0.3, 0.3)),
          _BOWL.name: Region((0.0, 0.15), (-0.22, -0.16), (-0.3, 0.3))}


def _spatial(name: str, instruction: str, goal: Predicate, regions: dict[str, Region]):
    return TaskDef(f"spatial_{name}", SPATIAL, instruction, _SPATIAL_OBJECTS, goal, regions)


def _spatial_tasks() -> list[TaskDef]:
    a, b, plate, bowl = _CUBE_A.name, _CUBE_B.name, _PLATE.name, _BOWL.name
    left, right = Region((-0.14, 0.0), (0.1, 0.2), _YAW), Region((-0.14, 0.0), (-0.2, -0.1), _YAW)
    front = Region((-0.16, -0.1), (-0.12, 0.12), _YAW)
    behind = Region((0.04, 0.1), (-0.12, 0.12), _YAW)
    return [
        _spatial("left_cube_on_plate",
                 "pick up the green cube on the left and place it on the plate",
                 On(a, plate), {a: left, b: right, **_BACK_ROW}),
        _spatial("right_cube_in_bowl",
                 "pick up the green cube on the right and place it in the bowl",
                 In(a, bowl), {a: right, b: left, **_BACK_ROW}),
        _spatial("front_cube_on_plate",
                 "pick up the green cube in front and place it on the plate",
                 On(a, plate), {a: front, b: behind, **_SIDES}),
        _spatial("back_cube_in_bowl",
                 "pick up the green cube at the back and place it in the bowl",
                 In(a, bowl), {a: behind, b: front, **_SIDES}),
        _spatial("between_cube_on_plate",
                 "pick up the green cube between the plate and the bowl and place it on the plate",
                 On(a, plate),
                 {a: Region((0.0, 0.12), (-0.04, 0.04), _YAW),
                  b: Region((-0.16, -0.1), (-0.2, 0.2), _YAW), **_SIDES}),
        _spatial("cube_before_plate_in_bowl",
                 "pick up the green cube in front of the plate and place it in the bowl",
                 In(a, bowl),
                 {plate: Region((0.1, 0.16), (0.06, 0.2), (-0.3, 0.3)),
                  a: Region((-0.13, -0.11), (-0.03, 0.03), _YAW, relative_to=plate),
                  bowl: Region((0.08, 0.16), (-0.22, -0.12), (-0.3, 0.3)),
                  b: Region((-0.16, -0.06), (-0.22, -0.1), _YAW)}),
    ]


# --- tabletop-object ------------------------------------------------------------------------
_OBJECT_POOL = (obj("red", "cube"), obj("blue", "can"), obj("yellow", "cube"),
                obj("orange", "can"), obj("purple", "cube"), obj("white", "can"))
_BASKET = obj("brown", "basket")


def _object_tasks() -> list[TaskDef]:
    tasks = []
    basket = {_BASKET.name: Region((0.1, 0.17), (-0.15, 0.15), (-0.3, 0.3))}
    movables = Region((-0.16, 0.02), (-0.24, 0.24), _YAW)
    for i, target in enumerate(_OBJECT_POOL):
        distractors = tuple(_OBJECT_POOL[(i + k) % len(_OBJECT_POOL)] for k in (1, 2, 3))
        scene = (target, *distractors, _BASKET)
        regions = {**basket, **{o.name: movables for o in (target, *distractors)}}
        tasks.append(TaskDef(
            f"object_{target.name}_in_basket", OBJECT,
            f"pick up the {target.phrase} and place it in the basket",
            scene, In(target.name, _BASKET.name), regions,
        ))
    return tasks


# --- tabletop-goal --------------------------------------------------------------------------
_RED, _BLUE = obj("red", "cube"), obj("blue", "cube")
_GOAL_PLATE, _GOAL_BOWL, _CABINET = obj("white", "plate"), obj("yellow", "bowl"), obj(
    "brown", "cabinet")
_GOAL_SCENE = (_RED, _BLUE, _GOAL_PLATE, _GOAL_BOWL, _CABINET)
_GOAL_REGIONS = {
    _RED.name: Region((-0.16, 0.02), (-0.1, 0.2), _YAW),
    _BLUE.name: Region((-0.16, 0.02), (-0.1, 0.2), _YAW),
    _GOAL_PLATE.name: Region((0.04, 0.14), (-0.24, -0.12), (-0.3, 0.3)),
    _GOAL_BOWL.name: Region((-0.16, -0.06), (-0.24, -0.12), (-0.3, 0.3)),
    _CABINET.name: CABINET_LEFT,
}


def _goal_tasks() -> list[TaskDef]:
    red, blue, plate, bowl, cab = (o.name for o in _GOAL_SCENE)
    table = [
        ("red_cube_in_bowl", "put the red cube in the bowl", In(red, bowl)),
        ("blue_cube_on_plate", "put the blue cube on the plate", On(blue, plate)),
        ("open_drawer", "open the drawer", Open(cab)),
        ("stack_red_on_blue", "stack the red cube on the blue cube", On(red, blue)),
        ("blue_cube_left_of_red_cube", "put the blue cube to the left of the red cube",
         LeftOf(blue, red)),
        ("red_cube_on_plate", "put the red cube on the plate", On(red, plate)),
    ]
    return [TaskDef(f"goal_{n}", GOAL, text, _GOAL_SCENE, goal, _GOAL_REGIONS)
            for n, text, goal in table]


# --- tabletop-long --------------------------------------------------------------------------
def _long_tasks() -> list[TaskDef]:
    red, blue, plate, bowl, cab = (o.name for o in _GOAL_SCENE)
    can, basket = obj("yellow", "can"), obj("brown", "basket")
    green_can = obj("green", "can")
    open_cabinet = Region((0.18, 0.21), (0.12, 0.2), opening=(0.09, DRAWER_TRAVEL))
    return [
        TaskDef("long_red_in_bowl_and_blue_on_plate", LONG,
                "put the red cube in the bowl and put the blue cube on the plate",
                _GOAL_SCENE, All((In(red, bowl), On(blue, plate))), _GOAL_REGIONS),
        TaskDef("long_open_drawer_and_red_on_plate", LONG,
                "open the drawer and put the red cube on the plate",
                _GOAL_SCENE, All((Open(cab), On(red, plate))), _GOAL_REGIONS),
        TaskDef("long_can_in_basket_and_close_drawer", LONG,
                "put the yellow can in the basket and close the drawer",
                (can, _RED, basket, _CABINET),
                All((In(can.name, basket.name), Closed(cab))),
                {basket.name: Region((0.04, 0.14), (-0.22, -0.1), (-0.3, 0.3)),
                 _CABINET.name: open_cabinet,
                 can.name: Region((-0.16, -0.04), (-0.24, 0.1), _YAW),
                 red: Region((-0.16, -0.04), (-0.24, 0.1), _YAW)}),
        TaskDef("long_stack_blue_on_red_and_can_on_plate", LONG,
                "stack the blue cube on the red cube and put the green can on the plate",
                (_RED, _BLUE, green_can, _GOAL_PLATE),
                All((On(blue, red), On(green_can.name, plate)))),
        TaskDef("long_both_cubes_in_basket", LONG,
                "put the red cube and the blue cube in the basket",
                (_RED, _BLUE, basket, _GOAL_PLATE),
                All((In(red, basket.name), In(blue, basket.name)))),
    ]


# --- tabletop-90 ----------------------------------------------------------------------------
def _pretrain_tasks() -> list[TaskDef]:
    """Objects and colours of the small suites recombined into new tasks.

    None of these (instruction, goal) pairs occurs in the four small suites; the test
    suite checks the disjointness.
    """
    tasks: list[TaskDef] = []

    def add(name: str, text: str, scene: tuple[ObjectSpec, ...], goal: Predicate,
            regions: dict[str, Region] | None = None) -> None:
        tasks.append(TaskDef(f"t90_{name}", PRETRAIN, text, scene, goal, regions or {}))

    movables = [obj("purple", "cube"), obj("orange", "cube"), obj("pink", "can"),
                obj("black", "cube"), obj("white", "cube"), obj("red", "can"),
                obj("green", "cube"), obj("blue", "can")]
    holders = [obj("pink", "plate"), obj("black", "bowl"), obj("white", "basket"),
               obj("green", "plate"), obj("orange", "bowl")]
    for i, item in enumerate(movables):
        holder = holders[i % len(holders)]
        distractor = movables[(i + 3) % len(movables)]
        other = holders[(i + 2) % len(holders)]
        relation = On if holder.kind is Kind.PLATE else In
        word = "on" if relation is On else "in"
        add(f"{item.name}_{word}_{holder.name}", f"put the {item.phrase} {word} the {holder.phrase}",
            (item, distractor, holder, other), relation(item.name, holder.name))
    for i, (item, anchor, side) in enumerate([
        (obj("orange", "cube"), obj("black", "bowl"), RightOf),
        (obj("pink", "can"), obj("green", "plate"), LeftOf),
        (obj("yellow", "cube"), obj("purple", "cube"), RightOf),
        (obj("white", "cube"), obj("orange", "bowl"), LeftOf),
    ]):
        word = "left" if side is LeftOf else "right"
        add(f"{item.name}_{word}_of_{anchor.name}",
            f"put the {item.phrase} to the {word} of the {anchor.phrase}",
            (item, anchor, movables[i]) if movables[i].name not in (item.name, anchor.name)
            else (item, anchor), side(item.name, anchor.name))
    for colour, verb in (("black", "open"), ("white", "close"), ("pink", "open"),
                         ("purple", "close")):
        cab = obj(colour, "cabinet")
        extra = obj("orange", "cube")
        opening = (0.0, 0.0) if verb == "open" else (0.09, DRAWER_TRAVEL)
        side = CABINET_LEFT if colour in ("black", "white") else CABINET_RIGHT
        region = Region(side.x, side.y, opening=opening)
        add(f"{verb}_{cab.name}", f"{verb} the {cab.phrase}", (cab, extra),
            Open(cab.name) if verb == "open" else Closed(cab.name), {cab.name: region})
    for top, bottom in ((obj("yellow", "cube"), obj("green", "cube")),
                        (obj("purple", "cube"), obj("white", "cube")),
                        (obj("black", "cube"), obj("orange", "cube")),
                        (obj("green", "cube"), obj("purple", "cube"))):
        add(f"stack_{top.name}_on_{bottom.name}", f"stack the {top.phrase} on the {bottom.phrase}",
            (top, bottom, obj("pink", "plate")), On(top.name, bottom.name))
    pink_plate, black_bowl, white_basket = holders[0], holders[1], holders[2]
    black_cab = obj("black", "cabinet")
    purple, orange, pink_can = movables[0], movables[1], movables[2]
    add("purple_cube_on_pink_plate_and_orange_cube_in_black_bowl",
        "put the purple cube on the pink plate and the orange cube in the black bowl",
        (purple, orange, pink_plate, black_bowl),
        All((On(purple.name, pink_plate.name), In(orange.name, black_bowl.name))))
    add("open_black_drawer_and_pink_can_in_white_basket",
        "open the black drawer and put the pink can in the white basket",
        (pink_can, white_basket, black_cab),
        All((Open(black_cab.name), In(pink_can.name, white_basket.name))),
        {white_basket.name: Region((0.0, 0.12), (-0.22, -0.12), (-0.3, 0.3))})
    add("stack_orange_on_purple_and_pink_can_left_of_them",
        "stack the orange cube on the purple cube and put the pink can to the left of them",
        (orange, purple, pink_can),
        All((On(orange.name, purple.name), LeftOf(pink_can.name, purple.name))),
        {purple.name: Region((-0.08, 0.04), (-0.2, 0.0), _YAW)})
    add("both_cubes_on_green_plate",
        "put the purple cube and the white cube on the green plate",
        (purple, obj("white", "cube"), obj("green", "plate", "green_plate")),
        All((On(purple.name, "green_plate"), On("white_cube", "green_plate"))),
        {"green_plate": Region((0.08, 0.16), (-0.1, 0.1), (-0.2, 0.2))})
    return tasks


TASKS: dict[str, TaskDef] = {
    t.task_id: t
    for t in (*_spatial_tasks(), *_object_tasks(), *_goal_tasks(), *_long_tasks(),
              *_pretrain_tasks())
}


def suite_tasks(suite: str) -> list[TaskDef]:
    """Tasks of ``suite`` in declaration order."""
    return [t for t in TASKS.values() if t.suite == suite]


def task_def(task_id: str) -> TaskDef:
    """The full declarative definition of ``task_id`` (objects, regions, goal)."""
    if task_id not in TASKS:
        raise unknown_choice("tabletop task", task_id, TASKS)
    return TASKS[task_id]
