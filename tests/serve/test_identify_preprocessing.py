"""Serving must preprocess exactly once, the way thresholds are fitted and models evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from butterflyer.models import DataConfig
from butterflyer.serve.catalog import Catalog
from butterflyer.serve.identify import Identifier
from butterflyer.serve.preprocess import decode, preprocess, to_tensor
from butterflyer.serve.session import load_served_model

from .conftest import TINY_CONFIG, encode, photo


def test_identify_sees_the_same_input_as_fitting(tiny_model: Path) -> None:
    served = load_served_model(str(tiny_model))
    ident = Identifier.from_model(served, None, Catalog())
    data = encode(photo(size=(120, 80), seed=3), "PNG")
    cfg = served.meta.data_config
    expected = served.run(preprocess(decode(data, cfg), cfg)[None]).species[0]
    result = ident.identify_bytes(data)
    by_id = {g.id: g.probability for g in result.top_k}
    for index, label in enumerate(served.meta.labels):
        assert np.isclose(by_id[label], expected[index], atol=1e-5), (label, by_id[label], expected[index])


def _reference_tensor(img: Image.Image, config: DataConfig) -> np.ndarray:
    """The straightforward formula: scale to [0, 1], subtract the mean, divide by the std, channels first."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = (arr - np.asarray(config.mean, dtype=np.float32)) / np.asarray(config.std, dtype=np.float32)
    return arr.transpose(2, 0, 1)


@pytest.mark.parametrize("config", [TINY_CONFIG, DataConfig(input_size=24, mean=(0.485, 0.456, 0.406),
                                                            std=(0.229, 0.224, 0.225))])
def test_lookup_table_normalisation_matches_the_formula(config: DataConfig) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (config.input_size, config.input_size + 5, 3), dtype=np.uint8)
    pixels[0, :3] = [[0, 0, 0], [255, 255, 255], [1, 128, 254]]  # both ends of every channel's table
    img = Image.fromarray(pixels)
    got = to_tensor(img, config)
    assert got.dtype == np.float32 and got.shape == (3, config.input_size, config.input_size + 5)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, _reference_tensor(img, config), rtol=0, atol=1e-6)


def test_lookup_table_converts_other_modes_to_rgb() -> None:
    img = Image.fromarray(np.full((8, 8), 200, dtype=np.uint8))
    assert img.mode == "L"
    expected = _reference_tensor(img.convert("RGB"), TINY_CONFIG)
    np.testing.assert_allclose(to_tensor(img, TINY_CONFIG), expected, rtol=0, atol=1e-6)
