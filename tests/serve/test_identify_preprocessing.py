"""Serving must preprocess exactly once, the way thresholds are fitted and models evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from butterflyer.serve.catalog import Catalog
from butterflyer.serve.identify import Identifier
from butterflyer.serve.preprocess import decode, preprocess
from butterflyer.serve.session import load_served_model

from .conftest import encode, photo


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
