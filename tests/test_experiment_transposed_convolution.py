"""The upsampling experiment: the checkerboard measure, the fixed upsamplers, PSNR and training."""

import math

import numpy as np
import pytest
import torch

from dlbook.data import Split
from dlbook.experiments import transposed_convolution as U
from dlbook.scratch import conv2d


def test_contrast_of_constant_kernels_on_a_flat_image():
    flat = np.full((12, 12), 0.5)
    # Kernel 2 and kernel 4 cover every interior pixel equally often: no checkerboard at all.
    assert U.checkerboard_contrast(U.constant_transposed(flat, 2)) == 0
    assert U.checkerboard_contrast(U.constant_transposed(flat, 4, padding=1)) < 1e-15
    # Kernel 3: the phases get 1, 2, 2 and 4 stamps of weight 4/9, so gains 4/9, 8/9, 8/9, 16/9,
    # mean 1 and population std sqrt((25 + 1 + 1 + 49) / 4) / 9 = sqrt(19) / 9.
    k3 = U.constant_transposed(flat, 3, padding=1, output_padding=1)
    assert k3.shape == (24, 24)
    assert U.checkerboard_contrast(k3) == pytest.approx(math.sqrt(19) / 9, rel=1e-12)
    assert U.checkerboard_contrast(k3) > 0.48


def test_contrast_is_the_nyquist_to_dc_energy_ratio():
    u = np.random.default_rng(0).uniform(0.2, 1.0, (3, 16, 16))
    energy = np.abs(np.fft.fft2(u)) ** 2
    nyquist = energy[:, 8, 0] + energy[:, 0, 8] + energy[:, 8, 8]
    expected = np.sqrt(nyquist / energy[:, 0, 0])
    got = U.checkerboard_contrast(u, border=0)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_contrast_ignores_the_border():
    u = np.ones((12, 12))
    u[0] = 5.0  # only the even rows: a checkerboard, if the border counted
    assert U.checkerboard_contrast(u, border=1) == 0
    assert U.checkerboard_contrast(u, border=0) > 0


def test_resize_conv_is_resize_then_box_blur():
    img = np.random.default_rng(1).uniform(size=(6, 7))
    out = U.resize_conv(img, "nearest")
    box = np.full((1, 1, 3, 3), 1 / 9)
    expected = conv2d(img.repeat(2, axis=0).repeat(2, axis=1)[None, None], box, padding=1)[0, 0]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-14)
    assert U.resize_conv(np.full((10, 10), 0.3), "bilinear").shape == (20, 20)
    assert U.checkerboard_contrast(U.resize_conv(np.full((10, 10), 0.3), "bilinear")) < 1e-12


def test_psnr_known_values():
    target = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert U.psnr(target, target) == math.inf
    # A uniform error of 0.1 is a mean squared error of 0.01: 10 log10(100) = 20 dB.
    assert U.psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-4)
    off_border = target.clone()
    off_border[..., 0, :] += 0.5
    assert U.psnr(off_border, target, border=1) == math.inf
    assert U.psnr(off_border, target) < 30
    assert U.psnr(target.numpy(), target.numpy()) == math.inf


def test_make_layer_doubles_the_size_and_is_seeded():
    x = torch.rand(2, 1, 8, 8)
    for kind in U.KINDS:
        layer = U.make_layer(kind)
        assert layer(x).shape == (2, 1, 16, 16)
        again = U.make_layer(kind)
        for a, b in zip(layer.parameters(), again.parameters()):
            assert torch.equal(a, b)
    # A layer of a constrained kind answers a flat input with a flat output, whatever its weights.
    assert U.flat_contrast(U.make_layer("resize-conv", seed=3)) < 1e-6
    assert U.flat_contrast(U.make_layer("transposed k=3", seed=3)) > 0.01


@pytest.fixture(scope="module")
def camera_tiles():
    return U.photo_tiles(("camera",), tile=64)


