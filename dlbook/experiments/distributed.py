"""The chapter on training with more than one process: the ring all-reduce in NumPy, and
PyTorch's real DistributedDataParallel (gloo backend) on two processes of this machine.

* :func:`ring_all_reduce`: the ring all-reduce between simulated ranks (reduce-scatter, then
  all-gather), with the bytes each rank sends and, on request, every step's buffers;
  :func:`reduce_scatter` its first half; :func:`traffic` the bytes each rank sends, ring against
  a central rank.
* :func:`run_ddp`: launches ``world_size`` processes on 127.0.0.1 (spawn, a free port, a time
  limit) that run :func:`ddp_worker`, and returns what each rank measured;
  :func:`single_process` computes the same things in one process on the combined batches.
* :func:`check_reduce_scatter`: the checker of the chapter's exercise.
"""

from __future__ import annotations

import pickle
import shutil
import socket
import tempfile
import time
import traceback
from datetime import timedelta
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from dlbook.exercise import Case, Report, check

__all__ = [
    "ring_all_reduce",
    "reduce_scatter",
    "ring_trace",
    "traffic",
    "CONFIG",
    "make_model",
    "shards",
    "free_port",
    "ddp_train",
    "ddp_batch_norm",
    "ddp_worker",
    "run_ddp",
    "single_process",
    "check_reduce_scatter",
]


def _check_arrays(arrays):
    if not isinstance(arrays, (list, tuple)) or len(arrays) < 1:
        raise ValueError("arrays must be a non-empty list of arrays, one per rank")
    arrays = [np.asarray(a) for a in arrays]
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f"arrays must all have one shape, got {[a.shape for a in arrays]}")
    return arrays


def ring_all_reduce(arrays, record=False):
    """The ring all-reduce of one array per rank, simulated: every rank ends with their sum.

    Each rank's array is cut into ``p`` chunks. Reduce-scatter: at step ``s`` rank ``r`` sends
    chunk ``(r - s) mod p`` to rank ``r + 1``, which adds it to its own; after ``p - 1`` steps
    rank ``r`` holds the whole sum of chunk ``(r + 1) mod p``. All-gather: ``p - 1`` more steps
    pass the summed chunks on round the ring, each rank overwriting its copy.

    Shapes:
        arrays: p arrays of one shape; returns dict(result=p arrays of that shape, sent=(p,)
        bytes each rank sent, steps=[(buffers, messages)] after each step when record=True)
    Formula:
        result[r] = sum_q arrays[q]; sent[r] = 2 (p - 1) / p * nbytes (when p divides the size)
    Torch:
        torch.distributed.all_reduce (op=SUM), which gloo and NCCL run as a ring among others
    """
    arrays = _check_arrays(arrays)
    p, shape = len(arrays), arrays[0].shape
    bufs = [np.array_split(a.ravel().copy(), p) for a in arrays]
    sent, steps = np.zeros(p, dtype=np.int64), []
    for phase in ("reduce-scatter", "all-gather"):
        for s in range(p - 1):
            first = -s if phase == "reduce-scatter" else 1 - s
            msgs = [(r, (r + 1) % p, (r + first) % p) for r in range(p)]
            data = [bufs[src][c].copy() for src, _, c in msgs]  # all send at once, then receive
            for (src, dst, c), d in zip(msgs, data):
                bufs[dst][c] = bufs[dst][c] + d if phase == "reduce-scatter" else d
                sent[src] += d.nbytes
            if record:
                steps.append(([[c.copy() for c in b] for b in bufs], phase, msgs))
    result = [np.concatenate(b).reshape(shape) for b in bufs]
    return dict(result=result, sent=sent, steps=steps)


def reduce_scatter(arrays):
    """The first half of :func:`ring_all_reduce`: rank ``r`` ends holding the sum over all ranks
    of chunk ``(r + 1) mod p`` of ``np.array_split(array.ravel(), p)``.

    Shapes:
        arrays: p arrays of one shape; returns: p 1-D arrays, rank r's owned chunk
    Formula:
        out[r] = sum_q split(arrays[q])[(r + 1) mod p]
    Torch:
        torch.distributed.reduce_scatter (which lets the caller choose who owns which chunk)
    """
    arrays = _check_arrays(arrays)
    p = len(arrays)
    chunks = [np.array_split(a.ravel(), p) for a in arrays]
    return [sum(c[(r + 1) % p] for c in chunks) for r in range(p)]


