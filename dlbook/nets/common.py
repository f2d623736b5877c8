"""What every network module shares: counting parameters, and torchvision's
``features -> avgpool -> classifier`` layout."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["count_parameters", "FeaturesClassifier"]


def count_parameters(module: nn.Module) -> int:
    """The number of trainable numbers in a torch module (frozen parameters not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class FeaturesClassifier(nn.Module):
    """``features -> avgpool -> classifier``, with torchvision's attribute names."""

    def __init__(self, features: nn.Module, avgpool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))
