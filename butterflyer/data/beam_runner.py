"""``build-records --runner beam``: the same per-image function as an Apache Beam pipeline.

Beam is an optional extra (``pip install 'butterflyer[beam]'``) and is imported
only here. The pipeline is::

    Create(shard, position, row) -> Map(make_example) -> GroupByKey(shard)
        -> Map(write_shard: sort by position, write, record progress)

so its shards are byte-identical to the local runner's. Locally it runs on the
DirectRunner (one process by default; ``--direct_running_mode=multi_processing``
pickles every function into worker processes as Dataflow does). For ~100 GB on
Google Cloud, pass Dataflow flags, a ``gs://`` output and a worker image built
from ``docker/dataflow.Dockerfile`` (``--sdk_container_image``); the README's
"Records on Dataflow" gives the exact command. The interim paths must be
readable by the workers (``raw/`` on a bucket; the ``path`` column may hold
``gs://`` URIs).
"""

from __future__ import annotations

from typing import Any

from butterflyer.data.encode import RecordsConfig, make_example
from butterflyer.data.shards import done_entries, mark_done, write_shard
from butterflyer.errors import ConfigError


def _encode(element: tuple[str, int, dict[str, Any]], config: RecordsConfig) -> tuple[str, tuple[int, bytes]]:
    shard, position, row = element
    return shard, (position, make_example(row, config))


def _write(element: tuple[str, Any], output: str, fingerprint: str) -> dict[str, Any]:
    name, items = element
    payloads = [payload for _, payload in sorted(items, key=lambda item: item[0])]
    entry = write_shard(output, name, payloads)
    mark_done(output, entry, fingerprint)
    return entry


def run_beam(
    output: str, pending: list[Any], config: RecordsConfig, fingerprint: str, options: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run the pending shards through Beam; returns their manifest entries (read back from progress files)."""
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError as exc:
        raise ConfigError("the Beam runner needs Apache Beam: pip install 'butterflyer[beam]'.") from exc
    if not pending:
        return []
    flags = list(options or [])
    if not any(flag.startswith("--runner") for flag in flags):
        flags += ["--runner=DirectRunner", "--direct_num_workers=1"]
    elements = [(plan.name, pos, row) for plan in pending for pos, row in enumerate(plan.rows)]
    with beam.Pipeline(options=PipelineOptions(flags)) as pipeline:
        _ = (
            pipeline
            | "Rows" >> beam.Create(elements, reshuffle=True)
            | "Encode" >> beam.Map(_encode, config=config)
            | "ByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.Map(_write, output=output, fingerprint=fingerprint)
        )
    done = done_entries(output, fingerprint)
    missing = [plan.name for plan in pending if plan.name not in done]
    if missing:
        raise ConfigError(
            f"the Beam pipeline finished without writing {missing[:3]}; check the runner's logs."
        )
    return [done[plan.name] for plan in pending]
