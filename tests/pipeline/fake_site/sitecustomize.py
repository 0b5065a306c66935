"""Test-only plugin: a Python started with this folder on PYTHONPATH runs the fake stages.

kfp.local runs each component in a fresh subprocess, out of reach of monkeypatch;
Python imports ``sitecustomize`` at start-up, so putting this folder (and
tests/pipeline, for ``fake_steps``) on PYTHONPATH swaps the step adapters there.
Production code has no switch for it.
"""

import sys

import fake_steps

import butterflyer.pipeline

sys.modules["butterflyer.pipeline.steps"] = fake_steps
butterflyer.pipeline.steps = fake_steps  # type: ignore[attr-defined]
