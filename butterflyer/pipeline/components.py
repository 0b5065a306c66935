"""One Kubeflow component per stage, each a thin wrapper over :mod:`butterflyer.pipeline.steps`.

Every component takes ``code_version`` (the package version and a hash of its
source, see :func:`butterflyer.pipeline.stepcache.code_version`) and ignores it: it is
there so the orchestrator's cache key changes when the code does.

The functions below are the component bodies: kfp copies their source into the
compiled pipeline, so each imports what it needs inside. :func:`make_components`
turns them into components for a set of container images (one per stage family,
built from ``docker/``); ``install_kfp_package=False`` because the images and the
local venv already have kfp, so nothing is pip-installed at run time.
"""

# No ``from __future__ import annotations`` here: kfp reads the real annotation objects.
from dataclasses import dataclass
from typing import Any

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output


@dataclass(frozen=True)
class Images:
    """Container image per stage family (see ``docker/``)."""

    data: str = "butterflyer/data:0.1.0"
    train: str = "butterflyer/train:0.1.0"
    compress: str = "butterflyer/compress:0.1.0"
    workflow: str = "butterflyer/workflow:0.1.0"

    @classmethod
    def from_prefix(cls, prefix: str, tag: str = "0.1.0") -> "Images":
        """``REGISTRY/REPO`` (or ``REGISTRY/REPO:TAG``) -> ``REGISTRY/REPO/<family>:TAG``."""
        base, _, given = prefix.rstrip("/").rpartition(":") if ":" in prefix.rsplit("/", 1)[-1] \
            else (prefix.rstrip("/"), "", "")
        tag = given or tag
        return cls(*(f"{base}/{family}:{tag}" for family in ("data", "train", "compress", "workflow")))


def collect_op(source: str, home: str, code_version: str, raw: Output[Dataset]) -> None:
    """Copy the source (folder, archive, URL, bucket) into raw/."""
    from butterflyer.pipeline import runtime

    runtime.publish(raw, runtime.call(home, "collect", source))


def prepare_op(raw: Input[Dataset], config: dict, home: str, code_version: str, interim: Output[Dataset],
               report: Output[Markdown]) -> None:
    """Validate, de-duplicate and split into interim/ (CSV splits, labels, data report)."""
    from butterflyer.pipeline import runtime

    result = runtime.call(home, "prepare", runtime.path_of(raw), config)
    runtime.publish(interim, result)
    runtime.publish_markdown(report, result.report, f"# Data\n\n{result.metadata()}\n")


def build_records_op(interim: Input[Dataset], output: str, runner: str, home: str, code_version: str,
                     records: Output[Dataset]) -> None:
    """Sharded TFRecords with a manifest written last."""
    from butterflyer.pipeline import runtime

    runtime.publish(records, runtime.call(home, "build_records", runtime.path_of(interim), output, runner))


def train_op(records: Input[Dataset], model_name: str, epochs: int, profile: str, seed: int, config: dict,
             home: str, code_version: str, model: Output[Model], metrics: Output[Metrics]) -> None:
    """Train a classifier on the records (skipped when records, settings and code are unchanged)."""
    from butterflyer.pipeline import runtime

    result = runtime.call(home, "train", runtime.path_of(records), records.metadata["manifest_sha256"],
                          model_name, epochs, profile, seed, config)
    runtime.publish(model, result)
    runtime.publish_metrics(metrics, result.metrics)


def evaluate_op(model: Input[Model], records: Input[Dataset], split: str, home: str, code_version: str,
                metrics: Output[Metrics], report: Output[Markdown]) -> None:
    """Top-1/top-5, per-class scores, calibration and plots on one split."""
    from butterflyer.pipeline import runtime

    result = runtime.call(home, "evaluate", runtime.path_of(model), runtime.path_of(records),
                          records.metadata["manifest_sha256"], split)
    runtime.publish_metrics(metrics, result.metrics)
    runtime.publish_markdown(report, result.report, f"# Evaluation ({split})\n\n{result.metrics}\n")


