"""The distributed chapter's experiments: the simulated ring all-reduce equals the sum and sends
2 (p - 1) / p of the data per rank, and two real gloo processes running DistributedDataParallel
give the single-process gradient of the combined batch, leaving no process behind."""

import multiprocessing

import numpy as np
import pytest
import torch.distributed as dist

from dlbook.experiments import distributed as exp

gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this build",
)


@pytest.mark.parametrize(("p", "shape"), [(1, (3,)), (2, (6,)), (3, (7,)), (4, (2, 5)), (5, (4,))])
def test_ring_all_reduce_is_the_sum_and_sends_2_p_minus_1_over_p(p, shape):
    rng = np.random.default_rng(p)
    arrays = [rng.normal(size=shape) for _ in range(p)]
    run = exp.ring_all_reduce(arrays, record=True)
    for out in run["result"]:
        np.testing.assert_allclose(out, np.sum(arrays, axis=0), rtol=1e-12, atol=1e-14)
        assert out.shape == shape
    assert len(run["steps"]) == 2 * (p - 1)
    n = int(np.prod(shape))
    sizes = [len(c) for c in np.array_split(np.arange(n), p)]
    # each rank sends every chunk but one in each phase: 2 (n - its skipped chunks) numbers
    assert run["sent"].sum() == 2 * (p - 1) * n * 8
    if n % p == 0:
        np.testing.assert_array_equal(run["sent"], exp.traffic(p, n * 8, "ring"))
    assert max(sizes) - min(sizes) <= 1


def test_ring_keeps_float32_and_leaves_inputs_alone():
    arrays = [np.arange(8, dtype=np.float32) * (r + 1) for r in range(4)]
    copies = [a.copy() for a in arrays]
    out = exp.ring_all_reduce(arrays)["result"]
    assert out[0].dtype == np.float32
    np.testing.assert_array_equal(out[3], np.arange(8) * 10)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


def test_reduce_scatter_is_the_ring_half_way():
    arrays = [np.random.default_rng(r).normal(size=9) for r in range(3)]
    mid = exp.ring_all_reduce(arrays, record=True)["steps"][1][0]  # after p - 1 = 2 steps
    for r, chunk in enumerate(exp.reduce_scatter(arrays)):
        np.testing.assert_allclose(mid[r][(r + 1) % 3], chunk, rtol=1e-14)


def test_ring_trace_ends_with_every_sum_everywhere():
    frames = exp.ring_trace(4)
    assert len(frames) == 7
    assert all(h == (0, 1, 2, 3) for row in frames[-1]["held"] for h in row)
    assert [frames[3]["held"][r][(r + 1) % 4] for r in range(4)] == [(0, 1, 2, 3)] * 4


def test_traffic_and_bad_input():
    np.testing.assert_array_equal(exp.traffic(4, 100, "central"), [300, 100, 100, 100])
    with pytest.raises(ValueError, match="algorithm"):
        exp.traffic(4, 100, "tree")
    with pytest.raises(ValueError, match="one shape"):
        exp.ring_all_reduce([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="arrays"):
        exp.ring_all_reduce([])


def test_shards_are_the_distributed_samplers():
    assert exp.shards(10, 4) == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 12)), rng.integers(0, 10, size=64)


@gloo
def test_ddp_gradient_equals_the_combined_batch_gradient():
    x, y = _data()
    config = dict(batch=8, steps=3)
    ring = [np.random.default_rng(r).normal(size=5) for r in range(2)]
    res = exp.run_ddp(x, y, ring, config)
    one = exp.single_process(x, y, config)
    assert not multiprocessing.active_children()
    for r in res:
        assert r["indices"][:3] == [r is res[1], 2 + (r is res[1]), 4 + (r is res[1])]
        for a, b in zip(r["grads"], one["grads"]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        for a, b in zip(r["params"], one["params"]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(r["all_reduce"], ring[0] + ring[1], rtol=1e-15)
        np.testing.assert_allclose(r["bn_synced_mean"], one["bn_mean"], rtol=1e-12)
    # each rank's own gradient is not the combined one, but their mean is
    assert np.abs(res[0]["local_grads"][0] - one["grads"][0]).max() > 1e-3
    mean = [(a + b) / 2 for a, b in zip(res[0]["local_grads"], res[1]["local_grads"])]
    for a, b in zip(mean, one["grads"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # batch norm: per-process statistics, so neither the means nor the gradients match
    assert np.abs(res[0]["bn_mean"] - res[1]["bn_mean"]).max() > 1e-3
    assert np.abs(res[0]["bn_grads"][0] - one["bn_grads"][0]).max() > 1e-4
    # the second step's buckets: one per layer, each started before backward finished
    second = res[0]["events"][1]
    assert [e[1] for e in second if e[0] == "all-reduce"] == [0, 1, 2]
    assert second[-1][0] == "all-reduce" and second[0][0] == "ready"
    assert [e[0] for e in second].index("all-reduce") < 3


@gloo
def test_a_failing_worker_stops_all_processes_and_raises():
    x, y = _data()
    with pytest.raises(RuntimeError, match="rank 1 fails on purpose"):
        exp.run_ddp(x, y, config=dict(fail_rank=1, timeout=30))
    assert not multiprocessing.active_children()
