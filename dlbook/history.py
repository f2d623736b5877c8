"""What a training run leaves behind, shared by the NumPy loop (:mod:`dlbook.scratch.fit`) and the
PyTorch loop (:mod:`dlbook.train`): per-epoch records (:class:`History`) and one finished run
(:class:`Run`). It sits below both, so neither loop depends on the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["History", "Run"]


@dataclass
class History:
    """Per-epoch records (train_loss, train_acc, [val_loss, val_acc,] test_loss, test_acc,
    seconds), and how the run ended."""

    rows: list[dict] = field(default_factory=list)
    best_epoch: int | None = None  # 1-based; set when early stopping or checkpoints watch a loss
    stopped_early: bool = False

    def __getitem__(self, key: str) -> list[float]:
        return [row[key] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def final(self) -> dict:
        return self.rows[-1] if self.rows else {}

    def plot(self, save: str | os.PathLike | None = None, axes=None):
        """Loss and accuracy curves, one panel each. Works outside Jupyter: pass ``save`` to
        write a PNG, or call ``plt.show()`` yourself. Returns the figure."""
        import matplotlib.pyplot as plt

        if not self.rows:
            raise ValueError("history: nothing to plot (no epochs were run)")
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        fig = axes[0].figure
        epochs = range(1, len(self) + 1)
        for ax, what in zip(axes, ("loss", "acc")):
            for part in ("train", "val", "test"):
                key = f"{part}_{what}"
                if key in self.rows[0]:
                    ax.plot(epochs, self[key], marker="o", ms=3, label=part)
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="gray", ls=":", lw=1, label="best")
            ax.set_xlabel("epoch")
            ax.set_ylabel("cross-entropy" if what == "loss" else "accuracy")
            ax.legend()
        fig.tight_layout()
        if save is not None:
            fig.savefig(save, dpi=100)
        return fig


@dataclass
class Run:
    """One training run: the model, its per-epoch history, and the wall time in seconds."""

    model: object
    history: object
    seconds: float

    @property
    def test_acc(self) -> float:
        return self.history.final["test_acc"]