def compress_op(teacher: Input[Model], records: Input[Dataset], enabled: bool, target: float, config: dict,
                home: str, code_version: str, model: Output[Model], metrics: Output[Metrics],
                report: Output[Markdown]) -> None:
    """Prune, distil and quantize the teacher into the model the app ships."""
    from butterflyer.pipeline import runtime

    result = runtime.call(home, "compress", runtime.path_of(teacher), runtime.path_of(records),
                          records.metadata["manifest_sha256"], enabled, config, target=target)
    runtime.publish(model, result)
    runtime.publish_metrics(metrics, result.metrics)
    runtime.publish_markdown(report, result.report, "# Compression\n\nskipped (teacher exported to ONNX)\n")


def fit_serving_op(model: Input[Model], records: Input[Dataset], home: str, code_version: str,
                   served: Output[Model]) -> None:
    """Fit the app's not-a-butterfly gate and roll-up thresholds into the model's meta.json."""
    from butterflyer.pipeline import runtime

    result = runtime.call(home, "fit_serving", runtime.path_of(model), runtime.path_of(records),
                          records.metadata["manifest_sha256"])
    runtime.publish(served, result)


def register_op(teacher: Input[Model], teacher_metrics: Input[Metrics], teacher_report: Input[Markdown],
                candidate: Input[Model], candidate_metrics: Input[Metrics], candidate_report: Input[Markdown],
                records: Input[Dataset], model_name: str, margin: float,
                min_top1: float, latency_budget_ms: float, home: str, code_version: str,
                decision: Output[Markdown]) -> bool:
    """Register teacher and candidate with lineage; promotion decides if the candidate becomes champion.

    Returns whether it was promoted (a single ``Output`` so that ``kfp.local`` can evaluate the
    deploy condition: it cannot resolve named outputs of hyphenated tasks in conditions).
    """
    from butterflyer.pipeline import runtime

    lineage = {"records_uri": runtime.path_of(records),
               "data_manifest_sha256": records.metadata["manifest_sha256"]}
    teacher_result = runtime.call(home, "register", runtime.path_of(teacher),
                                  runtime.metrics_of(teacher_metrics), report=runtime.path_of(teacher_report),
                                  name=model_name, challenge=False, extra_tags=lineage)
    result = runtime.call(home, "register", runtime.path_of(candidate), runtime.metrics_of(candidate_metrics),
                          report=runtime.path_of(candidate_report), name=model_name, challenge=True,
                          margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms,
                          records_uri=runtime.path_of(records),
                          extra_tags={**lineage, "teacher_version": str(teacher_result.version)})
    text = (f"# Promotion\n\n- teacher: v{teacher_result.version}\n"
            f"- candidate: v{result.version}\n- promoted: {result.promoted}\n"
            f"- champion: v{result.champion}\n- reason: {result.promotion_reason}\n")
    runtime.publish_markdown(decision, "", text)
    return bool(result.promoted)


def deploy_op(target: str, model_name: str, vertex: dict, home: str, code_version: str) -> str:
    """Make the champion live (local: the server hot-swaps on the alias; vertex: endpoint)."""
    from butterflyer.pipeline import runtime

    return str(runtime.call(home, "deploy", target, model_name, vertex).version)


BODIES = {"collect": (collect_op, "data"), "prepare": (prepare_op, "data"),
          "build-records": (build_records_op, "data"), "train": (train_op, "train"),
          "evaluate": (evaluate_op, "train"), "compress": (compress_op, "compress"),
          "fit-serving": (fit_serving_op, "workflow"),
          "register": (register_op, "workflow"), "deploy": (deploy_op, "workflow")}


def make_components(images: Images | None = None) -> dict[str, Any]:
    """The components keyed by stage name, each on its family's image."""
    images = images or Images()
    return {name: dsl.component(func, base_image=getattr(images, family), install_kfp_package=False)
            for name, (func, family) in BODIES.items()}