def ring_trace(p):
    """Which ranks' numbers every buffer holds at every step of :func:`ring_all_reduce` on ``p``
    ranks: frame 0 is the start, then one frame per step. Each frame is a dict with ``phase``,
    ``msgs`` (``(src, dst, chunk)`` sent in that step) and ``held[r][c]``, the ranks whose
    chunk ``c`` rank ``r``'s buffer has added up (found by giving rank ``q`` the number 2^q)."""
    if p < 2 or p > 16:
        raise ValueError(f"p must be between 2 and 16, got {p}")
    run = ring_all_reduce([np.full(p, 2.0**q) for q in range(p)], record=True)

    def ranks(v):
        return tuple(q for q in range(p) if int(v) >> q & 1)

    frames = [dict(phase="start", msgs=[], held=[[(r,)] * p for r in range(p)])]
    for bufs, phase, msgs in run["steps"]:
        frames.append(dict(phase=phase, msgs=msgs, held=[[ranks(c[0]) for c in b] for b in bufs]))
    return frames


def traffic(p, n_bytes, algorithm="ring"):
    """The bytes each of ``p`` ranks sends to all-reduce ``n_bytes`` of gradients.

    ``"ring"``: :func:`ring_all_reduce`; ``"central"``: every rank sends its gradients to rank 0,
    which adds them and sends the sum back to each.

    Shapes:
        returns: (p,) float64, bytes sent by each rank
    Formula:
        ring: 2 (p - 1) / p * n_bytes each; central: rank 0 (p - 1) n_bytes, others n_bytes
    Torch:
        none (a count of bytes)
    """
    if p < 1 or int(p) != p:
        raise ValueError(f"p must be a positive int, got {p}")
    if algorithm == "ring":
        return np.full(p, 2 * (p - 1) / p * n_bytes)
    if algorithm == "central":
        out = np.full(p, float(n_bytes))
        out[0] = (p - 1) * n_bytes
        return out if p > 1 else np.zeros(1)
    raise ValueError(f"algorithm must be 'ring' or 'central', got {algorithm!r}")


# the networks and batches every rank and the single process use
CONFIG = dict(hidden=(32, 16), classes=10, batch=16, steps=5, lr=0.2, seed=0,
              bucket_cap_mb=0.001, timeout=60, fail_rank=None)  # fmt: skip


def make_model(features, config=CONFIG, batch_norm=False):
    """The float64 MLP that every rank builds: ``features -> hidden... -> classes`` with ReLUs,
    and (``batch_norm=True``) a ``BatchNorm1d`` after the first layer; seeded by
    ``config["seed"]``, so every process builds the same weights."""
    torch.manual_seed(config["seed"])
    sizes, layers = (features, *config["hidden"]), []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b)] if batch_norm and i == 0 else [])
        layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.Linear(sizes[-1], config["classes"])).double()


def shards(n, world_size):
    """The indices of ``n`` examples that each rank's ``DistributedSampler`` (no shuffling)
    gives it: rank ``r`` gets ``r, r + p, r + 2p, ...`` (padded by repeats when ``p`` does
    not divide ``n``)."""
    from torch.utils.data import DistributedSampler

    data = range(n)
    return [list(DistributedSampler(data, world_size, r, shuffle=False)) for r in range(world_size)]


