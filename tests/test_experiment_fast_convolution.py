"""The fast-convolution chapter's experiments: timings come back for every algorithm and size,
the operation counts are conv_arithmetic's, the GPU is reported as not measured where there is
none, and Winograd F(2, 3) equals the direct 3-tap correlation."""

import numpy as np
import pytest
import torch

from dlbook.experiments import fast_convolution as exp
from dlbook.scratch.fast_conv import conv_arithmetic


def test_cpu_time_is_the_median_of_the_repeats():
    calls = []
    t = exp.cpu_time(lambda: calls.append(sum(range(1000))), repeat=3, warmup=2)
    assert len(calls) == 5 and 0 <= t < 1
    with pytest.raises(ValueError, match="repeat"):
        exp.cpu_time(lambda: None, repeat=0)


def test_arithmetic_rows_count_winograd_only_for_3x3_kernels():
    rows = exp.arithmetic_rows(kernel_sizes=(3, 5), channels=(4,), size=8, n=2)
    assert [(r["k"], r["c"]) for r in rows] == [(3, 4), (5, 4)]
    assert set(rows[0]["flops"]) == {"direct", "fft", "winograd"}
    assert set(rows[1]["flops"]) == {"direct", "fft"}
    # padding k // 2 keeps the 8 x 8 size: 2 images, 4 x 4 channel pairs, 64 outputs, k^2 taps
    assert rows[1]["flops"]["direct"] == 2 * (2 * 4 * 4 * 64 * 25)
    assert rows[0]["flops"]["fft"] == conv_arithmetic(2, 4, 4, 8, 8, 3, "fft", padding=1).flops


def test_time_algorithms_times_every_algorithm_that_applies():
    rows = exp.time_algorithms(kernel_sizes=(3, 5), channels=(2,), size=8, n=1, repeat=1)
    assert set(rows[0]["times"]) == {"im2col", "fft", "winograd", "torch"}
    assert set(rows[1]["times"]) == {"im2col", "fft", "torch"}
    assert all(t >= 0 for r in rows for t in r["times"].values())


def test_every_timed_algorithm_computes_the_same_convolution():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3))
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    for name, f in exp.ALGORITHMS.items():
        np.testing.assert_allclose(f(x, w, padding=1), want.numpy(), atol=1e-10, err_msg=name)


def test_direct_gemm_stage_and_errors():
    direct = exp.time_direct(shape=(1, 2, 5, 5), repeat=1)
    assert set(direct) == {"direct", "im2col", "torch"}
    stage = exp.time_gemm_stage(c=4, size=8, n=1, repeat=1)
    # 16 products per 2 x 2 output tile against 36: Winograd's 2.25 times fewer
    assert stage["im2col_products"] / stage["winograd_products"] == 2.25
    assert min(stage[k] for k in ("winograd_gemm", "im2col_gemm", "winograd", "im2col")) >= 0
    errors = exp.float32_errors(c=4, size=8, n=1)
    assert set(errors) == set(exp.ALGORITHMS)
    assert all(0 < e < 1e-4 for e in errors.values())  # float32 rounding, not a wrong result


def test_torch_devices_reports_no_gpu_number_without_cuda():
    result = exp.time_torch_devices("cpu", shape=(1, 2, 6, 6), repeat=1)
    assert result["cpu"] >= 0
    assert result["gpu"] is None and result["gpu_autocast"] is None


def test_winograd_1d_equals_the_direct_correlation():
    rng = np.random.default_rng(1)
    d, g = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    want = np.stack([(d[:, i : i + 3] * g).sum(-1) for i in range(2)], axis=-1)
    np.testing.assert_allclose(exp.winograd_1d(d, g), want, atol=1e-12)
    assert exp.winograd_1d(d.astype(np.float32), g.astype(np.float32)).dtype == np.float32
