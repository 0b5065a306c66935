"""All three data stages in one call, for ``butterflyer up``, the pipeline and notebooks.

Usage::

    from butterflyer.data.run import ensure_records
    manifest = ensure_records("../shared/datasets/butterflies-100.zip")

Each stage skips itself when its inputs and settings are unchanged, so calling
this again costs a few seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from butterflyer.data.collect import collect
from butterflyer.data.prepare import PrepareConfig, prepare
from butterflyer.data.records import RecordsConfig, build_records


def ensure_records(
    source: str | Path,
    output: str | None = None,
    prepare_config: PrepareConfig = PrepareConfig(),
    records_config: RecordsConfig = RecordsConfig(),
    runner: str = "local",
) -> dict[str, Any]:
    """Collect ``source``, prepare it, build records (default output ``records/``); returns the manifest."""
    info = collect(source)
    prepare(raw=Path(info["root"]), config=prepare_config)
    return build_records(output=output, runner=runner, config=records_config)
