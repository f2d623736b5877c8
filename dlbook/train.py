"""One PyTorch fit loop for the whole book: device placement, seeding and a history per epoch.

Later chapters add to it (progress bars, early stopping, checkpoints); the signature only grows
keyword arguments, so that earlier chapters keep working.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "seed_everything", "evaluate", "fit"]


@dataclass
class History:
    """Per-epoch records: train_loss, train_acc, test_loss, test_acc and seconds."""

    rows: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return [row[key] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def final(self) -> dict:
        return self.rows[-1] if self.rows else {}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so that a run can be repeated exactly on one machine."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _tensors(x, y, device):
    import torch

    return torch.as_tensor(x, dtype=torch.float32, device=device), torch.as_tensor(
        y, dtype=torch.long, device=device
    )


def evaluate(model, x, y, device=None, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
    import torch
    import torch.nn.functional as F

    from dlbook.devices import device as best_device

    device = best_device() if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = _tensors(x[start : start + batch_size], y[start : start + batch_size], device)
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def fit(
    model,
    data,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    device=None,
    seed: int = 0,
):
    """Train ``model`` with cross-entropy on ``data`` (a :class:`dlbook.data.Split`).

    ``optimizer`` is ``"adam"`` or ``"sgd"`` (with momentum 0.9). Returns a :class:`History` with
    the training and test loss and accuracy after every epoch.
    """
    import torch
    import torch.nn.functional as F

    from dlbook.devices import device as best_device

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = best_device() if device is None else torch.device(device)
    seed_everything(seed)
    model.to(device)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    x_train, y_train = _tensors(data.x_train, data.y_train, device)
    generator = torch.Generator().manual_seed(seed)
    history = History()
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_loss, train_acc = evaluate(model, data.x_train, data.y_train, device)
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test, device)
        history.rows.append(
            dict(
                train_loss=train_loss,
                train_acc=train_acc,
                test_loss=test_loss,
                test_acc=test_acc,
                seconds=time.perf_counter() - start,
            )
        )
    return history
