"""What fine-tuning the last stages of efficientnet_lite0 costs per photo on this CPU, side by side.

    .venv/bin/python benchmarks/bench_late_stage.py [--batch 64] [--threads 2]

For 1, 2 and 3 late stages (the cut of ``butterflyer train --finetune-blocks``), it
times the suffix's forward pass and a forward + backward pass on cached-map-shaped
input, in float32 and in bfloat16 autocast, and prints ms per photo and the ratio
to one stage: the cost of each epoch of the late-stage fine-tune.
"""

from __future__ import annotations

import argparse
import time

import torch

from butterflyer.models.factory import create_model
from butterflyer.train.features import cut_backbone


def per_photo_ms(suffix: torch.nn.Module, maps: torch.Tensor, bf16: bool, backward: bool,
                 repeats: int = 2) -> float:
    """Mean milliseconds per photo over ``repeats`` batches after one warm-up batch."""
    suffix.eval()
    suffix.requires_grad_(backward)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = suffix(maps)
        if backward:
            out.float().sum().backward()

    with torch.set_grad_enabled(backward):
        step()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
    return (time.perf_counter() - start) / (repeats * len(maps)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = create_model("efficientnet_lite0", 100, pretrained=True).eval()
    images = torch.randn(args.batch, 3, 224, 224)
    print("stages | map shape | fwd fp32 | fwd bf16 | train fp32 | train bf16 (ms/photo) "
          "| train bf16 vs 1 stage")
    base = None
    for stages in (1, 2, 3):
        cut = cut_backbone(model, stages)
        with torch.no_grad():
            maps = cut.prefix(images)
        row = [per_photo_ms(cut.suffix, maps, bf16, backward)
               for backward in (False, True) for bf16 in (False, True)]
        base = base or row[3]
        cells = " | ".join(f"{v:.2f}" for v in row)
        print(f"{stages} | {tuple(maps.shape[1:])} | {cells} | {row[3] / base:.1f}x")


if __name__ == "__main__":
    main()
