"""Heatmaps (Grad-CAM and occlusion) and the one-time ONNX export of a safetensors-only folder."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from butterflyer.serve.explain import grad_cam, heatmap_data_url, occlusion_map
from butterflyer.serve.onnx_cache import onnx_for
from butterflyer.serve.preprocess import preprocess, resize_crop, to_tensor
from butterflyer.serve.session import load_served_model

from .conftest import TINY_CONFIG, make_constant_onnx, photo


def test_safetensors_folder_is_exported_once_and_cached(tiny_model: Path, butterflyer_home: Path) -> None:
    first = onnx_for(tiny_model)
    assert first.is_file() and str(first).startswith(str(butterflyer_home))
    stamp = first.stat().st_mtime_ns
    assert onnx_for(tiny_model) == first and first.stat().st_mtime_ns == stamp
    served = load_served_model(str(tiny_model))
    out = served.run(np.zeros((3, 3, 32, 32), np.float32))
    assert out.species.shape == (3, 4) and out.imagenet is not None and out.imagenet.shape == (3, 1000)


def test_onnx_matches_pytorch(tiny_model: Path) -> None:
    import torch

    served = load_served_model(str(tiny_model))
    net = served.torch_model()
    x = preprocess(photo(), TINY_CONFIG)[None]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = served.run_raw(x)["logits"]
    assert np.allclose(got, want, atol=1e-4)


def test_grad_cam_and_overlay(tiny_model: Path) -> None:
    served = load_served_model(str(tiny_model))
    crop = resize_crop(photo(), TINY_CONFIG)
    batch = to_tensor(crop, TINY_CONFIG)[None]
    cam = grad_cam(served.torch_model(), batch, 0)
    assert cam.ndim == 2 and cam.min() >= 0 and cam.max() <= 1
    url = heatmap_data_url(served, crop, batch, 0)
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.size == crop.size and img.format == "PNG"


def test_one_pass_cam_equals_gradient_grad_cam(tiny_model: Path) -> None:
    from butterflyer.serve.explain import _gradient_cam

    served = load_served_model(str(tiny_model))
    batch = preprocess(photo(seed=7), TINY_CONFIG)[None]
    for target in range(4):
        assert np.allclose(grad_cam(served.torch_model(), batch, target),
                           _gradient_cam(served.torch_model(), batch, target), atol=1e-5)


def test_occlusion_is_used_without_pytorch_weights(tmp_path: Path) -> None:
    folder = make_constant_onnx(tmp_path / "c", [1.0, 0.0], None, labels=["A", "B"])
    served = load_served_model(str(folder))
    assert served.torch_model() is None
    batch = np.zeros((1, 3, 32, 32), np.float32)
    cam = occlusion_map(served, batch, 0)
    assert cam.shape == (7, 7)  # constant model: nothing matters, the map is flat zero
    assert float(cam.max()) == 0.0


def test_exif_orientation_is_applied_before_the_model_sees_the_photo(tiny_model: Path) -> None:
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.settings import ServeSettings

    from .conftest import encode

    ident = Identifier.load(str(tiny_model), ServeSettings(model_uri=str(tiny_model)))
    base = photo((120, 60), seed=3)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers rotate it 270 degrees (90 clockwise)
    tagged = ident.identify_bytes(encode(base, "PNG", exif=exif))
    upright = ident.identify_bytes(encode(base.transpose(Image.Transpose.ROTATE_270), "PNG"))
    sideways = ident.identify_bytes(encode(base, "PNG"))
    probs = lambda r: [g.probability for g in sorted(r.top_k, key=lambda g: g.id)]  # noqa: E731
    assert np.allclose(probs(tagged), probs(upright), atol=1e-5)
    assert not np.allclose(probs(tagged), probs(sideways), atol=1e-5)


def test_fallback_exporter_when_the_compress_stage_is_absent(tiny_model: Path, monkeypatch) -> None:  # noqa: ANN001
    import sys

    monkeypatch.setitem(sys.modules, "butterflyer.compress.export", None)  # import now fails
    served = load_served_model(str(tiny_model))
    assert served.output_names == ["logits", "imagenet_logits", "features"]
    assert not list(served.onnx_path.parent.glob(".*partial"))
    out = served.run(np.zeros((2, 3, 32, 32), np.float32))
    assert out.species.shape == (2, 4)
