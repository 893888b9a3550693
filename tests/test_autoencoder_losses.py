"""The contractive penalty and the masking corruption of Bengio et al.'s regularized autoencoders."""

import pytest
import torch

from lecturekit import losses


def test_contractive_penalty_equals_the_autograd_jacobian_norm():
    g = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    x = torch.randn(3, 6, generator=g)
    h = torch.sigmoid(layer(x))
    expected = torch.stack(
        [torch.autograd.functional.jacobian(lambda v: torch.sigmoid(layer(v)), xi).pow(2).sum() for xi in x]
    ).mean()
    assert torch.allclose(losses.contractive_penalty(h, layer.weight), expected, atol=1e-6)


def test_contractive_penalty_is_zero_for_saturated_units_and_checks_shapes():
    assert float(losses.contractive_penalty(torch.ones(2, 3), torch.randn(3, 5))) == 0.0
    with pytest.raises(ValueError, match="same k"):
        losses.contractive_penalty(torch.ones(2, 3), torch.randn(4, 5))


def test_mask_noise_zeroes_about_p_and_keeps_the_rest():
    x = torch.rand(100, 100) + 0.5
    out = losses.mask_noise(x, torch.Generator().manual_seed(0), p=0.3)
    zeroed = (out == 0).float().mean().item()
    assert 0.27 < zeroed < 0.33
    kept = out != 0
    assert torch.equal(out[kept], x[kept])
    with pytest.raises(ValueError, match="p must be"):
        losses.mask_noise(x, torch.Generator(), p=1.0)
