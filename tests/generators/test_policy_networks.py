"""Encoders, decoders, normalizer, EMA and the policy config's validation."""

from __future__ import annotations

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE, OBS_OBJECT_POSES, OBS_STATE, OBS_WRIST_IMAGE
from diffrl_eval.errors import UserError
from generators.policy.config import PolicyConfig
from generators.policy.diffusion import DiffusionModel
from generators.policy.ema import ExponentialMovingAverage
from generators.policy.normalizer import RangeNormalizer

torch.set_num_threads(1)


@pytest.mark.parametrize("decoder", ["unet", "mlp"])
def test_decoders_predict_noise_shaped_like_the_action_chunk(decoder):
    model = DiffusionModel(tiny_config(decoder=decoder))
    cond = model.encoder(state_obs(3, model.config))
    eps = model.decoder(torch.randn(3, 4, 7), torch.tensor([0, 50, 99]), cond)
    assert eps.shape == (3, 4, 7)


def test_unet_output_depends_on_the_diffusion_step_and_the_observation():
    torch.manual_seed(0)
    model = DiffusionModel(tiny_config())
    x = torch.randn(1, 4, 7)
    obs_a, obs_b = state_obs(1, model.config, seed=0), state_obs(1, model.config, seed=1)
    cond_a, cond_b = model.encoder(obs_a), model.encoder(obs_b)
    base = model.decoder(x, torch.tensor([10]), cond_a)
    assert not torch.allclose(base, model.decoder(x, torch.tensor([90]), cond_a))
    assert not torch.allclose(base, model.decoder(x, torch.tensor([10]), cond_b))


def test_resnet_encoder_reads_both_cameras_and_proprioception():
    config = tiny_config(encoder="resnet", image_size=32, encoder_channels=(8, 16))
    model = DiffusionModel(config)
    obs = state_obs(2, config)
    for key in (OBS_AGENTVIEW_IMAGE, OBS_WRIST_IMAGE):
        obs[key] = torch.randint(0, 256, (2, 2, 32, 32, 3), dtype=torch.uint8)
    cond = model.encoder(obs)
    assert cond.shape == (2, config.obs_feature_dim + 2 * config.proprio_dim)
    assert any(isinstance(m, torch.nn.GroupNorm) for m in model.encoder.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.modules())
    assert model.compute_loss(obs, torch.rand(2, 4, 7)).isfinite()


def test_mlp_encoder_reads_the_configured_low_dim_keys():
    config = tiny_config(lowdim_keys=(OBS_OBJECT_POSES,), lowdim_dim=6)
    model = DiffusionModel(config)
    obs = state_obs(2, config)
    obs[OBS_OBJECT_POSES] = torch.randn(2, 2, 6)
    model.fit_normalizers(obs, torch.rand(2, 4, 7))
    assert model.compute_loss(obs, torch.rand(2, 4, 7)).isfinite()
    with pytest.raises(KeyError):
        model.encoder({OBS_STATE: obs[OBS_STATE]})


def test_normalizer_maps_the_data_range_to_minus_one_one_and_back():
    normalizer = RangeNormalizer(3)
    data = torch.tensor([[0.0, -2.0, 5.0], [1.0, 2.0, 5.0], [0.5, 0.0, 5.0]])
    normalizer.fit(data)
    normalized = normalizer.normalize(data)
    assert normalized[:, 0].tolist() == pytest.approx([-1.0, 1.0, 0.0])
    assert normalized[:, 1].tolist() == pytest.approx([-1.0, 1.0, 0.0])
    assert normalized[:, 2].tolist() == pytest.approx([0.0, 0.0, 0.0])  # constant: centred only
    torch.testing.assert_close(normalizer.unnormalize(normalized), data)
    # whatever a model puts in a dimension the data never varied in maps back to the constant
    noisy = normalized + torch.tensor([0.5, -0.5, 0.9])
    assert normalizer.unnormalize(noisy)[:, 2].tolist() == [5.0, 5.0, 5.0]
    assert normalizer.unnormalize(noisy)[:, 0].tolist() == pytest.approx([0.25, 1.25, 0.75])


def test_ema_warms_up_then_trails_the_live_weights_at_the_configured_decay():
    live = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        live.weight.fill_(0.0)
    ema = ExponentialMovingAverage(live, decay=0.9)
    with torch.no_grad():
        live.weight.fill_(1.0)
    ema.update(live)  # decay min(0.9, 1/10) = 0.1 -> 0.9
    assert ema.averaged.weight.item() == pytest.approx(0.9)
    ema.updates = 1000
    ema.update(live)  # decay 0.9: 0.9 * 0.9 + 0.1 * 1 = 0.91
    assert ema.averaged.weight.item() == pytest.approx(0.91)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"action_steps": 20, "horizon": 16}, "action_steps"),
        ({"sampler": "euler"}, "sampler"),
        ({"decoder": "transformer"}, "decoder"),
        ({"encoder": "vit"}, "encoder"),
        ({"horizon": 10}, "horizon"),
        ({"denoising_steps": 200}, "denoising_steps"),
        ({"min_std": 0.0}, "min_std"),
        ({"lowdim_keys": (OBS_OBJECT_POSES,)}, "lowdim"),
    ],
)
def test_policy_config_rejects_nonsense_with_a_one_line_error(overrides, field):
    with pytest.raises(UserError, match=field) as excinfo:
        PolicyConfig(**overrides)
    assert "\n" not in str(excinfo.value)


def test_policy_config_survives_a_dict_round_trip():
    config = tiny_config(encoder="resnet", decoder="mlp")
    assert PolicyConfig.from_dict(config.to_dict()) == config
