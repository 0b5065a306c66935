"""Settings of a compression run, with named profiles.

``CompressConfig`` is saved as ``config.json`` next to the outputs. Profiles:

- ``fast`` (the default, used by ``make run`` on 2 CPU cores): prune the last three
  stages of an EfficientNet (the 14x14 and 7x7 ones: most of its weights and over half
  its MACs) to 75% of the teacher's MACs, and distil them from the teacher on cached
  maps of the early stages (:mod:`butterflyer.compress.suffix`) over the whole train
  split, then int8. Minutes, not hours. Backbones without stages (VGG16, the tiny
  test model) are pruned and distilled whole, on images.
- ``full``: a deeper cut of the whole network in several prune/fine-tune rounds at
  full resolution, on images; meant for a GPU or a long CPU run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from butterflyer.errors import ConfigError


class CompressConfig(BaseModel):
    """Everything :func:`butterflyer.compress.stage.compress` needs besides its inputs."""

    prune: bool = Field(default=True, description="build the pruned + distilled variants; False: only the "
                        "teacher's ONNX and int8 copies (what the main job ships)")
    metric: Literal["macs", "params"] = "macs"
    target: float = Field(default=0.9, description="fraction of the teacher's MACs/params to keep")
    steps: int = Field(default=1, ge=1, description="prune + fine-tune rounds")
    finetune_steps: int = Field(default=40, ge=0, description="distillation steps after each pruning round "
                                "(whole-network mode)")
    finetune_stages: int | None = Field(default=None, ge=1, description="prune and distil only the last N "
                                        "stages, on cached maps of the earlier ones; None: the whole network "
                                        "on images")
    finetune_epochs: int = Field(default=6, ge=0, description="epochs over train after each pruning round "
                                 "(late-stage mode)")
    batch_size: int = Field(default=32, ge=1)
    lr: float = 5e-4
    temperature: float = 4.0
    alpha: float = Field(default=0.7, ge=0.0, le=1.0,
                         description="weight of the KD term against cross-entropy")
    imagenet_weight: float = Field(default=0.5, ge=0.0,
                                   description="weight of distilling the ImageNet logits")
    train_resolution: int | None = Field(default=160,
                                         description="fine-tuning input size; None = the model's")
    train_per_class: int = Field(default=12, ge=1,
                                 description="train images per class decoded for fine-tuning")
    recalibrate_bn: bool = Field(default=True,
                                 description="re-measure BatchNorm statistics at full resolution")
    calibration_images: int = Field(default=256, ge=8, description="train images for int8 calibration")
    calibration_method: Literal["minmax", "percentile", "entropy"] = "minmax"
    quantize_teacher: bool = Field(default=True,
                                   description="also build the unpruned int8 model (a fallback)")
    max_top1_drop: float = Field(default=0.01, ge=0.0, le=1.0, description="largest val top-1 loss (a "
                                 "fraction: 0.01 = 1 point) a shipped model may have against the teacher")
    gate_check: bool = Field(default=True, description=(
        "fit each candidate's not-a-butterfly gate as it will be served and ship only one that turns "
        "away enough of the bundled everyday photos; False ships on accuracy and speed alone"))
    min_everyday_rejected: float = Field(default=1.0, ge=0.0, le=1.0, description=(
        "least fraction of the bundled everyday (non-butterfly) photos a shipped model's gate rejects"))
    gate_per_class: int | None = Field(default=None, ge=1, description=(
        "train photos per species the gate is fitted on; None: what 'butterflyer fit-serving' uses"))
    val_limit: int | None = None
    test_limit: int | None = None
    latency_repeats: int = Field(default=40, ge=5)
    latency_budget_s: float = Field(default=15.0, gt=0, description="time cap per latency measurement")
    threads: tuple[int, ...] = (1, 2)
    vgg16: bool = Field(default=False,
                        description="add the VGG16 baseline and its pruned version to the report")
    vgg16_dir: str | None = Field(default=None,
                                  description="a trained VGG16 model folder (else an untrained one)")
    vgg16_target: float = Field(default=0.1, description="fraction of VGG16 parameters to keep")
    vgg16_resolution: int = Field(default=224, description="input size the VGG16 rows are measured at")
    seed: int = 0
    profile: str = "fast"

    def check(self) -> CompressConfig:
        """Refuse settings that cannot work, before any work is done."""
        if self.train_resolution is not None and self.train_resolution < 16:
            raise ConfigError(f"train_resolution {self.train_resolution} is too small; "
                              "use 16 or more (96 or more for real photos)")
        if not self.threads or min(self.threads) < 1:
            raise ConfigError("threads must list positive thread counts, e.g. 1 2")
        return self


PROFILES: dict[str, dict[str, object]] = {
    # the main job: pruning on 2 cores costs minutes and its model has not passed the gate check (README)
    "int8": {"prune": False},
    "fast": {"target": 0.75, "finetune_stages": 3, "finetune_epochs": 2},
    "full": {"target": 0.5, "steps": 4, "finetune_stages": None, "finetune_steps": 400, "train_per_class": 60,
             "train_resolution": None, "calibration_images": 512, "vgg16": True},
}


def profile_config(name: str = "fast", **overrides: object) -> CompressConfig:
    """A named profile with ``overrides`` (``None`` values are ignored)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown compression profile {name!r}; choose one of {', '.join(PROFILES)}")
    values = {**PROFILES[name], **{k: v for k, v in overrides.items() if v is not None}, "profile": name}
    return CompressConfig.model_validate(values).check()
