"""Exploration noise correlated along the chunk's time axis (AR(1), unit marginal variance).

The element-wise conditional log-densities are checked against torch's multivariate
normal with the AR(1) covariance written out; the sampler against that covariance.
"""

from __future__ import annotations

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from generators.policy import time_correlated_noise as tcn
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy

torch.set_num_threads(1)


def ar1_covariance(length: int, rho: float) -> torch.Tensor:
    """(T, T) correlation rho^|i-j| (a stationary AR(1) with unit variance)."""
    index = torch.arange(length, dtype=torch.float64)
    return rho ** (index[:, None] - index[None, :]).abs()


@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_the_sampler_has_the_ar1_covariance_along_time(rho):
    # correlate is linear: applied to the identity along time it gives the factor L with
    # L L^T the covariance of its output
    length = 6
    basis = torch.eye(length, dtype=torch.float64)[:, :, None]  # (T draws, T, Da=1)
    factor = tcn.correlate(basis, rho)[..., 0].T  # column j: response to e_j
    torch.testing.assert_close(factor @ factor.T, ar1_covariance(length, rho))


@pytest.mark.parametrize("rho", [0.5, 0.95])
def test_summed_log_probs_are_the_multivariate_normal_density_of_any_prefix(rho):
    generator = torch.Generator().manual_seed(0)
    batch, length, dims = 5, 6, 3
    mean = torch.randn(batch, length, dims, generator=generator, dtype=torch.float64)
    x = mean + 0.3 * torch.randn(batch, length, dims, generator=generator, dtype=torch.float64)
    std = torch.full((batch, 1, 1), 0.2, dtype=torch.float64)
    element = tcn.log_prob(x, mean, std, rho)
    assert element.shape == (batch, length, dims)
    for prefix in (1, 3, length):
        covariance = 0.2 ** 2 * ar1_covariance(prefix, rho)
        reference = torch.distributions.MultivariateNormal(
            mean[:, :prefix].transpose(1, 2), covariance_matrix=covariance)
        expected = reference.log_prob(x[:, :prefix].transpose(1, 2)).sum(-1)  # over Da
        torch.testing.assert_close(element[:, :prefix].sum((1, 2)), expected)
    entropy = tcn.entropy(std, x.shape, rho).sum((1, 2))
    full = torch.distributions.MultivariateNormal(
        torch.zeros(length, dtype=torch.float64),
        covariance_matrix=0.2 ** 2 * ar1_covariance(length, rho)).entropy() * dims
    torch.testing.assert_close(entropy, full.expand(batch))


def test_zero_correlation_is_the_independent_normal_exactly():
    generator = torch.Generator().manual_seed(1)
    noise = torch.randn(4, 8, 7, generator=generator)
    assert tcn.correlate(noise, 0.0) is noise
    mean, std = torch.randn(4, 8, 7, generator=generator), torch.full((4, 1, 1), 0.1)
    x = mean + std * noise
    assert torch.equal(tcn.log_prob(x, mean, std, 0.0),
                       torch.distributions.Normal(mean, std).log_prob(x))


@pytest.mark.parametrize("head", [DiffusionChainPolicy, GaussianPolicy])
def test_rescoring_a_correlated_sample_gives_back_its_sampling_log_probs(head):
    torch.manual_seed(0)
    policy = head(tiny_config(noise_time_correlation=0.9))
    obs = state_obs(4, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(3))
    log_prob, entropy = policy.log_prob_and_entropy(obs, step.record)
    torch.testing.assert_close(log_prob, step.log_prob, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(entropy).all()
    if head is GaussianPolicy:  # its sample minus its mean is the noise: neighbours move together
        residual = step.record - policy.act(obs, deterministic=True).record
        pairs = torch.stack([residual[:, :-1].flatten(), residual[:, 1:].flatten()])
        assert torch.corrcoef(pairs)[0, 1] > 0.5


def test_a_correlation_outside_zero_to_one_is_refused():
    from diffrl_eval.errors import UserError

    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(UserError, match=r"noise_time_correlation must be in \[0, 1\)"):
            tiny_config(noise_time_correlation=bad)
