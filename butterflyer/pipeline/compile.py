"""Compile the pipeline to YAML (``pipeline.yaml`` at the repository root is the committed copy).

A test compiles again and compares, so the committed file cannot drift from the code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from butterflyer.pipeline.components import Images
from butterflyer.pipeline.dag import DEFAULT_ACCELERATOR, build_pipeline

REPO_PIPELINE = Path(__file__).resolve().parents[2] / "pipeline.yaml"


def compile_pipeline(output: str | Path = REPO_PIPELINE, images: Images | None = None,
                     accelerator: str = DEFAULT_ACCELERATOR, gpus: int = 1) -> Path:
    """Write the compiled pipeline spec to ``output`` atomically and return its path."""
    from kfp import compiler

    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        compiler.Compiler().compile(build_pipeline(images, accelerator=accelerator, gpus=gpus), str(staged))
        staged.replace(out)
    return out


def compiled_text(images: Images | None = None, accelerator: str = DEFAULT_ACCELERATOR, gpus: int = 1) -> str:
    """The compiled YAML as text (for the up-to-date check)."""
    with tempfile.TemporaryDirectory() as tmp:
        return compile_pipeline(Path(tmp) / "pipeline.yaml", images, accelerator, gpus).read_text()
