"""Compression stage: structured pruning (torch-pruning DepGraph), knowledge distillation,
ONNX export, static int8 quantization (ONNX Runtime) and the size/speed/accuracy report.

Entry points: :func:`butterflyer.compress.stage.compress` (the whole stage),
:func:`butterflyer.compress.export.export_onnx` and
:func:`butterflyer.compress.quantize.quantize_int8` (single steps). Heavy modules are
imported by their users, so ``import butterflyer.compress`` stays cheap.
"""
