"""The network every ButterFlyer model is: a backbone, a species head, and
optionally the backbone's original ImageNet head.

The ImageNet head is kept (frozen) so that one forward pass yields both the
species logits and the 1,000 ImageNet logits that the not-a-butterfly gate reads.
"""

from __future__ import annotations

import torch
from torch import nn

from butterflyer.models.meta import FEATURES


class ButterflyClassifier(nn.Module):
    """``backbone`` maps images to pooled features; ``head`` maps features to species logits."""

    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int,
                 imagenet_head: nn.Linear | None = None, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_features = num_features
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_features, num_classes)
        self.imagenet_head = imagenet_head
        if imagenet_head is not None:
            imagenet_head.requires_grad_(False)

    @property
    def num_classes(self) -> int:
        return self.head.out_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features, shape ``(N, num_features)``."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Species logits, shape ``(N, num_classes)``."""
        return self.head(self.dropout(self.forward_features(x)))

    def forward_with_imagenet(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Species logits and ImageNet logits from one pass (the model must have an ImageNet head)."""
        if self.imagenet_head is None:
            raise RuntimeError("this model has no ImageNet head")
        feats = self.forward_features(x)
        return self.head(self.dropout(feats)), self.imagenet_head(feats)


class DualOutput(nn.Module):
    """Wraps a classifier so ``forward`` returns ``(logits, imagenet_logits)``: the ONNX export view."""

    def __init__(self, model: ButterflyClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_with_imagenet(x)



def serving_output_names(model: ButterflyClassifier) -> list[str]:
    """The outputs an export of ``model`` gives, in order (see :class:`ServingOutputs`)."""
    heads = ["logits", "imagenet_logits"] if model.imagenet_head is not None else ["logits"]
    return [*heads, FEATURES]


class ServingOutputs(nn.Module):
    """The export view: species logits, ImageNet logits (when kept) and the pooled features.

    The features feed the not-a-butterfly gate (nearest training photos in the
    model's own feature space), so every exported model can gate for itself.
    """

    def __init__(self, model: ButterflyClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.forward_features(x)
        logits = self.model.head(self.model.dropout(feats))
        if self.model.imagenet_head is None:
            return logits, feats
        return logits, self.model.imagenet_head(feats), feats
