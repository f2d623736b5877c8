"""The textures-and-style chapter's experiments on tiny networks and images: the random network's
shapes and seeds, the torch Gram matrix against the scratch one, what the Gram matrices ignore,
and that synthesis and style transfer lower their losses."""

import numpy as np
import pytest
import torch

from dlbook.experiments import textures_style as exp
from dlbook.scratch.gram import gram_matrix

SMALL = (4, 8, 8)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: a second thread only spins (ten times the CPU time on two cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_textures_and_photo_are_small_grey_images_in_the_unit_interval():
    for name in exp.TEXTURES:
        t = exp.texture(name, size=16)
        assert t.shape == (16, 16) and t.dtype == np.float32
        assert 0 <= t.min() < t.max() <= 1
    assert exp.photo("camera", size=16).shape == (16, 16)
    with pytest.raises(ValueError, match="name must be one of"):
        exp.texture("camera")


def test_random_features_shapes_receptive_fields_and_seeds(monkeypatch):
    net = exp.RandomFeatures(widths=SMALL)
    feats = net(torch.rand(2, 1, 16, 16))
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 8, 4, 4)]
    assert all((f >= 0).all() for f in feats)  # after a ReLU
    assert net.receptive_fields() == [3, 8, 18]
    assert not any(p.requires_grad for p in net.parameters())
    shorter = exp.RandomFeatures(widths=SMALL[:1])
    assert torch.equal(shorter.convs[0].weight, net.convs[0].weight)
    assert torch.equal(exp.RandomFeatures(widths=SMALL).convs[1].weight, net.convs[1].weight)
    monkeypatch.setenv("DLBOOK_SEED", "1")
    assert not torch.equal(exp.RandomFeatures(widths=SMALL).convs[0].weight, net.convs[0].weight)


def test_gram_matrix_torch_equals_scratch():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
    ours = exp.gram_matrix_torch(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(ours, gram_matrix(x), rtol=0, atol=1e-12)


def test_gram_losses_ignore_shifts_by_multiples_of_four_but_not_other_textures():
    net = exp.RandomFeatures(widths=SMALL)
    brick = exp.texture("brick", size=32)
    assert exp.gram_losses(net, brick, brick).max() == 0
    assert exp.gram_losses(net, exp.roll(brick, (4, 8)), brick).max() < 1e-10
    assert exp.gram_losses(net, exp.roll(brick, (1, 0)), brick)[1:].max() > 1e-8
    assert exp.gram_losses(net, exp.texture("gravel", size=32), brick).min() > 1e-3


def test_shuffle_tiles_permutes_whole_tiles():
    image = np.arange(64.0).reshape(8, 8)
    out = exp.shuffle_tiles(image, 4)
    assert sorted(out.ravel()) == sorted(image.ravel())
    tiles = {tuple(image[i : i + 4, j : j + 4].ravel()) for i in (0, 4) for j in (0, 4)}
    assert {tuple(out[i : i + 4, j : j + 4].ravel()) for i in (0, 4) for j in (0, 4)} == tiles
    with pytest.raises(ValueError, match="tile"):
        exp.shuffle_tiles(image, 3)


def test_synthesis_lowers_the_gram_loss_and_keeps_its_frames():
    net = exp.RandomFeatures(widths=SMALL)
    style = exp.texture("gravel", size=16)
    run = exp.synthesize(net, style, steps=20, snapshots=(0, 5, 20), device="cpu")
    assert len(run["style_loss"]) == 21
    assert run["style_loss"][-1] < run["style_loss"][0] / 10
    assert sorted(run["frames"]) == [0, 5, 20]
    assert run["image"].shape == (16, 16) and 0 <= run["image"].min() <= run["image"].max() <= 1
    assert not np.any(run["content_loss"])
    np.testing.assert_allclose(run["frames"][20], run["image"])
    only = exp.synthesize(net, style, steps=20, layers=(0,), device="cpu")
    first = exp.gram_losses(net, only["image"], style)
    assert first[0] < first[1:].min()


def test_style_transfer_starts_from_the_content_and_trades_it_for_style():
    net = exp.RandomFeatures(widths=SMALL)
    content, style = exp.photo("camera", size=16), exp.texture("brick", size=16)
    runs = [exp.synthesize(net, style, steps=15, content=content, style_weight=w, device="cpu")
            for w in (0.01, 1.0)]  # fmt: skip
    assert runs[0]["content_loss"][0] == 0
    assert runs[1]["style_loss"][-1] < runs[1]["style_loss"][0] / 10
    assert runs[1]["content_loss"][-1] > runs[0]["content_loss"][-1]
    with pytest.raises(ValueError, match="grey"):
        exp.synthesize(net, np.zeros((3, 8, 8)), steps=1, device="cpu")
