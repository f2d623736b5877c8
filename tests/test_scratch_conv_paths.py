"""The branches the random cases rarely reach: the chunked core, every padding string, the naive
versions on unbatched and float32 input, one-element tuples, and the shared argument checks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from threadpoolctl import threadpool_limits

from dlbook import checks
from dlbook.scratch import (
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_naive,
    conv_core,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_naive,
)
from dlbook.scratch.im2col import im2col, windows


@pytest.fixture
def plans(monkeypatch):
    """Record how the engine cuts the batch on every call: one Plan per call."""
    made = []
    real = conv_core.plan

    def spy(n, bytes_per_image, workers):
        cut = real(n, bytes_per_image, workers)
        made.append(cut)
        spy.bytes_per_image = bytes_per_image
        return cut

    monkeypatch.setattr(conv_core, "plan", spy)
    return made


def chunks(cut):
    """The chunks a Plan makes, as (first, stop) pairs, worker by worker."""
    return [
        (s, min(s + cut.step, stop))
        for first, stop in cut.ranges
        for s in range(first, stop, cut.step)
    ]


# --- the chunked path -----------------------------------------------------------------------------


def test_a_real_large_batch_is_chunked_and_still_equals_torch(plans, rng):
    # 8 images of 16 channels, 32x32, 3x3 kernel: each image's columns take 16*9*32*34*8 bytes
    # (1.25 MB, wide grid) in float64, so 2 MiB holds one image at a time.
    x = rng.standard_normal((8, 16, 32, 32))
    w = rng.standard_normal((8, 16, 3, 3))
    b = rng.standard_normal(8)
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, b))
    assert_close(conv2d(x, w, b), out)
    for ours, theirs in zip(conv2d_backward(g, x, w, b), grads):
        assert_close(ours, theirs, tol=1e-9)
    assert len(plans) == 2  # the forward, and the backward's one pass
    assert all(len(chunks(cut)) == 8 for cut in plans), plans


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=(2, 1), groups=2)],
    ids=["plain", "strided", "same-dilated-grouped"],
)
def test_uneven_chunks_equal_torch(kw, monkeypatch, plans, rng):
    # A small limit makes three images fit per chunk: 7 images -> chunks of 3, 3 and 1, so the
    # last one uses only part of the reused buffers.
    x = rng.standard_normal((7, 4, 6, 5))
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 2))
    b = rng.standard_normal(6)
    conv2d(x, w, b, **kw)
    monkeypatch.setattr(conv_core, "CACHE_BYTES", 3 * conv_core.plan.bytes_per_image)
    plans.clear()
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, b), **kw)
    assert_close(conv2d(x, w, b, **kw), out)
    for ours, theirs in zip(conv2d_backward(g, x, w, b, **kw), grads):
        assert_close(ours, theirs)
    assert [chunks(cut) for cut in plans] == [[(0, 3), (3, 6), (6, 7)]] * 2


def test_transposed_convolution_through_the_chunked_core(monkeypatch, plans, rng):
    monkeypatch.setattr(conv_core, "CACHE_BYTES", 1)  # one image per chunk
    x, w, b = rng.standard_normal((5, 4, 4, 3)), rng.standard_normal((4, 3, 3, 3)), np.ones(3)
    kw = dict(stride=2, padding=1, output_padding=1)
    out, g, grads = torch_forward_backward(F.conv_transpose2d, (x, w, b), **kw)
    assert_close(conv_transpose2d(x, w, b, **kw), out)
    for ours, theirs in zip(conv_transpose2d_backward(g, x, w, b, **kw), grads):
        assert_close(ours, theirs)
    assert [len(chunks(cut)) for cut in plans] == [5, 5, 5]


# --- the worker threads ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,workers", [(7, 2), (9, 3), (2, 4)])
def test_the_plan_splits_the_batch_into_even_ranges(n, workers, monkeypatch):
    monkeypatch.setattr(conv_core, "PARALLEL_BYTES", 0)
    cut = conv_core.plan(n, bytes_per_image=1 << 20, workers=workers)
    assert len(cut.ranges) == min(n, workers)
    assert cut.ranges[0][0] == 0 and cut.ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(cut.ranges, cut.ranges[1:]))  # contiguous, no gap
    sizes = [stop - first for first, stop in cut.ranges]
    assert max(sizes) - min(sizes) <= 1
    assert cut.step == min(2, max(sizes))  # 2 MiB of columns: two images of 1 MiB per chunk


def test_a_small_batch_stays_in_one_thread():
    assert len(conv_core.plan(8, bytes_per_image=1000, workers=2).ranges) == 1
    assert len(conv_core.plan(8, bytes_per_image=1 << 20, workers=2).ranges) == 2


def test_a_split_run_limits_blas_to_one_thread_and_restores_it():
    cut = conv_core.Plan(ranges=((0, 1), (1, 2)), step=1)
    with threadpool_limits(limits=2, user_api="blas"):
        if conv_core.blas_threads() != 2:
            pytest.skip("NumPy's BLAS here cannot run two threads")
        seen = conv_core._run(lambda first, stop, step: conv_core.blas_threads(), cut)
        assert seen == [1, 1]
        assert conv_core.blas_threads() == 2


@pytest.mark.parametrize(
    "kw",
    [dict(padding=1), dict(stride=(2, 1), dilation=2, groups=2), dict(padding="same")],
    ids=["padded", "strided-dilated-grouped", "same"],
)
def test_worker_threads_equal_torch(kw, monkeypatch, plans, rng):
    # The tests run NumPy's BLAS on one thread, so the split path is forced: three workers over
    # 8 images (2, 3 and 3) in chunks of 2, so two of the workers end on a partial chunk.
    monkeypatch.setattr(conv_core, "blas_threads", lambda: 3)
    monkeypatch.setattr(conv_core, "PARALLEL_BYTES", 0)
    x, w, b = (
        rng.standard_normal((8, 4, 7, 6)),
        rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 3)),
        rng.standard_normal(6),
    )
    conv2d(x, w, b, **kw)
    monkeypatch.setattr(conv_core, "CACHE_BYTES", 2 * conv_core.plan.bytes_per_image)
    plans.clear()
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, b), **kw)
    assert_close(conv2d(x, w, b, **kw), out)
    for ours, theirs in zip(conv2d_backward(g, x, w, b, **kw), grads):
        assert_close(ours, theirs)
    assert [chunks(cut) for cut in plans] == [[(0, 2), (2, 4), (4, 5), (5, 7), (7, 8)]] * 2


def test_worker_threads_for_the_transposed_convolution(monkeypatch, rng):
    monkeypatch.setattr(conv_core, "blas_threads", lambda: 2)
    monkeypatch.setattr(conv_core, "PARALLEL_BYTES", 0)
    x, w, b = rng.standard_normal((5, 4, 4, 3)), rng.standard_normal((4, 6, 3, 3)), np.ones(12)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    out, g, grads = torch_forward_backward(F.conv_transpose2d, (x, w, b), **kw)
    assert_close(conv_transpose2d(x, w, b, **kw), out)
    for ours, theirs in zip(conv_transpose2d_backward(g, x, w, b, **kw), grads):
        assert_close(ours, theirs)


def test_an_error_in_a_worker_reaches_the_caller(monkeypatch):
    cut = conv_core.Plan(ranges=((0, 1), (1, 2)), step=1)

    def task(first, stop, step):
        raise ValueError(f"worker {first} failed")

    with pytest.raises(ValueError, match="worker 0 failed"):
        conv_core._run(task, cut)


# --- every padding string -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "padding,kernel,dilation",
    [("valid", (3, 2), 1), ("valid", (1, 4), (2, 1)), ("same", (3, 3), 1), ("same", (4, 2), 2)],
)
@pytest.mark.parametrize("fns", ["vectorized", "naive"])
def test_padding_strings_equal_torch(padding, kernel, dilation, fns, rng):
    forward, backward = (
        (conv2d, conv2d_backward) if fns == "vectorized" else (conv2d_naive, conv2d_backward_naive)
    )
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, *kernel))
    b = rng.standard_normal(4)
    kw = dict(padding=padding, dilation=dilation)
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, b), **kw)
    assert_close(forward(x, w, b, **kw), out)
    if padding == "same":
        assert out.shape[2:] == x.shape[2:]
    for ours, theirs in zip(backward(g, x, w, b, **kw), grads):
        assert_close(ours, theirs)


def test_valid_is_zero_padding(rng):
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_array_equal(conv2d(x, w, padding="valid"), conv2d(x, w, padding=0))


# --- the naive versions: unbatched and float32 ----------------------------------------------------


CASES = {
    "conv2d": (conv2d_naive, F.conv2d, (3, 6, 5), (4, 3, 3, 2), 4, dict(stride=2, padding=1)),
    "conv_transpose2d": (
        conv_transpose2d_naive,
        F.conv_transpose2d,
        (3, 4, 5),
        (3, 2, 3, 2),
        2,
        dict(stride=2, padding=1, output_padding=1),
    ),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_naive_forward_unbatched_and_in_float32(name, dtype, rng):
    naive, torch_fn, x_shape, w_shape, c_out, kw = CASES[name]
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    ref = torch_fn(*map(torch.from_numpy, (x, w, b)), **kw).numpy()
    tol = 1e-5 if dtype == np.float32 else 1e-10
    for batch in (False, True):
        ours = naive(x[None] if batch else x, w, b, **kw)
        assert ours.dtype == dtype
        assert_close(ours, ref[None] if batch else ref, tol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_naive_backward_unbatched_and_in_float32(dtype, rng):
    x = rng.standard_normal((3, 6, 5)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    kw = dict(stride=(2,), padding=(1,), dilation=(1, 2))
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, b), **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    ours = conv2d_backward_naive(g, x, w, b, **kw)
    assert [a.shape for a in ours] == [x.shape, w.shape, b.shape]
    for a, theirs in zip(ours, grads):
        assert a.dtype == dtype
        assert_close(a, theirs, tol=tol)
    with pytest.raises(ValueError, match="grad_output"):
        conv2d_backward_naive(g[None], x, w, b, **kw)  # a batched gradient for unbatched input


# --- one-element tuples, as torch reads them ------------------------------------------------------


@pytest.mark.parametrize("arg,value", [("stride", (2,)), ("padding", [1]), ("dilation", (2,))])
def test_conv2d_reads_a_one_element_tuple_as_torch_does(arg, value, rng):
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 2))
    out, g, grads = torch_forward_backward(F.conv2d, (x, w, None), **{arg: value})
    for forward in (conv2d, conv2d_naive):
        assert_close(forward(x, w, **{arg: value}), out)
    for ours, theirs in zip(conv2d_backward(g, x, w, **{arg: value}), grads):
        assert_close(ours, theirs)


@pytest.mark.parametrize(
    "arg,value", [("stride", (2,)), ("padding", (1,)), ("dilation", [2]), ("output_padding", (1,))]
)
def test_conv_transpose2d_reads_a_one_element_tuple_as_torch_does(arg, value, rng):
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 2))
    kw = {arg: value} | ({"stride": 2} if arg == "output_padding" else {})
    out, g, grads = torch_forward_backward(F.conv_transpose2d, (x, w, None), **kw)
    for forward in (conv_transpose2d, conv_transpose2d_naive):
        assert_close(forward(x, w, **kw), out)
    for ours, theirs in zip(conv_transpose2d_backward(g, x, w, **kw), grads):
        assert_close(ours, theirs)


@pytest.mark.parametrize("value", [(), (1, 1, 1), [2, 2, 2, 2]])
@pytest.mark.parametrize("arg", ["stride", "padding", "dilation"])
def test_other_lengths_are_refused_as_torch_refuses_them(arg, value):
    x, w = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=arg):
        F.conv2d(torch.from_numpy(x), torch.from_numpy(w), **{arg: value})
    with pytest.raises(ValueError, match=f"{arg} must be an int or a tuple of one or two ints"):
        conv2d(x, w, **{arg: value})
    with pytest.raises(ValueError, match=arg):
        conv_transpose2d(x, np.zeros((2, 3, 3, 3)), **{arg: value})


def test_pair_reads_like_torch():
    assert checks.pair(3, "k") == (3, 3)
    assert checks.pair((3,), "k") == (3, 3)
    assert checks.pair([2, 5], "k") == (2, 5)
    assert checks.pair((np.int64(4),), "k") == (4, 4)
    for bad in (1.5, (1.5,), True, (True, 1), "3", None):
        with pytest.raises(TypeError, match="k must be an int"):
            checks.pair(bad, "k")
    with pytest.raises(ValueError, match="k must be >= 1"):
        checks.pair((0,), "k", minimum=1)


# --- the checks other modules share ---------------------------------------------------------------


def test_check_grad_output_for_an_unbatched_forward():
    g = np.zeros((2, 3, 4))
    assert checks.check_grad_output(g, (1, 2, 3, 4), g.dtype, unbatched=True).shape == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="grad_output must be 3-D"):
        checks.check_grad_output(g[None], (1, 2, 3, 4), g.dtype, unbatched=True)
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        checks.check_grad_output(np.zeros((2, 3, 5)), (1, 2, 3, 4), g.dtype, unbatched=True)
    with pytest.raises(TypeError, match="grad_output has dtype float32"):
        checks.check_grad_output(g.astype(np.float32), (1, 2, 3, 4), g.dtype, unbatched=True)


def test_check_probability():
    assert checks.check_probability("p", 0) == 0.0 and checks.check_probability("p", 1) == 1.0
    assert type(checks.check_probability("p", np.float32(0.25))) is float
    for bad in (-0.01, 1.01, float("nan")):
        with pytest.raises(ValueError, match="p must be between 0 and 1"):
            checks.check_probability("p", bad)
    for bad in ("0.5", None, True):
        with pytest.raises(TypeError, match="p must be a real number"):
            checks.check_probability("p", bad)


def test_generator():
    rng = np.random.default_rng(3)
    assert checks.generator(rng) is rng
    assert isinstance(checks.generator(None), np.random.Generator)
    assert checks.generator(None) is not checks.generator(None)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or None"):
        checks.generator(np.random.RandomState(0))


def test_im2col_lays_the_windows_out_as_torchs_unfold(rng):
    # groups left at its default, 1: one column matrix per image, rows ordered (c, i, j)
    xp = rng.standard_normal((2, 3, 6, 7))
    cols = im2col(xp, (2, 3), (2, 1), (1, 2), (3, 3))
    theirs = F.unfold(torch.from_numpy(xp), (2, 3), dilation=(1, 2), stride=(2, 1))
    assert_close(cols, theirs.numpy()[:, None])


def test_windows_refuses_planes_that_are_not_c_contiguous():
    xp = np.zeros((1, 1, 8, 4))
    with pytest.raises(ValueError, match="xp: each image plane must be C-contiguous"):
        windows(xp[:, :, ::2], (2, 2), (1, 1), (1, 1), (3, 3))  # rows 2 apart, columns adjacent


def test_windows_refuses_an_out_that_reads_past_the_plane():
    xp = np.arange(16.0).reshape(1, 1, 4, 4)
    assert windows(xp, (2, 2), (1, 1), (1, 1), (3, 3))[0, 0, 1, 1, 2, 2] == 15  # the last pixel
    for out in [(4, 3), (3, 4)]:  # one window row, or one window, too many
        with pytest.raises(ValueError, match=r"out=\(\d, \d\): the windows would read past"):
            windows(xp, (2, 2), (1, 1), (1, 1), out)
