"""The RL expert's configuration: one typed, nested dataclass and its named presets.

:class:`ExpertConfig` holds everything that shapes an expert and how data is drawn from
it, in sections::

    demonstrations, BC   n_demonstrations, demonstration_seed, demos_from, drop_no_ops,
                         expert_seed, bc_gradient_steps, bc_batch_size, bc_learning_rate
    policy               PolicySettings -> PolicyConfig (sized for the task's observations)
    ppo                  PPOSettings    -> PPOConfig (PPO, its reward and diagnostics)
    reward               RewardSettings: reward_mode, success_hold_steps, reward_scaling
                         (stored in ppo)
    generation           GenerationSettings: chunk_join, max_attempts_factor; where it
                         runs: cache_dir, env_workers (stored as top-level fields)

``config.reward`` and ``config.generation`` read those sections typed; ``--option
reward.KEY=V`` and ``--option generation.KEY=V`` (and the same sections given to
``make_config``) write into the fields that store them.

A value comes from, lowest first: the dataclass defaults (``PolicyConfig``,
``PPOConfig``, ``ExpertConfig``), the head's named preset (``generators/diffusion_ppo``,
``generators/gaussian_ppo``), then the user's flags, ``--option KEY=V``,
``--option ppo.KEY=V`` / ``--ppo KEY=V`` and ``--option policy.KEY=V`` / ``--policy KEY=V``.
``config.ppo.n_iterations`` (and every other field) reads the value in force.

Serialized form (``run.json``, the expert cache key, a dataset manifest's generator
config): the ExpertConfig fields, each section holding only the values a preset or the
user gave (a section is a ``dict`` for that reason), exactly the layout the expert cache
has always been keyed by, so every expert trained before still loads; version
:data:`EXPERT_CONFIG_VERSION`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from diffrl_eval.errors import UserError
from diffrl_eval.generator import GeneratorConfig
from diffrl_eval.validation import check_setting_types
from generators.expert.bc import BCConfig
from generators.expert.bc_samples import dataset_fingerprint
from generators.expert.chunk_joining import DEFAULT_CHUNK_JOIN, check_chunk_join
from generators.expert.observation import LOWDIM_KEYS, expert_policy_config
from generators.expert.subprocess_env import check_env_workers
from generators.policy.config import PolicyConfig
from generators.ppo.config import PPOConfig

# the serialized layout described above; a change to it gets a new number and a reader
# for the old one (the expert cache key and run.json comparisons depend on it)
EXPERT_CONFIG_VERSION = 1


class Section(dict):
    """The values given for the fields of one dataclass (:attr:`target`): a preset's and
    the user's, validated against the target's field names and types when made. An
    attribute reads the value in force: the one given, else the target's default.

    A ``dict`` so that it serializes as exactly the values given.
    """

    target: ClassVar[type]
    label: ClassVar[str]  # how errors name the section: "unknown PPO option(s)"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a field named like a dict method (copy, items...) would read the method
        shadowed = [name for name in cls.field_names() if hasattr(dict, name)]
        if shadowed:
            raise TypeError(f"{cls.__name__}: fields {shadowed} shadow dict methods")

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 /, **more: Any) -> None:
        super().__init__(values, **more)
        valid = self.field_names()
        unknown = sorted(set(self) - set(valid))
        if unknown:
            raise UserError(f"unknown {self.label} option(s): {', '.join(unknown)}; valid "
                            f"options: {', '.join(valid)}")
        check_setting_types(self.target, self, f"{self.label.lower()} option")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls.target)]

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        for target_field in dataclasses.fields(self.target):
            if target_field.name == name:
                if target_field.default_factory is not dataclasses.MISSING:
                    return target_field.default_factory()
                return target_field.default
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    @classmethod
    def of(cls, name: str, value: Any) -> Section:
        """``value`` (a mapping) as settings of section ``name``; anything else is a
        one-line error."""
        if not isinstance(value, Mapping):
            raise UserError(f"{name} must be an object of {cls.label} settings (give "
                            f"{name}.KEY=VALUE), got {value!r}")
        return cls(value)

    def updated(self, values: Mapping[str, Any]) -> Section:
        """A copy with ``values`` given on top (key by key)."""
        return type(self)({**self, **values})


class PolicySettings(Section):
    """Fields of :class:`~generators.policy.config.PolicyConfig`; the observation widths
    come from the task's environment (``expert_policy_config``)."""

    target = PolicyConfig
    label = "policy"


