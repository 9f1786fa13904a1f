"""One simulated teleoperation episode: skills + operator model driving a tabletop env."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from diffrl_eval.constants import CAMERA_KEYS, OBS_EEF_POS, OBS_STATE
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.tabletop import INIT_STATE_OPTION, TabletopEnv
from diffrl_eval.envs.tabletop.predicates import In, On, Predicate, subgoals
from generators.human.operator import Operator, OperatorStyle
from generators.human.skills import Strategy, Waypoint, skill_for


def draw_strategy(rng: np.random.Generator, goal: Predicate) -> Strategy:
    """Pick this demonstration's mode: grasp yaw, approach side, order of sub-goals."""
    return Strategy(
        grasp_yaw_mode=int(rng.integers(0, 3)),
        approach_side=int(rng.choice((-1, 0, 1))),
        reverse_order=len(subgoals(goal)) > 1 and bool(rng.random() < 0.5),
    )


def _slots(stages: tuple[Predicate, ...]) -> list[float]:
    """Lateral offsets so two items put into/onto the same holder do not collide."""
    holders = [getattr(g, "support", None) or getattr(g, "container", None)
               if isinstance(g, On | In) else None for g in stages]
    slots = []
    for i, holder in enumerate(holders):
        shared = holder is not None and holders.count(holder) > 1
        slots.append((-0.025 if holders.index(holder) == i else 0.025) if shared else 0.0)
    return slots


def _waypoints(env: TabletopEnv, strategy: Strategy) -> Iterator[Waypoint]:
    state = env.privileged_state()
    stages = subgoals(env.task.goal)
    slots = _slots(stages)
    order = list(range(len(stages)))
    if strategy.reverse_order:
        order.reverse()
    for i in order:
        yield from skill_for(state, stages[i], strategy, slots[i])


def run_episode(env: TabletopEnv, *, init_state_index: int | None, env_seed: int,
                style: OperatorStyle, rng: np.random.Generator,
                record_images: bool = False) -> Episode:
    """Teleoperate one episode; it ends on success or at the task's step budget.

    The episode records the state observed *before* each action, the action, the reward
    and whether the goal held after the step (see :class:`Episode`).
    """
    options = None if init_state_index is None else {INIT_STATE_OPTION: init_state_index}
    obs, _ = env.reset(seed=env_seed, options=options)
    state = env.privileged_state()
    operator = Operator(style, rng)
    strategy = draw_strategy(rng, env.task.goal)
    states, eefs, actions, rewards, successes = [], [], [], [], []
    frames: dict[str, list[np.ndarray]] = {k: [] for k in CAMERA_KEYS if k in obs} \
        if record_images else {}
    done = False

    def act(action: np.ndarray) -> None:
        nonlocal obs, done
        states.append(obs[OBS_STATE])
        eefs.append(obs[OBS_EEF_POS])
        for key, seen in frames.items():
            seen.append(obs[key])
        # the env runs the float32 action that is recorded, so a replay is exact
        action = action.astype(np.float32)
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        successes.append(info["success"])
        done = terminated or truncated

    for waypoint in _waypoints(env, strategy):
        pause, aim = operator.start(waypoint, state.eef_position())
        for _ in range(pause):
            act(operator.pause_action())
            if done:
                break
        target = np.asarray(waypoint.position, dtype=np.float64)
        steps = 0
        settled = 0
        while not done and steps < Operator.MAX_WAYPOINT_STEPS:
            eef = state.eef_position()
            goal_point = aim if aim is not None else target
            error = np.linalg.norm(goal_point - eef)
            if aim is not None and error < 0.012:
                aim = None  # overshot: now correct back to the real target
                continue
            yaw_error = float((waypoint.yaw - state.eef_yaw() + np.pi) % (2 * np.pi) - np.pi)
            reached = aim is None and (
                (error < waypoint.tolerance and abs(yaw_error) < 0.08)
                or (waypoint.done is not None and waypoint.done())
            )
            if reached:
                if settled >= waypoint.settle:
                    break
                settled += 1
            act(operator.move_action(goal_point, yaw_error, waypoint.grip, eef))
            steps += 1
        if done:
            break
    while not done:  # the operator is finished but the goal does not hold: wait it out
        act(operator.pause_action())
    return Episode(
        task_id=env.task.task_id,
        instruction=env.task.instruction,
        states=np.asarray(states),
        eef_pos=np.asarray(eefs),
        actions=np.asarray(actions),
        rewards=np.asarray(rewards),
        successes=np.asarray(successes),
        seed=env_seed,
        images={key: np.stack(seen) for key, seen in frames.items()},
        init_state_index=init_state_index,
    )
