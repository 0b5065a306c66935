"""Training and evaluation.

Entry points (everything else is an implementation detail):

- :func:`butterflyer.train.trainer.train` ``(TrainConfig) -> TrainResult``: CPU fast path
  (``fastpath``/``features``) or the full loop (``loop``, ``checkpoint``, ``distributed``,
  ``gpu_data``), then calibration, test report and tracking.
- :func:`butterflyer.train.evaluate.evaluate` ``(model_dir, records_uri, split, out_dir) -> dict``:
  the report folder (``metrics``, ``plots``, ``calibration``).
- :func:`butterflyer.train.calibration.fit_temperature` ``(logits, labels) -> float``.
- :func:`butterflyer.train.tracking.make_tracker`: MLflow, W&B or nothing behind one interface.
"""