class PPOSettings(Section):
    """Fields of :class:`~generators.ppo.config.PPOConfig`, which checks their values."""

    target = PPOConfig
    label = "PPO"

    def resolve(self) -> PPOConfig:
        return PPOConfig(**self)


SECTIONS: dict[str, type[Section]] = {"policy": PolicySettings, "ppo": PPOSettings}

# settings that do not change the trained expert, so stay out of its cache key (chunk_join
# changes the generated data: the manifest records it, see ExpertGenerator.config_dict)
GENERATION_ONLY_FIELDS = ("cache_dir", "max_attempts_factor", "env_workers", "chunk_join")


@dataclass(frozen=True)
class RewardSettings:
    """The reward PPO optimizes (values in force; stored in the ``ppo`` section, whose
    serialized layout keys the expert cache): ``reward_mode``, ``success_hold_steps``,
    ``reward_scaling`` of :class:`~generators.ppo.config.PPOConfig`."""

    reward_mode: str
    success_hold_steps: int | None
    reward_scaling: bool


@dataclass(frozen=True)
class GenerationSettings:
    """How ``generate`` draws data from a trained expert and where it runs (values in
    force; stored as top-level :class:`ExpertConfig` fields, outside the cache key)."""

    chunk_join: str
    max_attempts_factor: int
    cache_dir: str | None
    env_workers: int | None


# views over stored fields: section name -> (its settings class, where its fields live:
# a stored section name, or "" for ExpertConfig's own fields)
VIEWS: dict[str, tuple[type, str]] = {"reward": (RewardSettings, "ppo"),
                                      "generation": (GenerationSettings, "")}


def view_home(section: str, name: str) -> str:
    """Where the setting ``section.name`` of a view (``reward``, ``generation``) is
    stored: "ppo" or "" (a top-level field); an unknown name is a one-line error."""
    cls, home = VIEWS[section]
    valid = [f.name for f in dataclasses.fields(cls)]
    if name not in valid:
        raise UserError(f"unknown {section} option {name!r}; valid options: {', '.join(valid)}")
    return home


@dataclass
class ExpertConfig(GeneratorConfig):
    """How the expert is trained and how generation uses it.

    Sections and layering: see the module docstring. The BC fields mirror
    :class:`BCConfig`.
    """

    n_demonstrations: int = 50  # LIBERO's count per task, and the paper's
    demonstration_seed: int = 0
    # a human dataset directory (written by `import` or `generate`) whose first
    # n_demonstrations successful episodes of the task are cloned; None: the human generator
    demos_from: str | None = None
    drop_no_ops: bool = True  # clone the demonstrations without their pauses (OpenVLA's rule)
    expert_seed: int = 0  # seeds BC and PPO; one expert per task serves every data seed
    bc_gradient_steps: int = 3000
    bc_batch_size: int = 256
    bc_learning_rate: float = 1e-3
    policy: PolicySettings = field(default_factory=PolicySettings)
    ppo: PPOSettings = field(default_factory=PPOSettings)
    max_attempts_factor: int = 4  # generate gives up after this many attempts per episode
    cache_dir: str | None = None
    # processes that step PPO's environments (1: in the main process; None: one per CPU
    # core); the same seed trains the same expert whatever the count
    env_workers: int | None = None
    # how generate joins consecutive action chunks (generators.expert.chunk_joining)
    chunk_join: str = DEFAULT_CHUNK_JOIN

    def __post_init__(self) -> None:
        # sections given as plain mappings are checked (names and types) as they become
        # settings; their values are checked by the configs they build
        self.policy = PolicySettings.of("policy", self.policy)
        self.ppo = PPOSettings.of("ppo", self.ppo)
        self.bc_config()
        self.ppo_config()
        # every other policy value is checked now, before any run directory is made; the
        # observation widths are placeholders (the real ones come from the task's env)
        expert_policy_config({key: np.zeros(1, dtype=np.float32) for key in LOWDIM_KEYS},
                             **self.policy)
        check_env_workers(self.env_workers)
        check_chunk_join(self.chunk_join)
        if self.max_attempts_factor < 1:
            raise UserError(f"max_attempts_factor must be >= 1; got {self.max_attempts_factor}")

    def training_settings(self) -> dict[str, Any]:
        """The fields that shape the expert (not where it is cached or how data is drawn).

        A demonstration dataset enters by its content hash, not its path: other data at the
        same path is another expert, the same data moved elsewhere is the same one. Without
        one the key is what it was before datasets could be given.
        """
        settings = {k: v for k, v in dataclasses.asdict(self).items()
                    if k not in GENERATION_ONLY_FIELDS}
        if self.demos_from is None:
            del settings["demos_from"]
        else:
            settings["demos_from"] = dataset_fingerprint(self.demos_from)
        return settings

    def resolved_env_workers(self) -> int:
        """How many processes step PPO's environments."""
        return check_env_workers(self.env_workers)

    def bc_config(self) -> BCConfig:
        return BCConfig(
            n_demonstrations=self.n_demonstrations,
            gradient_steps=self.bc_gradient_steps,
            batch_size=self.bc_batch_size,
            learning_rate=self.bc_learning_rate,
        )

    def ppo_config(self) -> PPOConfig:
        """The PPO settings in force, checked."""
        return self.ppo.resolve()

    @property
    def reward(self) -> RewardSettings:
        """The reward section (stored in ``ppo``)."""
        return RewardSettings(**{f.name: getattr(self.ppo, f.name)
                                 for f in dataclasses.fields(RewardSettings)})

    @property
    def generation(self) -> GenerationSettings:
        """The generation section (stored as this config's own fields)."""
        return GenerationSettings(**{f.name: getattr(self, f.name)
                                     for f in dataclasses.fields(GenerationSettings)})


