import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .helpers import ROOT


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    from envscale.trainer.tiny import tiny_model_path

    return tiny_model_path()


@pytest.fixture(scope="session")
def tokenizer(tiny_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_path)


@pytest.fixture(scope="session")
def trajectories(tmp_path_factory) -> Path:
    """A few example trajectories per domain: general/*.jsonl and vertical/*.jsonl."""
    out = tmp_path_factory.mktemp("trajectories")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "make_example_trajectories.py"),
            "--out",
            str(out),
            "--n",
            "12",
        ],
        check=True,
        capture_output=True,
    )
    return out
