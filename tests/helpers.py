"""Helpers for the tests that load no model. Light on purpose: a fresh process imports the test
modules that use them (``conftest.py`` imports the assistant, this module nothing heavy)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.squad import DISTRACTORS_FILE, SQUAD_FILE, shared_data_dir

ROOT = Path(__file__).resolve().parent.parent

# The SQuAD and BBC data are read from ../shared/data, beside the repository; elsewhere the tests
# that need them are skipped.
needs_shared_data = pytest.mark.skipif(
    not all((shared_data_dir() / name).exists() for name in (SQUAD_FILE, DISTRACTORS_FILE)),
    reason="needs ../shared/data (or QA_SHARED_DATA)")


def printed_json_per_hash_seed(module: str, function: str, seeds: tuple[str, ...] = ("1", "2")) -> list:
    """What ``module.function()`` returns (a JSON value), computed from the repository in a fresh
    process per ``PYTHONHASHSEED``: set and dict order must not decide it."""
    code = (f"import json, sys; sys.path.insert(0, '.'); from {module} import {function}; "
            f"print(json.dumps({function}()))")
    printed = []
    for hash_seed in seeds:
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed})
        printed.append(json.loads(out.stdout))
    return printed
