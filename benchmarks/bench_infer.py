"""Inference speed of every model variant, measured side by side in one run.

    .venv/bin/python benchmarks/bench_infer.py [--compressed DIR] [--repeats 60] [--threads 1 2]

With ``--compressed`` (or when ``$BUTTERFLYER_HOME/models/*-compressed/compression.json``
exists) the variants are the ones ``butterflyer compress run`` wrote. Otherwise they are
built here from the packaged ImageNet efficientnet_lite0 (100-way head): fp32 PyTorch
eager, ONNX fp32, ONNX int8 (calibrated on random inputs: fine for timing, not for
accuracy), and a copy pruned to 0.8 of the MACs (no fine-tuning) in fp32 and int8.

Prints batch-1 latency p50/p95 per thread count (variants timed round-robin, so load
from other processes hits all of them alike) and throughput at batch 32, each with
its ratio to fp32 PyTorch eager at the same thread count. Target: the shipped
pruned+int8 model at least 3x faster than PyTorch eager at batch 1.
Timings on a shared machine are noisy; read the ratios, which come from one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def _from_report(folder: Path):
    from butterflyer.compress.prune import Cost
    from butterflyer.compress.variants import Variant
    from butterflyer.models import load_model

    report = json.loads((folder / "compression.json").read_text())
    variants = []
    for row in report["rows"]:
        if row["name"].startswith("vgg16"):
            continue  # VGG16 takes seconds per image; the compression report times it
        model = None
        if row["runtime"] == "pytorch":
            model, _ = load_model(row["model_dir"])
        variants.append(Variant(row["name"], row["runtime"], Path(row["model_dir"]),
                                Cost(row["macs"], row["params"]), model))
    return variants


def _built(work: Path):
    import copy

    import numpy as np

    from butterflyer.compress.export import save_onnx_model
    from butterflyer.compress.prune import count_cost, prune_to
    from butterflyer.compress.quantize import quantize_int8
    from butterflyer.compress.variants import Variant
    from butterflyer.models import ModelMeta, create_model, data_config_for

    labels = [f"class{i}" for i in range(100)]
    meta = ModelMeta(architecture="efficientnet_lite0", labels=labels,
                     data_config=data_config_for("efficientnet_lite0"))
    teacher = create_model("efficientnet_lite0", 100, pretrained=True).eval()
    base = count_cost(teacher, 224)
    pruned = copy.deepcopy(teacher)
    cost = prune_to(pruned, 224, 0.8, base)
    calib = [np.random.default_rng(i).standard_normal((8, 3, 224, 224)).astype(np.float32) for i in range(4)]
    t_dir = save_onnx_model(teacher, meta, work / "teacher")
    p_dir = save_onnx_model(pruned, meta, work / "pruned")
    return [
        Variant("efficientnet_lite0 (PyTorch eager)", "pytorch", t_dir, base, teacher),
        Variant("lite0 ONNX fp32", "onnx-fp32", t_dir, base),
        Variant("lite0 ONNX int8", "onnx-int8", quantize_int8(t_dir, calib, work / "t-int8", 32), base),
        Variant("lite0 pruned 0.8 MACs ONNX fp32", "onnx-fp32", p_dir, cost),
        Variant("lite0 pruned 0.8 MACs ONNX int8", "onnx-int8", quantize_int8(p_dir, calib, work / "p8", 32),
                cost),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compressed", type=Path, help="output folder of 'butterflyer compress run'")
    parser.add_argument("--repeats", type=int, default=60, help="batch-1 calls per variant and thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per latency loop, at most")
    args = parser.parse_args()

    from butterflyer.compress.variants import Row, time_variants
    from butterflyer.paths import models_dir

    folder = args.compressed
    if folder is None:
        found = sorted(models_dir().glob("*-compressed/compression.json"), key=lambda p: p.stat().st_mtime)
        folder = found[-1].parent if found else None
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as tmp:
        if folder is not None:
            print(f"variants from {folder}")
            variants = _from_report(folder)
        else:
            print("no compressed model found: building variants from the packaged lite0 (timing only)")
            variants = _built(Path(tmp))
        rows = [Row(v.name, v.runtime, str(v.model_dir), v.cost.params, v.cost.macs, 0.0, 0.0)
                for v in variants]
        time_variants(variants, rows, 224, tuple(args.threads), args.repeats, args.budget)
    ref = next(r for r in rows if r.runtime == "pytorch")
    head = "".join(f" {f'p50/p95 ms {n}t':>17s} {'x':>6s}" for n in args.threads)
    print(f"\n{'variant':44s} {'MACs G':>7s}{head} {'img/s b32':>10s} {'x':>6s}")
    for r in rows:
        cells = ""
        for n in args.threads:
            lat = r.latency_ms[str(n)]
            cells += f" {lat['p50']:8.2f}/{lat['p95']:8.2f} {ref.p50(n) / lat['p50']:6.2f}"
        print(f"{r.name:44s} {r.macs / 1e9:7.3f}{cells} {r.throughput_b32:10.1f} "
              f"{r.throughput_b32 / ref.throughput_b32:6.2f}")
    print("\nx = speed-up against fp32 PyTorch eager at the same thread count (higher is faster).")


if __name__ == "__main__":
    main()
