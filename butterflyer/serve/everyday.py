"""Everyday photos that are not butterflies, bundled with installed packages (no download).

Used only to *measure* the not-a-butterfly gate (``butterflyer fit-serving
--measure-split``) and to check a compressed model before it ships; never to fit
anything, so they stay an honest outside view: people, a cat, a horse, coffee, a
rocket, a clock, coins, textures, text, microscope and telescope images (from
scikit-image) and Grace Hopper's portrait (from matplotlib).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

# ("cat" is left out: scikit-image returns the same photo as "chelsea")
SKIMAGE_SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "horse", "hubble_deep_field",
                   "immunohistochemistry", "retina", "moon", "grass", "gravel", "brick", "colorwheel", "page",
                   "text", "logo", "coins", "clock", "cell")
MIN_SIDE = 64


def _to_rgb(arr: np.ndarray) -> Image.Image:
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        arr = (255 * (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-9)).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(arr[..., :3])


def _sources() -> dict[str, Callable[[], np.ndarray]]:
    import skimage.data as samples

    out: dict[str, Callable[[], np.ndarray]] = {name: getattr(samples, name) for name in SKIMAGE_SAMPLES
                                                if hasattr(samples, name)}
    out["motorcycle"] = lambda: samples.stereo_motorcycle()[0]

    def hopper() -> np.ndarray:
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        with Image.open(str(path)) as img:
            return np.asarray(img.convert("RGB"))

    out["grace_hopper"] = hopper
    return out


def everyday_photos() -> dict[str, Image.Image]:
    """The bundled photos by name, as RGB images at least ``MIN_SIDE`` px (missing ones are skipped)."""
    out: dict[str, Image.Image] = {}
    for name, load in _sources().items():
        try:
            img = _to_rgb(np.asarray(load()))
        except Exception:  # a sample may need an optional downloader or be absent in this version
            continue
        if min(img.size) >= MIN_SIDE:
            out[name] = img
    return out
