"""A generator's optional capabilities (cloning demonstrations, training experts) are
declared by inheriting their interface in :mod:`diffrl_eval.generator`, never found by
probing for a method: no ``hasattr(generator, ...)`` anywhere in the project, and the
built-ins declare what they do."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from diffrl_eval import registry
from diffrl_eval.generator import (
    ClonesDemonstrations,
    Generator,
    TrainsExperts,
    cloning_sources,
    generators_with,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("diffrl_eval", "generators", "vla", "reports")
# what a probe for a capability would ask for: the methods of the capability interfaces
CAPABILITY_METHODS = ({name for cls in (ClonesDemonstrations, TrainsExperts)
                       for name in cls.__abstractmethods__}
                      | {"planned_cost", "make_config", "fit"})


def generator_probes(source: str) -> list[int]:
    """Lines of ``source`` with ``hasattr(X, "m")`` where X names a generator or ``m`` is a
    generator capability's method."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "hasattr"
                and len(node.args) == 2):
            continue
        target, attribute = node.args
        names_generator = "generator" in ast.unparse(target).lower()
        asks_capability = (isinstance(attribute, ast.Constant)
                           and attribute.value in CAPABILITY_METHODS)
        if names_generator or asks_capability:
            lines.append(node.lineno)
    return lines


def test_no_module_probes_a_generator_with_hasattr():
    found = [f"{path.relative_to(ROOT)}:{line}"
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for line in generator_probes(path.read_text())]
    assert found == []


def test_the_checker_sees_a_probe_by_name_and_by_method():
    source = '''
if hasattr(generator, "expert_run"):
    pass
ok = hasattr(registry.generators.load(name), "anything")
found = hasattr(obj, "check_demonstrations")
fine = hasattr(loader, "exec_module")
'''
    assert generator_probes(source) == [2, 4, 5]


def test_the_built_in_generators_declare_their_capabilities():
    experts = ["diffusion-ppo", "gaussian-ppo"]
    assert sorted(generators_with(TrainsExperts)) == experts
    assert sorted(cloning_sources()) == experts
    human = registry.generators.load("human")
    assert not issubclass(human, (TrainsExperts, ClonesDemonstrations))
    assert cloning_sources(["human", "gaussian-ppo"]) == ["gaussian-ppo"]


def test_a_plug_in_without_capabilities_is_neither_cloning_nor_training_experts():
    sys.path.insert(0, str(ROOT / "tests" / "plugin_fixture"))
    try:
        from acme_datagen import RandomWalkGenerator
    finally:
        sys.path.remove(str(ROOT / "tests" / "plugin_fixture"))
    assert issubclass(RandomWalkGenerator, Generator)
    assert not issubclass(RandomWalkGenerator, (TrainsExperts, ClonesDemonstrations))


@pytest.mark.parametrize("name", ["diffusion-ppo", "gaussian-ppo"])
def test_an_expert_generator_without_a_trained_expert_reports_no_cost(name, tmp_path):
    from diffrl_eval.envs.tabletop import TabletopBackend

    backend = TabletopBackend()
    generator_cls = registry.generators.load(name)
    generator = generator_cls(backend, generator_cls.make_config({"cache_dir": str(tmp_path)}))
    tasks = backend.tasks("tabletop-spatial")[:2]
    assert generator.expert_cost(tasks).env_steps == 0
    assert generator.expert_curves(tasks) == {}


def test_the_planned_cost_of_an_expert_counts_its_demonstrations_bc_and_ppo():
    """Hand-worked: 3 episodes and 4 demonstrations at the step limit M, 1 PPO iteration x
    2 envs x 2 decisions x 8 executed actions (the policy's default), 1,000 BC steps."""
    from diffrl_eval.envs.tabletop import TabletopBackend

    task = TabletopBackend().tasks("tabletop-spatial")[0]
    generator_cls = registry.generators.load("gaussian-ppo")
    config = generator_cls.make_config({
        "n_demonstrations": 4, "bc_gradient_steps": 1000,
        "ppo": {"n_iterations": 1, "n_envs": 2, "n_steps": 2, "critic_warmup_iterations": 0,
                "batch_size": 20}})
    planned = generator_cls.planned_cost(config, task, 3)
    assert planned.env_steps == 7 * task.max_steps + 32
    assert planned.gradient_steps == 1000
    # a source without experts: its episodes at the step limit, nothing trained
    human = registry.generators.load("human")
    assert human.planned_cost(human.make_config({}), task, 3).env_steps == 3 * task.max_steps
    assert human.planned_cost(human.make_config({}), task, 3).gradient_steps == 0
