"""Rectified flow: samplers against a velocity field with a closed-form solution; guidance; loss."""

import pytest
import torch

from worldengine.model.flow import SamplerConfig, flow_loss, guided, interpolate, sample, time_grid, velocity_from_clean

MU, SIGMA = 2.0, 0.5  # data ~ N(MU, SIGMA^2), noise ~ N(0, 1)


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[x1 - x0 | x_t] for Gaussian data: the exact marginal velocity of rectified flow.
    Its ODE maps noise x0 to MU + SIGMA * x0 (x(t) = t MU + sqrt(t^2 SIGMA^2 + (1-t)^2) x0)."""
    t = t.view(-1, *([1] * (x.ndim - 1))).double()
    gain = (t * SIGMA ** 2 - (1 - t)) / (t ** 2 * SIGMA ** 2 + (1 - t) ** 2)
    return (MU + gain * (x.double() - t * MU)).to(x.dtype)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_sampler_converges_to_closed_form(method):
    noise = torch.randn(64, 3, dtype=torch.float64)
    exact = MU + SIGMA * noise
    errors = [(sample(gaussian_velocity, noise, SamplerConfig(steps=n, method=method)) - exact).abs().max().item()
              for n in (4, 16, 64)]
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < (0.06 if method == "euler" else 2e-3)  # first order vs second order


def test_heun_beats_euler_at_equal_steps():
    noise = torch.randn(64, 3, dtype=torch.float64)
    exact = MU + SIGMA * noise
    euler = (sample(gaussian_velocity, noise, SamplerConfig(steps=8, method="euler")) - exact).abs().max()
    heun = (sample(gaussian_velocity, noise, SamplerConfig(steps=8, method="heun")) - exact).abs().max()
    assert heun < euler / 5


def test_time_grid_and_shift():
    grid = time_grid(4)
    assert torch.allclose(grid, torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    shifted = time_grid(4, shift=3.0)
    assert shifted[0] == 0 and shifted[-1] == 1 and (shifted[1:-1] < grid[1:-1]).all()


def test_x_prediction_velocity_and_last_euler_step_lands_on_it():
    noise, data = torch.randn(5, 4), torch.randn(5, 4)
    t = torch.full((5,), 0.3)
    x_t = interpolate(noise, data, t)
    assert torch.allclose(velocity_from_clean(data, x_t, t), data - noise, atol=1e-5)
    assert flow_loss(data, noise, data, x_t, t).item() < 1e-10
    clean = torch.randn(5, 4)
    out = sample(lambda x, tt: velocity_from_clean(clean, x, tt), noise, SamplerConfig(steps=1))
    assert torch.allclose(out, clean, atol=1e-6)


def test_flow_loss_weight_selects_entries():
    noise, data = torch.zeros(2, 3), torch.ones(2, 3)
    t = torch.zeros(2)
    wrong = torch.tensor([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]])
    weight = torch.tensor([[1.0], [0.0]])
    assert flow_loss(wrong, noise, data, noise, t, weight).item() == pytest.approx(0.0)
    assert flow_loss(wrong, noise, data, noise, t).item() == pytest.approx(8.0)


def test_guidance_composition():
    table = {(True, True): torch.tensor(3.0), (True, False): torch.tensor(2.0), (False, False): torch.tensor(0.5)}
    calls = []

    def velocities(memory_on, action_on):
        calls.append((memory_on, action_on))
        return table[(memory_on, action_on)]

    assert guided(velocities, SamplerConfig()).item() == 3.0 and calls == [(True, True)]
    v = guided(velocities, SamplerConfig(memory_guidance=2.0, action_guidance=3.0))
    assert v.item() == pytest.approx(0.5 + 2.0 * (2.0 - 0.5) + 3.0 * (3.0 - 2.0))


def test_bad_sampler_settings():
    with pytest.raises(ValueError, match="steps"):
        SamplerConfig(steps=0)
    with pytest.raises(ValueError, match="method"):
        SamplerConfig(method="rk4")
