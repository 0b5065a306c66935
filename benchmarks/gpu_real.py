"""Real-data GPU run: an EfficientNet-Lite fine-tune and the VGG16 baseline, trained and pruned.

    python benchmarks/gpu_real.py --records RECORDS --output OUT            # on the GPU host
    python benchmarks/gpu_real.py --records R --output O --lite-model efficientnet_lite2 --skip vgg16
    python benchmarks/gpu_real.py --records R --output O --device cpu --tiny  # dry run of every step

1. ``efficientnet_lite0`` (or ``--lite-model``), full profile (two stages, bf16 autocast, GPU
   JPEG decode, the model's own input size): the run folder's ``report-test/metrics.json``
   holds test top-1.
2. ``vgg16`` from random weights (none exist offline): full fine-tune of every
   layer at one learning rate, so that it is a trained baseline.
3. The VGG16 pruning of ``butterflyer compress`` (parameters, iterative, at least
   10x fewer), then a short fine-tune of the pruned network; test top-1 before
   and after pruning, and after the fine-tune.

Prints one JSON summary line per step (``RESULT {...}``) and writes ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from butterflyer.train.config import TrainConfig


def _top1(model, meta, records: str, device: str) -> float:
    from butterflyer.train.evaluate import predict

    logits, labels = predict(model, meta, records, "test", batch_size=128, device=device)
    model.to("cpu")
    return float((logits.argmax(1) == labels).float().mean())


def lite(records: str, out: Path, gpus: int, tiny: bool, epochs: int, arch: str) -> dict:
    from butterflyer.train.trainer import train

    started = time.perf_counter()
    cfg = TrainConfig(
        input=records,
        output=str(out / arch),
        model="tiny" if tiny else arch,
        profile="full",
        gpu=gpus,
        epochs=epochs,
        head_epochs=1,
        batch_size=128,
        lr=2e-3,
        backbone_lr_mult=0.15,
        patience=0,
        tracker="none",
        augment="trivial",
        num_workers=8,
    )
    result = train(cfg, on_epoch=lambda record: print("EPOCH " + json.dumps(record), flush=True))
    return {
        "step": f"{arch}_full",
        "seconds": round(time.perf_counter() - started, 1),
        **{
            k: result.metrics.get(k)
            for k in ("val_top1", "test_top1", "test_top5", "test_ece", "test_ece_calibrated")
        },
        "epochs": len(result.history),
        "images_per_s": [round(r.get("images_per_s", 0.0)) for r in result.history],
    }


def vgg16(records: str, out: Path, gpus: int, tiny: bool, epochs: int, prune_epochs: int) -> list[dict]:
    from butterflyer.compress.config import CompressConfig
    from butterflyer.compress.vgg import prune_vgg
    from butterflyer.models import load_model
    from butterflyer.train import distributed
    from butterflyer.train.trainer import run_full, train

    device = "cuda" if gpus else "cpu"
    started = time.perf_counter()
    arch = "tiny" if tiny else "vgg16"
    cfg = TrainConfig(
        input=records,
        output=str(out / "vgg16"),
        model=arch,
        profile="full",
        gpu=gpus,
        pretrained=False,
        epochs=epochs,
        head_epochs=0,
        batch_size=128,
        lr=1e-4,
        backbone_lr_mult=1.0,
        lwf_weight=0.0,
        weight_decay=5e-4,
        patience=0,
        tracker="none",
        augment="trivial",
        num_workers=8,
    )
    result = train(cfg)
    rows = [
        {
            "step": "vgg16_scratch",
            "seconds": round(time.perf_counter() - started, 1),
            "val_top1": result.metrics.get("val_top1"),
            "test_top1": result.metrics.get("test_top1"),
            "epochs": len(result.history),
        }
    ]
    model, meta = load_model(result.model_dir)
    size = meta.data_config.input_size
    t0 = time.perf_counter()
    pruned, base, after = prune_vgg(model, CompressConfig(vgg16_target=0.09, steps=4), size)
    before_ft = _top1(pruned, meta, records, device)
    ctx = distributed.init(gpus > 0)
    ft_cfg = cfg.model_copy(update={"output": str(out / "vgg16-pruned"), "epochs": prune_epochs, "lr": 5e-5})
    history = run_full(ft_cfg, pruned, meta.data_config, meta.labels, ctx, out / "vgg16-pruned", None)
    rows.append(
        {
            "step": "vgg16_pruned",
            "seconds": round(time.perf_counter() - t0, 1),
            "params_before": base.params,
            "params_after": after.params,
            "param_ratio": round(base.params / max(after.params, 1), 2),
            "macs_before": base.macs,
            "macs_after": after.macs,
            "test_top1_trained": result.metrics.get("test_top1"),
            "test_top1_pruned_no_finetune": before_ft,
            "test_top1_pruned_finetuned": _top1(pruned, meta, records, device),
            "finetune_epochs": len(history),
        }
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", required=True)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--tiny", action="store_true", help="the tiny test model instead (CPU dry run)")
    ap.add_argument("--lite-epochs", type=int, default=16)
    ap.add_argument("--lite-model", default="efficientnet_lite0", help="efficientnet_lite0|1|2")
    ap.add_argument("--vgg-epochs", type=int, default=24)
    ap.add_argument("--prune-epochs", type=int, default=4)
    ap.add_argument("--skip", nargs="*", default=[], choices=["lite", "vgg16"])
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: use --device cpu --tiny for a dry run", file=sys.stderr)
        return 2
    gpus = 1 if args.device == "cuda" else 0
    if gpus:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    def emit(row: dict) -> None:
        rows.append(row)
        print("RESULT " + json.dumps(row), flush=True)
        (args.output / "summary.json").write_text(json.dumps(rows, indent=2))

    if "lite" not in args.skip:
        emit(lite(args.records, args.output, gpus, args.tiny, args.lite_epochs, args.lite_model))
    if "vgg16" not in args.skip:
        for row in vgg16(args.records, args.output, gpus, args.tiny, args.vgg_epochs, args.prune_epochs):
            emit(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
