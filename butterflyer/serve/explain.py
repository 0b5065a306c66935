"""Heatmaps: which pixels drove the answer.

With the PyTorch weights at hand (``model.safetensors`` in the model folder) the
map is Grad-CAM: the last convolutional feature map weighted by the gradient of
the chosen species' score. A model served only as ONNX (e.g. quantized) gets an
occlusion map instead: grey out each cell of a grid and measure how much the
species' probability drops. Either way the result is a PNG overlay on the crop
the model saw, as a ``data:`` URL.
"""

from __future__ import annotations

import base64
import io
import threading
from typing import Any

import numpy as np
from PIL import Image

from butterflyer.serve.session import ServedModel

OCCLUSION_GRID = 7
_CAM_LOCK = threading.Lock()  # hooks on a shared network: one Grad-CAM at a time


def grad_cam(net: Any, batch: np.ndarray, target: int) -> np.ndarray:
    """Grad-CAM map in [0, 1] at feature resolution for ``target`` (torch model in eval mode).

    When the last feature map reaches the linear head through plain average
    pooling (EfficientNet-Lite, the tiny test net), the gradient of the score with
    respect to the map is the head's weight row at every position, so Grad-CAM is
    computed from one forward pass without a backward pass (checked numerically
    each time). Otherwise (VGG's MLP head) the gradient is taken.
    """
    import torch

    with torch.no_grad():
        maps, pooled = _last_map(net, torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        head = getattr(net, "head", None)
        if (maps is not None and isinstance(head, torch.nn.Linear) and maps.shape[1] == pooled.shape[1]
                and torch.allclose(maps.mean(dim=(2, 3)), pooled, atol=1e-4, rtol=1e-3)):
            cam = torch.relu(torch.einsum("c,chw->hw", head.weight[target], maps[0])).numpy()
            return _normalise(cam)
    return _gradient_cam(net, batch, target)


def _last_map(net: Any, x: Any) -> tuple[Any, Any]:
    """The backbone's last spatial feature map (``None`` if there is none) and its pooled features."""
    import torch

    captured: dict[str, torch.Tensor] = {}

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] > 1:
            captured["maps"] = output

    handles = [m.register_forward_hook(keep) for m in net.backbone.modules() if not list(m.children())]
    try:
        pooled = net.forward_features(x)
    finally:
        for h in handles:
            h.remove()
    return captured.get("maps"), pooled


def _gradient_cam(net: Any, batch: np.ndarray, target: int) -> np.ndarray:
    """Classic Grad-CAM with a backward pass (for heads that are not linear after pooling)."""
    import torch

    captured: dict[str, torch.Tensor] = {}

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] > 1:
            output.retain_grad()
            captured["maps"] = output

    handles = [m.register_forward_hook(keep) for m in net.backbone.modules() if not list(m.children())]
    try:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        with torch.enable_grad():
            x.requires_grad_(True)
            logits = net(x)
            net.zero_grad(set_to_none=True)
            logits[0, target].backward()
    finally:
        for h in handles:
            h.remove()
    maps = captured.get("maps")
    if maps is None or maps.grad is None:
        raise RuntimeError("no convolutional feature map found for Grad-CAM")
    weights = maps.grad[0].mean(dim=(1, 2))
    cam = torch.relu((weights[:, None, None] * maps[0]).sum(0)).detach().numpy()
    return _normalise(cam)


def occlusion_map(model: ServedModel, batch: np.ndarray, target: int,
                  grid: int = OCCLUSION_GRID) -> np.ndarray:
    """Drop in ``target``'s probability when each ``grid x grid`` cell is set to the mean colour."""
    _, _, height, width = batch.shape
    base = float(model.run(batch).species[0, target])
    ys = np.linspace(0, height, grid + 1).astype(int)
    xs = np.linspace(0, width, grid + 1).astype(int)
    masked = np.repeat(batch, grid * grid, axis=0)
    for i in range(grid):
        for j in range(grid):
            masked[i * grid + j, :, ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = 0.0  # 0 = mean after normalising
    probs = model.run(masked).species[:, target]
    return _normalise(np.clip(base - probs, 0.0, None).reshape(grid, grid))


def _normalise(cam: np.ndarray) -> np.ndarray:
    cam = cam.astype(np.float64)
    cam -= cam.min()
    top = cam.max()
    return cam / top if top > 0 else cam


SHADE = np.array([0.08, 0.12, 0.30], dtype=np.float32)  # the dark blue that unimportant areas fade into


def overlay(crop: Image.Image, cam: np.ndarray, floor: float = 0.2) -> Image.Image:
    """Spotlight a [0, 1] map (any resolution) on ``crop``: what mattered stays in full colour,
    the rest fades into dark blue. Readable on any photo, orange butterflies included."""
    heat = Image.fromarray((cam * 255).astype(np.uint8), "L").resize(crop.size, Image.Resampling.BICUBIC)
    h = (np.asarray(heat, dtype=np.float32) / 255.0)[..., None]
    keep = floor + (1.0 - floor) * np.clip(h * 1.25, 0, 1)
    base = np.asarray(crop.convert("RGB"), dtype=np.float32) / 255.0
    mixed = base * keep + SHADE * (1.0 - keep)
    return Image.fromarray((mixed * 255).clip(0, 255).astype(np.uint8), "RGB")


def heatmap_data_url(model: ServedModel, crop: Image.Image, batch: np.ndarray, target: int) -> str:
    """Grad-CAM (or occlusion) overlay of ``crop`` as a ``data:image/png;base64,...`` URL."""
    net = model.torch_model()
    if net is not None:
        with _CAM_LOCK:
            cam = grad_cam(net, batch, target)
    else:
        cam = occlusion_map(model, batch, target)
    buf = io.BytesIO()
    overlay(crop, cam).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
