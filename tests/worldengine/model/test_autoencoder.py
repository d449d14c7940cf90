from dataclasses import replace

import pytest
import torch

from worldengine.geometry.padding import pad_faces
from worldengine.model.autoencoder import (
    AutoencoderConfig,
    CubeAutoencoder,
    CubeConv,
    depth_to_disparity,
    disparity_to_depth,
    pack_rgbd,
    unpack_rgbd,
)

SMALL = AutoencoderConfig(face_size=16, widths=(8, 16, 16), latent_channels=4)


def test_disparity_round_trip_and_bounds():
    depth = torch.tensor([0.0, 0.1, 0.25, 0.5, 1.0, 4.0, 30.0, 300.0])
    disparity = depth_to_disparity(depth, 0.25)
    assert disparity.min() >= 0 and disparity.max() <= 1
    assert disparity[0] == 0 and disparity[1] == 1  # sky, and closer than `near`
    back = disparity_to_depth(disparity, 0.25, 0.02)
    torch.testing.assert_close(back[2:], depth[2:])  # invertible from `near` out to 0.25 / 0.02^2 = 625 m
    assert back[0] == 0
    assert disparity_to_depth(depth_to_disparity(torch.tensor([1000.0]), 0.25), 0.25, 0.02) == 0  # beyond: sky


def test_pack_unpack_round_trip():
    rgb = torch.randint(0, 256, (1, 6, 8, 8, 3), dtype=torch.uint8)
    depth = torch.rand(1, 6, 8, 8) * 10 + 0.3
    colour, back = unpack_rgbd(pack_rgbd(rgb, depth, 0.25), 0.25, 0.02)
    torch.testing.assert_close((colour * 255).round(), rgb.float())
    torch.testing.assert_close(back, depth, rtol=1e-5, atol=1e-5)


def test_shapes_and_latent_grid():
    model = CubeAutoencoder(SMALL)
    x = torch.rand(2, 6, 4, 16, 16) * 2 - 1
    z = model.encode(x)
    assert z.shape == (2, 6, 4, 4, 4) and model.decode(z).shape == x.shape
    assert model.encode(torch.rand(1, 6, 4, 32, 32)).shape == (1, 6, 4, 8, 8)  # other face sizes too


def test_border_convolutions_see_the_neighbouring_face():
    conv = CubeConv(1, 1)
    torch.nn.init.constant_(conv.conv.weight, 1.0)
    torch.nn.init.zeros_(conv.conv.bias)
    x = torch.zeros(1, 6, 1, 8, 8)
    x[0, 1, 0, :, 0] = 1.0  # R's left column touches F's right edge
    out = conv(x)
    assert (out[0, 0, 0, :, -1] > 0).all()  # F's right border column responds
    assert out[0, 0, 0, :, :-1].abs().max() == 0
    expected = torch.nn.functional.conv2d(pad_faces(x, 1, "copy")[0], conv.conv.weight)
    torch.testing.assert_close(out[0], expected)


def test_latent_statistics_normalise():
    model = CubeAutoencoder(SMALL)
    x = torch.rand(3, 6, 4, 16, 16) * 2 - 1
    model.set_latent_statistics(model.encoder(x))
    z = model.encode(x)
    flat = z.transpose(0, 2).reshape(4, -1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(flat.std(1), torch.ones(4), atol=1e-3, rtol=0)


def test_bad_inputs_and_configs():
    model = CubeAutoencoder(SMALL)
    with pytest.raises(ValueError, match=r"\(B, 6, 4, S, S\)"):
        model.encode(torch.zeros(1, 5, 4, 16, 16))
    with pytest.raises(ValueError, match="multiple of the stride"):
        model.encode(torch.zeros(1, 6, 4, 18, 18))
    with pytest.raises(ValueError, match="latents must have shape"):
        model.decode(torch.zeros(1, 6, 3, 4, 4))
    with pytest.raises(ValueError, match="version"):
        AutoencoderConfig(version=2)
    with pytest.raises(ValueError, match="downsamplings"):
        AutoencoderConfig(stride=8)
    with pytest.raises(ValueError, match="unknown autoencoder config fields"):
        AutoencoderConfig.from_dict({"face_size": 64, "colour": "red"})
    with pytest.raises(ValueError, match="decoder_blocks 0 must be at least 1"):
        AutoencoderConfig(decoder_blocks=0)
    with pytest.raises(ValueError, match="'decoder_blocks' must be an integer"):
        AutoencoderConfig.from_dict({"decoder_blocks": 1.5})


def test_decoder_blocks_deepen_each_upsampled_level_and_default_to_the_shipped_layout():
    """A config.json written before decoder_blocks existed builds the decoder it was trained
    with (one block per upsampled level); more blocks add them after every upsampling."""
    def blocks(config):
        return [type(layer).__name__ for layer in CubeAutoencoder(config).decoder.layers]

    assert AutoencoderConfig.from_dict({"face_size": 16, "widths": [8, 16, 16], "latent_channels": 4}) == SMALL
    assert blocks(SMALL) == ["CubeConv", "ResBlock", "ResBlock", "Upsample", "ResBlock", "Upsample", "ResBlock",
                             "CubeConv"]
    assert blocks(replace(SMALL, decoder_blocks=3)) == ["CubeConv", "ResBlock", "ResBlock"] + \
        ["Upsample", "ResBlock", "ResBlock", "ResBlock"] * 2 + ["CubeConv"]


def test_shipped_weights_load_and_reconstruct_a_heldout_view():
    from benchmarks.autoencoder import heldout_cubemaps
    from worldengine.model.checkpoint import DEFAULT_AUTOENCODER, load_autoencoder

    model = load_autoencoder(DEFAULT_AUTOENCODER)
    view = heldout_cubemaps(1, model.config.face_size, [1_000_050])[0]
    with torch.no_grad():
        x = pack_rgbd(view["rgb"], view["depth"], model.config.near)
        z = model.encode(x)
        rgb, depth = unpack_rgbd(model.decode(z), model.config.near, model.config.sky_below)
    psnr = 10 * torch.log10(1 / ((rgb - view["rgb"].float() / 255) ** 2).mean())
    surface = view["depth"] > 0
    absrel = ((depth - view["depth"]).abs() / view["depth"].clamp_min(1e-6))[surface].mean()
    assert psnr > 20 and absrel < 0.06  # shipped figures (48 views): 23.7 dB, 0.028
    assert 0.3 < z.std() < 3  # latents normalised to about unit variance
