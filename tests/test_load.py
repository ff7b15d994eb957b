"""The load script (bench/load.py) in a short bounded run against the session UI: concurrent users
through the real ``/ask`` API, no errors."""
from __future__ import annotations

from bench.load import LoadResult, load_questions, main, percentile, run_load


def test_ten_users_for_ten_seconds_get_answers_and_no_errors(ui_url):
    result: LoadResult = run_load(ui_url, users=10, duration=10, seed=1)
    print("\n" + result.report())
    assert result.error_count == 0, result.errors
    assert result.answers > 0
    assert result.answered + result.abstained == result.answers
    assert result.asked_answerable + result.asked_unanswerable == result.answers
    assert result.elapsed >= 10
    assert 0 < percentile(result.latencies, 0.5) <= percentile(result.latencies, 0.95)


def test_the_question_mix_holds_answerable_and_unanswerable_questions():
    kinds = {answerable for _, answerable in load_questions()}
    assert kinds == {True, False}


def test_only_loopback_urls_are_accepted(capsys):
    assert main(["--url", "http://example.com:7860/", "--duration", "1"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