@dataclass(frozen=True)
class ExpertPreset:
    """A named starting point for a head's :class:`ExpertConfig`: the values it gives on
    top of the defaults (``settings`` for top-level fields, ``policy`` and ``ppo`` for
    the sections). ``why`` says what the values rest on."""

    name: str
    why: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    policy: PolicySettings = field(default_factory=PolicySettings)
    ppo: PPOSettings = field(default_factory=PPOSettings)

    def overrides(self) -> dict[str, Any]:
        """The preset as ``make_config`` overrides (sections as dict-like settings)."""
        return {**self.settings, "policy": PolicySettings(self.policy),
                "ppo": PPOSettings(self.ppo)}


def layer(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` on top of ``base``; a section merges key by key (validated as it is
    made: an unknown key names the section's valid options)."""
    merged = dict(base)
    overrides = route_views(overrides)
    for key, value in overrides.items():
        if key in SECTIONS:
            value = SECTIONS[key].of(key, value)
            merged[key] = SECTIONS[key]({**merged.get(key, {}), **value})
        else:
            merged[key] = value
    return merged


def route_views(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with the ``reward`` and ``generation`` sections moved to where their
    fields are stored (the ``ppo`` section, top-level fields)."""
    routed = {key: value for key, value in overrides.items() if key not in VIEWS}
    for section in VIEWS:
        if section not in overrides:
            continue
        values = overrides[section]
        if not isinstance(values, Mapping):
            raise UserError(f"{section} must be an object of {section} settings (give "
                            f"{section}.KEY=VALUE), got {values!r}")
        for name, value in values.items():
            home = view_home(section, name)
            if home:
                inner = routed.get(home, {})
                routed[home] = {**inner, name: value}
            else:
                routed[name] = value
    return routed


def warmup_fallback(preset_ppo: Mapping[str, Any], asked_ppo: Mapping[str, Any]
                    ) -> int | None:
    """The critic warm-up a run gets when the user shortens it below the preset's warm-up
    through ``n_iterations`` alone: PPOConfig's default, when that leaves PPO an iteration
    to learn in; None when the preset's (or the user's) warm-up stands."""
    if "n_iterations" not in asked_ppo or "critic_warmup_iterations" in asked_ppo:
        return None
    default = PPOConfig.critic_warmup_iterations
    iterations = int(asked_ppo["n_iterations"])
    preset = int(preset_ppo.get("critic_warmup_iterations", default))
    return default if default < iterations <= preset else None


__all__ = ["EXPERT_CONFIG_VERSION", "GENERATION_ONLY_FIELDS", "ExpertConfig", "ExpertPreset",
           "GenerationSettings", "PPOSettings", "PolicySettings", "RewardSettings", "Section",
           "layer", "route_views", "view_home", "warmup_fallback"]
