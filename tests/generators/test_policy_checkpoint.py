"""Checkpoints: safetensors + JSON round trips, and one-line errors for bad checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from diffrl_eval.errors import UserError
from generators.policy.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy
from generators.policy.value import ValueNetwork

torch.set_num_threads(1)


def fitted_diffusion_policy() -> DiffusionChainPolicy:
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(tiny_config())
    obs = state_obs(16, policy.config, seed=1)
    chunks = torch.rand(16, 4, 7) * 0.2 + 0.3  # data range [0.3, 0.5], not [-1, 1]
    policy.fit_normalizers(obs, chunks)
    return policy.eval()


def test_checkpoint_round_trip_gives_identical_actions(tmp_path):
    policy = fitted_diffusion_policy()
    save_checkpoint(tmp_path / "ckpt", policy)
    loaded = load_checkpoint(tmp_path / "ckpt", kind="diffusion", expected_config=policy.config)
    obs = state_obs(5, policy.config, seed=2)
    for deterministic in (True, False):
        before = policy.act(
            obs, deterministic=deterministic, generator=torch.Generator().manual_seed(3)
        )
        after = loaded.act(
            obs, deterministic=deterministic, generator=torch.Generator().manual_seed(3)
        )
        assert torch.equal(before.action_chunk, after.action_chunk)
        assert torch.equal(before.record, after.record)


def test_normalizer_statistics_travel_with_the_checkpoint(tmp_path):
    policy = fitted_diffusion_policy()
    save_checkpoint(tmp_path / "ckpt", policy)
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert bool(loaded.action_normalizer.fitted)
    torch.testing.assert_close(loaded.action_normalizer.offset, policy.action_normalizer.offset)
    torch.testing.assert_close(
        loaded.encoder.proprio_normalizer.scale, policy.encoder.proprio_normalizer.scale
    )
    actions = loaded.sample(state_obs(8, policy.config), generator=torch.Generator().manual_seed(0))
    # executed motions stay inside the demonstrations' range; the gripper is a command
    motion = actions[..., :6]
    assert motion.min() >= 0.3 - 1e-5 and motion.max() <= 0.5 + 1e-5
    assert set(actions[..., 6].unique().tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("model_cls", [GaussianPolicy, ValueNetwork])
def test_gaussian_policy_and_value_network_round_trip(tmp_path, model_cls):
    torch.manual_seed(0)
    model = model_cls(tiny_config(encoder="mlp")).eval()
    save_checkpoint(tmp_path / "ckpt", model)
    loaded = load_checkpoint(tmp_path / "ckpt", kind=model_cls.kind)
    obs = state_obs(3, model.config)
    if model_cls is ValueNetwork:
        assert torch.equal(model(obs), loaded(obs))
    else:
        assert torch.equal(model.predict_action(obs), loaded.predict_action(obs))


def test_checkpoint_is_safetensors_and_json_only(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    manifest = json.loads((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    assert manifest["kind"] == "diffusion" and manifest["config"]["decoder"] == "unet"


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_loading_with_a_different_expected_config_names_the_differing_fields(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt", expected_config=tiny_config(decoder="mlp"))
    assert "decoder" in one_line_error(excinfo)


def test_loading_the_wrong_kind_of_model_is_refused(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt", kind="gaussian")
    assert "diffusion" in one_line_error(excinfo)


def test_truncated_weights_are_reported_as_a_corrupted_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    weights = tmp_path / "ckpt" / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt")
    assert "corrupted" in one_line_error(excinfo)


def test_unreadable_config_is_reported_as_a_corrupted_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    (tmp_path / "ckpt" / CONFIG_FILE).write_text("{not json")
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt")
    assert "corrupted" in one_line_error(excinfo)


def _forget_weights_hash(directory):
    """The checkpoint as one saved before weights hashes were recorded."""
    config = json.loads((directory / CONFIG_FILE).read_text())
    del config["weights_sha256"]
    (directory / CONFIG_FILE).write_text(json.dumps(config))


def test_weights_from_another_architecture_are_refused(tmp_path):
    save_checkpoint(tmp_path / "unet", fitted_diffusion_policy())
    save_checkpoint(tmp_path / "mlp", DiffusionChainPolicy(tiny_config(decoder="mlp")))
    (tmp_path / "unet" / WEIGHTS_FILE).write_bytes((tmp_path / "mlp" / WEIGHTS_FILE).read_bytes())
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "unet")
    assert "SHA-256 differs" in one_line_error(excinfo)
    _forget_weights_hash(tmp_path / "unet")
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "unet")
    assert "does not match its architecture" in one_line_error(excinfo)


def test_weights_changed_in_place_are_refused_by_their_recorded_hash(tmp_path):
    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    weights = tmp_path / "ckpt" / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # one bit of the last tensor's data: still a readable safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt")
    message = one_line_error(excinfo)
    assert "corrupted" in message and "SHA-256" in message and str(weights) in message


def test_non_finite_weights_are_refused_at_save_and_at_load(tmp_path):
    policy = fitted_diffusion_policy()
    name, tensor = next((n, t) for n, t in policy.state_dict().items() if t.is_floating_point())
    with torch.no_grad():
        tensor.view(-1)[0] = float("nan")
    with pytest.raises(UserError) as excinfo:
        save_checkpoint(tmp_path / "nan", policy)
    assert name in one_line_error(excinfo) and "NaN" in one_line_error(excinfo)
    assert not (tmp_path / "nan" / WEIGHTS_FILE).exists()

    from safetensors.torch import save_file

    save_checkpoint(tmp_path / "ckpt", fitted_diffusion_policy())
    _forget_weights_hash(tmp_path / "ckpt")
    save_file({n: t.contiguous() for n, t in policy.state_dict().items()},
              str(tmp_path / "ckpt" / WEIGHTS_FILE))
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path / "ckpt")
    assert name in one_line_error(excinfo) and "NaN" in one_line_error(excinfo)


def test_a_directory_without_a_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as excinfo:
        load_checkpoint(tmp_path)
    assert "not a policy checkpoint" in one_line_error(excinfo)
