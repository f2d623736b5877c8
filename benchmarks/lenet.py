"""LeNet-5 on the digits, trained in NumPy and in PyTorch exactly as the LeNet chapters train it.

Budgets (BOOK.md): NumPy LeNet >= 97% test accuracy, PyTorch LeNet >= 98%, each run within the
notebook budget of 60 s on 2 CPU cores. NumPy trains the paper's LeNet-5; PyTorch trains the
modern variant (ReLU, max pooling, batch norm), as the PyTorch chapter does. Also reported:
images per second of one training step (forward, backward, Adam update) in each.
"""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_limits

from dlbook.experiments import lenet_numpy as lenet

ACCURACY = {"numpy": 0.97, "torch": 0.98}
SECONDS = 60.0


def report(threads: int = 2) -> bool:
    torch.set_num_threads(threads)
    ok = True
    print(f"LeNet-5 on the digits (28x28), {threads} threads")
    with threadpool_limits(limits=threads):
        runs = {
            "numpy": lenet.train_numpy(),
            "torch": lenet.train_torch(modern=True, device="cpu"),
        }
        speed = lenet.step_speed()
    for name, run in runs.items():
        good = run.test_acc >= ACCURACY[name] and run.seconds <= SECONDS
        ok &= good
        print(
            f"  {name:6} test accuracy {run.test_acc:.2%} (budget >= {ACCURACY[name]:.0%}), "
            f"{len(run.history)} epochs in {run.seconds:.1f} s (budget {SECONDS:.0f} s) "
            f"{'ok' if good else 'OVER'}"
        )
    print(
        f"  training step, batch 64: numpy {speed['numpy']:,.0f} images/s, "
        f"torch (CPU) {speed['torch']:,.0f} images/s"
    )
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if report() else 1)