def ddp_train(rank, world_size, x, y, ring, config):
    """What one rank of :func:`run_ddp` does inside the gloo group, in float64: take its shard
    of ``(x, y)`` (``DistributedSampler``), compute its local gradient on its first batch, wrap
    the model in ``DistributedDataParallel`` (logging when each gradient is ready and when each
    bucket's all-reduce starts), take ``config["steps"]`` SGD steps, all-reduce ``ring[rank]``
    and run :func:`ddp_batch_norm`. Returns a dict of NumPy arrays and lists."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y)
    mine, b = shards(len(y), world_size)[rank], config["batch"]
    out = dict(indices=mine)
    model = make_model(x.shape[1], config)
    F.cross_entropy(model(x[mine[:b]]), y[mine[:b]]).backward()  # no communication yet
    out["local_grads"] = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    names, events = {id(p): n for n, p in model.named_parameters()}, []
    for n, p in model.named_parameters():
        p.register_hook(lambda g, n=n: events.append(("ready", n, g.numel() * g.element_size())))
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=config["bucket_cap_mb"])

    def hook(state, bucket):  # log, then do what DDP does by default: divide by p, all-reduce
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        size = bucket.buffer().numel() * bucket.buffer().element_size()
        names_in = [names[id(p)] for p in bucket.parameters()]
        events.append(("all-reduce", bucket.index(), names_in, size))
        return allreduce_hook(state, bucket)

    ddp.register_comm_hook(None, hook)
    opt, losses = torch.optim.SGD(ddp.parameters(), lr=config["lr"]), []
    out["events"] = []
    for k in range(config["steps"]):
        events.clear()
        opt.zero_grad()
        batch = mine[k * b : (k + 1) * b]
        loss = F.cross_entropy(ddp(x[batch]), y[batch])
        loss.backward()
        if k < 2:  # DDP uses one bucket in the first step, then rebuilds them
            out["events"].append(list(events))
        if k == 0:
            out["grads"] = [p.grad.numpy().copy() for p in model.parameters()]
        losses.append(loss.item())
        opt.step()
    out["losses"], out["params"] = losses, [p.detach().numpy().copy() for p in model.parameters()]
    t = torch.as_tensor(ring[rank]).clone()
    dist.all_reduce(t)
    out["all_reduce"] = t.numpy()
    out.update(ddp_batch_norm(rank, world_size, x, y, mine[:b], config))
    return out


def ddp_batch_norm(rank, world_size, x, y, batch, config):
    """One DDP step of the batch-norm twin of :func:`make_model` on this rank's ``batch``: the
    batch mean at the norm layer (this rank's alone), the running mean it leaves, the mean of
    the combined batch that ``SyncBatchNorm`` would use (the sums and counts all-reduced by
    hand: SyncBatchNorm itself needs GPUs), and the gradients."""
    model = make_model(x.shape[1], config, batch_norm=True)
    ddp = nn.parallel.DistributedDataParallel(model)
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    F.cross_entropy(ddp(x[batch]), y[batch]).backward()
    h = seen[0]
    total = torch.cat([h.sum(0), torch.tensor([float(len(h))], dtype=h.dtype)])
    dist.all_reduce(total)  # what SyncBatchNorm does: add up the sums and the counts
    return dict(bn_mean=h.mean(0).numpy(), bn_running=model[1].running_mean.numpy().copy(),
                bn_synced_mean=(total[:-1] / total[-1]).numpy(),
                bn_grads=[p.grad.numpy().copy() for p in model.parameters()])  # fmt: skip


def ddp_worker(rank, world_size, port, folder, x, y, ring, config):
    """One process of :func:`run_ddp`: joins the gloo group at ``127.0.0.1:port`` and measures,
    in float64: its shard of the data (``DistributedSampler``), its local gradient, the DDP
    gradient and the order of DDP's bucket all-reduces, ``config["steps"]`` steps of SGD,
    ``all_reduce`` of ``ring[rank]``, and batch norm's per-process statistics. Writes the dict
    to ``folder/rank<r>.pkl``, or the traceback to ``folder/rank<r>.err``."""
    folder = Path(folder)
    try:
        torch.set_num_threads(1)  # two tiny processes share the cores
        if config.get("fail_rank") == rank:
            raise RuntimeError(f"rank {rank} fails on purpose")
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world_size,
                                timeout=timedelta(seconds=config["timeout"]))  # fmt: skip
        out = ddp_train(rank, world_size, x, y, ring, config)
        (folder / f"rank{rank}.pkl").write_bytes(pickle.dumps(out))
    except BaseException:
        (folder / f"rank{rank}.err").write_text(traceback.format_exc())
        raise SystemExit(1) from None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs):
    procs = [p for p in procs if p.pid is not None]  # started ones
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()


def run_ddp(x, y, ring=None, config=None, world_size=2):
    """Spawn ``world_size`` processes running :func:`ddp_worker` and return their results, one
    dict per rank. Every process is stopped before this returns, also when one fails (its
    traceback is raised as ``RuntimeError``) or when they run past ``config["timeout"]`` s."""
    config = {**CONFIG, **(config or {})}
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)
    ring = [np.zeros(1)] * world_size if ring is None else [np.asarray(a) for a in ring]
    if len(ring) != world_size:
        raise ValueError(f"ring must hold one array per rank ({world_size}), got {len(ring)}")
    folder = Path(tempfile.mkdtemp(prefix="dlbook-ddp-"))
    ctx = torch.multiprocessing.get_context("spawn")
    args = (world_size, free_port(), str(folder), x, y, ring, config)
    procs = [ctx.Process(target=ddp_worker, args=(r, *args), daemon=True)
             for r in range(world_size)]  # fmt: skip
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + config["timeout"]
        while any(p.exitcode is None for p in procs) and time.monotonic() < deadline:
            if any(p.exitcode not in (None, 0) for p in procs):
                break  # the others would wait for it until their own timeout
            wait([p.sentinel for p in procs if p.exitcode is None], timeout=0.2)
        late = any(p.exitcode is None for p in procs)
        _stop(procs)
        errors = [f.read_text() for f in sorted(folder.glob("*.err"))]
        if errors or late or any(p.exitcode != 0 for p in procs):
            why = "\n".join(errors) or ("timed out" if late else "a worker died")
            raise RuntimeError(f"the DDP workers failed: {why}")
        return [pickle.loads((folder / f"rank{r}.pkl").read_bytes()) for r in range(world_size)]
    finally:
        _stop(procs)
        shutil.rmtree(folder, ignore_errors=True)


def single_process(x, y, config=None, world_size=2):
    """What :func:`run_ddp`'s ranks compute together, in one process on the combined batches:
    the first gradient (``grads``), the losses and parameters after the SGD steps, and, with
    batch norm, the first batch's mean at the norm layer and the gradients (``bn_grads``)."""
    config = {**CONFIG, **(config or {})}
    x, y = torch.as_tensor(np.asarray(x, dtype=np.float64)), torch.as_tensor(np.asarray(y))
    parts, b = shards(len(y), world_size), config["batch"]
    batches = [sum((s[k * b : (k + 1) * b] for s in parts), []) for k in range(config["steps"])]
    model = make_model(x.shape[1], config)
    opt, losses, out = torch.optim.SGD(model.parameters(), lr=config["lr"]), [], {}
    for k, batch in enumerate(batches):
        opt.zero_grad()
        loss = F.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        if k == 0:
            out["grads"] = [p.grad.numpy().copy() for p in model.parameters()]
        losses.append(loss.item())
        opt.step()
    out["losses"], out["params"] = losses, [p.detach().numpy().copy() for p in model.parameters()]
    bn = make_model(x.shape[1], config, batch_norm=True)
    F.cross_entropy(bn(x[batches[0]]), y[batches[0]]).backward()
    out["bn_mean"] = bn[0](x[batches[0]]).detach().mean(0).numpy()
    out["bn_grads"] = [p.grad.numpy().copy() for p in bn.parameters()]
    return out


def check_reduce_scatter(fn):
    """Hold ``fn(arrays)`` to :func:`reduce_scatter` on four cases from fixed generators: two
    ranks, three ranks with a size that 3 does not divide, four ranks of 2-D arrays, and
    float32 (whose sum must stay float32)."""
    rng = np.random.default_rng(8)
    cases = [
        Case(([rng.normal(size=6) for _ in range(2)],), {}, "2 ranks, 6 numbers"),
        Case(([rng.normal(size=7) for _ in range(3)],), {}, "3 ranks, 7 numbers"),
        Case(([rng.normal(size=(2, 4)) for _ in range(4)],), {}, "4 ranks, 2 x 4 arrays"),
        Case(([rng.normal(size=8).astype(np.float32) for _ in range(4)],), {}, "float32"),
    ]

    def as_tuple(f):
        return lambda arrays: tuple(f([a.copy() for a in arrays]))

    problems = []
    for k, case in enumerate(cases, 1):
        names = tuple(f"rank {r}'s chunk" for r in range(len(case.args[0])))
        one = check(as_tuple(fn), as_tuple(reduce_scatter), [case], outputs=names)
        problems += [q.replace("case 1", f"case {k}", 1) for q in one.problems]
    return Report("reduce_scatter", len(cases), problems)
