"""Fixtures for the serve tests: tiny model folders (real and with controlled outputs) and images."""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from torch import nn

from butterflyer.models import DataConfig, ModelMeta, create_model, save_model
from butterflyer.serve.catalog import Catalog, SpeciesInfo
from butterflyer.serve.settings import ServeSettings

LABELS = ["MONARCH", "VICEROY", "QUEEN", "ATLAS MOTH"]
TINY_CONFIG = DataConfig(input_size=32, resize_size=36, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def make_tiny_folder(folder: Path, labels: list[str] = LABELS, version: str = "1", seed: int = 0,
                     imagenet_head: bool = True) -> Path:
    """A real tiny network (safetensors only) with a random 1000-way ImageNet head."""
    torch.manual_seed(seed)
    model = create_model("tiny", len(labels), pretrained=False)
    if imagenet_head:
        model.imagenet_head = nn.Linear(model.num_features, 1000).requires_grad_(False)
    meta = ModelMeta(architecture="tiny", version=version, labels=labels, data_config=TINY_CONFIG)
    return save_model(model.eval(), folder, meta)


def make_constant_onnx(folder: Path, species_logits: list[float], imagenet_logits: list[float] | None,
                       labels: list[str] | None = None, version: str = "c1", size: int = 32,
                       extra: dict | None = None, features: list[float] | None = None) -> Path:
    """A model folder whose ONNX ignores the pixels and returns fixed logits (controlled outputs)."""
    labels = labels or [f"L{i}" for i in range(len(species_logits))]
    nodes, inits = [], []
    inits.append(helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]))
    inits.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
    inits.append(helper.make_tensor("flat", TensorProto.INT64, [2], [-1, 1]))
    nodes.append(helper.make_node("ReduceMean", ["image", "axes"], ["m"], keepdims=1))
    nodes.append(helper.make_node("Reshape", ["m", "flat"], ["m2"]))
    nodes.append(helper.make_node("Mul", ["m2", "zero"], ["z"]))
    outputs = []
    for name, values in (("logits", species_logits), ("imagenet_logits", imagenet_logits),
                         ("features", features)):
        if values is None:
            continue
        inits.append(helper.make_tensor(f"{name}_c", TensorProto.FLOAT, [1, len(values)], values))
        nodes.append(helper.make_node("Add", ["z", f"{name}_c"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", len(values)]))
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, ["batch", 3, size, size])], outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    cfg = DataConfig(input_size=size, resize_size=size + 4)
    ModelMeta(architecture="tiny", version=version, labels=labels, data_config=cfg,
              has_imagenet_head=imagenet_logits is not None, extra=extra or {}).save(folder)
    return folder


def imagenet_logits(butterfly: bool) -> list[float]:
    """ImageNet logits that put most mass on the monarch class (323) or on 'espresso' (967)."""
    values = [0.0] * 1000
    values[323 if butterfly else 967] = 12.0
    return values


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return make_tiny_folder(tmp_path / "tiny")


@pytest.fixture
def constant_model() -> Callable[..., Path]:
    return make_constant_onnx


@pytest.fixture
def catalog() -> Catalog:
    """Taxonomy for the controlled labels: two Danaus species, one Limenitis, one moth."""
    return Catalog({
        "L0": SpeciesInfo("L0", "Monarch", "Danaus plexippus", "Danaus", "Nymphalidae"),
        "L1": SpeciesInfo("L1", "Queen", "Danaus gilippus", "Danaus", "Nymphalidae"),
        "L2": SpeciesInfo("L2", "Viceroy", "Limenitis archippus", "Limenitis", "Nymphalidae"),
        "L3": SpeciesInfo("L3", "Atlas moth", "Attacus atlas", "Attacus", "Saturniidae"),
        "L4": SpeciesInfo("L4", "Tiger swallowtail", "Papilio glaucus", "Papilio", "Papilionidae"),
        "L5": SpeciesInfo("L5", "Old World swallowtail", "Papilio machaon", "Papilio", "Papilionidae"),
        "L6": SpeciesInfo("L6", "Scarce swallowtail", "Iphiclides podalirius", "Iphiclides", "Papilionidae"),
    })


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(size: tuple[int, int] = (96, 64), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""
    small = encode(Image.new("L", (8, 8)), "PNG")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    return small[:8] + patched + small[8 + 25:]


@pytest.fixture
def images() -> dict[str, bytes]:
    return make_images()


def make_images() -> dict[str, bytes]:
    """One byte string per case the API must handle."""
    base = photo()
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    jpeg = encode(base, "JPEG", quality=90)
    return {
        "jpeg": jpeg,
        "png": encode(base, "PNG"),
        "webp": encode(base, "WEBP"),
        "gif": encode(base.convert("P"), "GIF"),
        "cmyk": encode(base.convert("CMYK"), "JPEG"),
        "rgba": encode(rgba, "PNG"),
        "exif": encode(base, "JPEG", exif=exif),
        "truncated": jpeg[: len(jpeg) // 2],
        "empty": b"",
        "text": b"this is not an image, whatever its name says\n" * 10,
        "tiny": encode(photo((8, 8)), "PNG"),
        "bomb": png_bomb(),
    }


@contextlib.contextmanager
def running_server(app) -> Iterator[str]:  # noqa: ANN001
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL.

    The server gets the production guards (:func:`butterflyer.serve.server.uvicorn_config`).
    """
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from butterflyer.serve.server import uvicorn_config

    settings = getattr(app.state, "settings", None) or ServeSettings()
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def danaus_catalog() -> Catalog:
    """Three species, two of one genus: the page tests' field guide."""
    return Catalog({
        "MONARCH": SpeciesInfo("MONARCH", "Monarch", "Danaus plexippus", "Danaus", "Nymphalidae",
                               kind="butterfly", summary="Orange wings with black veins and white dots."),
        "QUEEN": SpeciesInfo("QUEEN", "Queen", "Danaus gilippus", "Danaus", "Nymphalidae"),
        "VICEROY": SpeciesInfo("VICEROY", "Viceroy", "Limenitis archippus", "Limenitis", "Nymphalidae"),
    })


def app_serving(folder: Path, catalog: Catalog):  # noqa: ANN201
    """The real app serving the model ``folder`` with ``catalog`` (no refresh, chat off)."""
    from butterflyer.serve.app import create_app
    from butterflyer.serve.holder import ModelHolder
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.session import load_served_model

    settings = ServeSettings(model_uri=str(folder), refresh_seconds=0, chat=False)
    holder = ModelHolder(settings, loader=lambda uri, s: Identifier.from_model(load_served_model(uri), s,
                                                                               catalog))
    return create_app(settings, holder)
