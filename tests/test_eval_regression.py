"""The evaluation set must not get worse than the committed baseline (eval/baseline.json)."""
import json

import pytest

from eval.runner import BASELINE, load_questions, run_eval


@pytest.fixture(scope="module")
def report(assistant):
    return run_eval(assistant, load_questions())


@pytest.mark.parametrize("metric", sorted(json.loads(BASELINE.read_text())))
def test_metric_is_not_below_baseline(report, metric):
    baseline = json.loads(BASELINE.read_text())[metric]
    assert getattr(report, metric) >= baseline - 1e-9, f"{metric} fell from {baseline:.3f} to {getattr(report, metric):.3f}"


def test_every_quote_is_verbatim(report):
    assert report.quotes > 0
    assert report.verbatim_share == 1.0
