"""Entry point of each process started by torchrun: ``python -m butterflyer.train.worker CONFIG.json``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from butterflyer.fileio import read_json
from butterflyer.train.config import TrainConfig
from butterflyer.train.trainer import run_here


def main(argv: list[str]) -> None:
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s rank {rank} %(levelname)s %(name)s: %(message)s"
    )
    path = Path(argv[0])
    cfg = TrainConfig.model_validate(read_json(path))
    run_here(cfg, path.parent)


if __name__ == "__main__":
    main(sys.argv[1:])