def test_photo_tiles_split(camera_tiles):
    data = camera_tiles
    assert isinstance(data, Split)
    assert data.x_train.shape == (48, 1, 32, 32) and data.y_train.shape == (48, 1, 64, 64)
    assert data.x_test.shape == (16, 1, 32, 32) and data.x_test.dtype == np.float32
    pooled = data.y_test.reshape(16, 1, 32, 2, 32, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(data.x_test, pooled, atol=1e-6)


def test_short_training_run_improves_and_restores_threads(camera_tiles):
    data = camera_tiles
    threads = torch.get_num_threads()
    run = U.train_upsamplers(data, kinds=("transposed k=3",), steps=40, every=10, device="cpu")
    assert torch.get_num_threads() == threads
    kind = "transposed k=3"
    untrained = U.make_layer(kind)
    with torch.no_grad():
        before = U.psnr(untrained(torch.as_tensor(data.x_test)), torch.as_tensor(data.y_test))
    assert run.scores[kind]["psnr"] > before + 3
    assert len(run.curves[kind]) == 5
    assert run.scores[kind]["init"] == run.curves[kind][0] > run.scores[kind]["final"]
    assert run.scores[kind]["final"] == pytest.approx(run.curves[kind][-1])
    assert set(run.scores) == {kind, "bilinear (fixed)"}
    assert math.isnan(run.scores["bilinear (fixed)"]["init"])
    assert run.first_step_below(math.inf) == {kind: 0}
    assert run.first_step_below(0.0) == {kind: None}
    assert "transposed k=3" in run.table() and "bilinear (fixed)" in run.table()


def test_threads_restored_after_an_error():
    x = np.zeros((4, 1, 32, 32), np.float32)
    bad = Split(np.zeros((4, 2, 32, 32), np.float32), x, x, x)  # two channels: conv fails
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        U.train_upsamplers(bad, kinds=("resize-conv",), steps=2, every=1, device="cpu")
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: U.checkerboard_contrast(np.ones((12, 12)), border=-1), "border"),
        (lambda: U.checkerboard_contrast(np.ones((12, 12)), border=6), "border"),
        (lambda: U.checkerboard_contrast(np.ones(12)), "u"),
        (lambda: U.constant_transposed(np.ones((4, 4)), 0), "kernel_size"),
        (lambda: U.constant_transposed(np.ones((1, 4, 4)), 2), "img"),
        (lambda: U.constant_transposed(np.ones((4, 4)), 2, stride=0), "stride"),
        (lambda: U.resize_conv(np.ones((4, 4)), "bicubic"), "mode"),
        (lambda: U.psnr(torch.zeros(4, 4), torch.zeros(4, 5)), "pred and target"),
        (lambda: U.psnr(torch.zeros(4, 4), torch.zeros(4, 4), border=2), "border"),
        (lambda: U.make_layer("transposed k=5"), "kind"),
        (lambda: U.flat_contrast(U.make_layer("resize-conv"), size=4), "size"),
        (lambda: U.photo_tiles(tile=63), "tile"),
        (lambda: U.photo_tiles(holdout=1), "holdout"),
        (lambda: U.photo_tiles(("coins",)), "names"),
        (lambda: U.photo_tiles(()), "names"),
    ],
)
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(steps=0), "steps"),
        (dict(every=0), "every"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(kinds=("bilinear",)), "kinds"),
        (dict(kinds=()), "kinds"),
    ],
)
def test_train_upsamplers_bad_arguments(kwargs, name):
    x = np.zeros((2, 1, 16, 16), np.float32)
    data = Split(x, np.zeros((2, 1, 32, 32), np.float32), x, x)
    with pytest.raises(ValueError, match=name):
        U.train_upsamplers(data, device="cpu", **kwargs)


def test_output_sizes_against_torch():
    table = U.output_sizes_against_torch(
        range(1, 5), (1, 3, 4), (1, 2), (0, 1, 2), (1, 2), (0, 1, 2)
    )
    assert len(table) == 4 * 3 * 2 * 3 * 2 * 3
    for (n, k, s, p, d, op), (ours, theirs) in table.items():
        # Either both agree (a size, or both refuse), or torch returns an empty tensor.
        assert ours == theirs or (ours is None and theirs == 0), (n, k, s, p, d, op)
    assert table[4, 3, 2, 1, 1, 1] == (8, 8)  # (4 - 1) 2 - 2 + 2 + 1 + 1
    assert table[4, 3, 2, 1, 1, 2] == (None, None)  # output_padding must be below the stride
    assert table[1, 4, 1, 2, 1, 0] == (None, 0)  # 0 - 4 + 3 + 0 + 1 = 0: torch gives empty


def test_zero_insert_puts_stride_minus_one_zeros_between_pixels():
    x = np.arange(1.0, 7.0).reshape(1, 2, 3)
    z = U.zero_insert(x, (2, 3))
    assert z.shape == (1, 3, 7)
    assert np.array_equal(z[0, ::2, ::3], x[0]) and z.sum() == x.sum()
    assert np.array_equal(U.zero_insert(x, 1), x)


GRID = [
    (s, p, op, d, g, k)
    for s in (1, 2, 3)
    for p in (0, 1, 3)
    for op in (0, 1, 2)
    for d in (1, 2)
    for g in (1, 2)
    for k in (1, 3)
    if op < max(s, d)
]


@pytest.mark.parametrize(("s", "p", "op", "d", "g", "k"), GRID)
def test_zero_insertion_equals_torch_and_scratch(s, p, op, d, g, k):
    import torch.nn.functional as F

    from dlbook.scratch import conv_transpose2d

    rng = np.random.default_rng(s * 100 + p * 10 + op)
    x = rng.standard_normal((2, 4, 4, 5))
    w = rng.standard_normal((4, 3, k, k + 1))
    b = rng.standard_normal(3 * g)
    args = (s, p, op, g, d)
    try:
        want = F.conv_transpose2d(*map(torch.tensor, (x, w, b)), *args).numpy()
    except RuntimeError:
        with pytest.raises(ValueError):
            U.conv_transpose2d_zero_insertion(x, w, b, *args)
        return
    if want.size == 0:  # torch returns an empty map where dlbook refuses
        with pytest.raises(ValueError):
            U.conv_transpose2d_zero_insertion(x, w, b, *args)
        return
    got = U.conv_transpose2d_zero_insertion(x, w, b, *args)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-10
    assert np.abs(got - conv_transpose2d(x, w, b, *args)).max() <= 1e-10


def test_zero_insertion_per_axis_settings_and_bad_arguments():
    import torch.nn.functional as F

    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 2, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2))
    want = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw).numpy()
    assert np.abs(U.conv_transpose2d_zero_insertion(x, w, **kw) - want).max() <= 1e-10
    with pytest.raises(ValueError, match="output_padding"):
        U.conv_transpose2d_zero_insertion(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="groups"):
        U.conv_transpose2d_zero_insertion(x, w, groups=3)
    with pytest.raises(ValueError, match="4-D"):
        U.conv_transpose2d_zero_insertion(x[0], w)
