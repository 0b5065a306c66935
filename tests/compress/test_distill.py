"""Distillation: the loss, and fine-tuning that moves a pruned student towards its teacher."""

from __future__ import annotations

import copy

import pytest
import torch

from butterflyer.compress.distill import DistillConfig, distill, kd_loss, recalibrate_bn
from butterflyer.compress.prune import count_cost, prune_to
from butterflyer.errors import CompressionError
from butterflyer.models import create_model


def test_kd_loss_is_zero_for_equal_logits_and_positive_otherwise() -> None:
    logits = torch.randn(5, 4)
    assert kd_loss(logits, logits, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    assert kd_loss(logits, torch.randn(5, 4), 4.0).item() > 0


def _teacher_and_student(trained_tiny_state):
    teacher = create_model("tiny", 3, pretrained=False)
    teacher.imagenet_head = torch.nn.Linear(teacher.num_features, 10).requires_grad_(False)
    teacher.load_state_dict(trained_tiny_state)
    teacher.eval()
    student = copy.deepcopy(teacher)
    prune_to(student, 32, 0.4, count_cost(teacher, 32))
    return teacher, student


def _gap(student, teacher, x) -> tuple[float, float]:
    with torch.no_grad():
        s, s_in = student.eval().forward_with_imagenet(x)
        t, t_in = teacher.forward_with_imagenet(x)
    return kd_loss(s, t, 1.0).item(), kd_loss(s_in, t_in, 1.0).item()


def test_distillation_moves_student_towards_teacher(task, trained_tiny_state) -> None:
    torch.manual_seed(0)
    teacher, student = _teacher_and_student(trained_tiny_state)
    x, y = torch.from_numpy(task[0]), torch.from_numpy(task[1])
    before = _gap(student, teacher, x)
    frozen = student.imagenet_head.weight.clone()
    order = torch.randperm(len(x))
    batches = [(x[order[i:i + 24]], y[order[i:i + 24]]) for i in range(0, len(x), 24)]
    stats = distill(student, teacher, batches, DistillConfig(steps=30, lr=3e-3, warmup_steps=2))
    after = _gap(student, teacher, x)
    assert stats.steps == 30 and stats.images == 30 * 24
    assert after[0] < 0.5 * before[0]  # species logits much closer
    assert after[1] < before[1]  # and the ImageNet logits too
    assert torch.equal(student.imagenet_head.weight, frozen)  # the ImageNet head stays frozen
    assert not student.training


def test_distill_refuses_empty_data(trained_tiny_state) -> None:
    teacher, student = _teacher_and_student(trained_tiny_state)
    with pytest.raises(CompressionError, match="empty"):
        distill(student, teacher, [], DistillConfig(steps=2))


def test_recalibrate_bn_measures_new_statistics(trained_tiny_state) -> None:
    teacher, student = _teacher_and_student(trained_tiny_state)
    shifted = [torch.randn(16, 3, 32, 32) * 3 + 2 for _ in range(3)]
    bn = student.backbone.body[1]
    old = bn.running_mean.clone()
    assert recalibrate_bn(student, shifted) == 48
    assert not torch.allclose(bn.running_mean, old)
    first_conv = student.backbone.body[0]
    with torch.no_grad():
        expected = torch.cat([first_conv(b) for b in shifted]).mean(dim=(0, 2, 3))
    torch.testing.assert_close(bn.running_mean, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(CompressionError, match="no images"):
        recalibrate_bn(student, [])
