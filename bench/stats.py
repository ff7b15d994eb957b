"""Small statistics and the result record shared by the benchmark scripts."""
from __future__ import annotations

import json
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (``q`` in [0, 1]); NaN for no values."""
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def append_result(result: dict, path: Path | None) -> None:
    """Append ``result`` to ``path`` as one JSON line (runs accumulate there), when a path is given."""
    if path:
        with path.open("a") as f:
            f.write(json.dumps(result) + "\n")
