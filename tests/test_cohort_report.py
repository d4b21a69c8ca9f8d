"""cohort.html: per trainee the score and key measures against the reference norms."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flows.cohort_report import (
    default_references,
    references_of,
    render_cohort_html,
    session_row,
    session_table,
    trainee_table,
)
from flows.manifest import SessionSpec
from tests.report_example import example_document, example_document_v2

SCRIPT = "<script>alert(1)</script>"


def _document(share: float, score: float | None, verdict: str) -> dict[str, Any]:
    document = example_document_v2()
    document["metrics"]["client"]["share"] = share
    document["evidence"].update(score=score, client_led=verdict)
    return document


@pytest.fixture
def cohort() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    sessions = [
        ("a1", "alex", _document(0.45, 0.8, "yes")),
        ("a2", "alex", _document(0.55, 0.6, "yes")),
        ("k1", "kim", _document(0.30, 0.2, "no")),
    ]
    rows = [
        session_row(SessionSpec(sid, trainee, Path(f"{sid}.wav")), {"status": "done"}, document)
        for sid, trainee, document in sessions
    ]
    rows.append(
        session_row(
            SessionSpec("a3", "alex", Path("a3.wav")), {"status": "failed", "error": "bad"}, None
        )
    )
    table = session_table(rows)
    return table, trainee_table(table), references_of(sessions[0][2])


def test_rows_carry_the_score(cohort: tuple[pd.DataFrame, pd.DataFrame, Any]) -> None:
    sessions, trainees, _ = cohort
    assert sessions.set_index("session_id")["score"].to_dict() == pytest.approx(
        {"a1": 0.8, "a2": 0.6, "k1": 0.2, "a3": float("nan")}, nan_ok=True
    )
    assert sessions["score_band"].tolist()[:3] == ["high", "high", "high"]
    by_trainee = trainees.set_index("trainee_id")
    assert by_trainee.loc["alex", "median_score"] == pytest.approx(0.7)
    assert by_trainee.loc["kim", "median_score"] == pytest.approx(0.2)


def test_references_of_a_session() -> None:
    references = references_of(example_document_v2())
    assert list(references)[:2] == ["client_share", "counselor_interruptions_per_10min"]
    share = references["client_share"]
    assert share["threshold"] == 0.38 and share["better"] == "higher" and share["unit"] == "share"
    assert share["norms"]["high"]["p25"] == 0.35
    old = references_of(example_document())
    assert old["client_share"]["norms"] is None and old["client_share"]["threshold"] == 0.5


def test_each_trainee_has_score_strips_and_session_rows(
    cohort: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]],
) -> None:
    sessions, trainees, references = cohort
    page = render_cohort_html(sessions, trainees, references=references, title="Spring")
    assert re.findall(r'<tr class="trainee" data-trainee="(\w+)">', page) == ["alex", "kim"]
    alex = page[page.index('data-trainee="alex"') : page.index('data-trainee="kim"')]
    assert '<td class="text">alex</td><td>3 (2, 1)</td><td>0.70</td>' in alex
    assert alex.count('class="nstrip"') == 3  # client share, interruptions, R:Q
    assert '<span class="cell">50%<span class="nstrip"' in alex  # median client share
    # The trainee's two sessions as dots, the median as the mark, the threshold dashed.
    share = alex[alex.index('<span class="cell">50%') : alex.index("</td>", alex.index("50%"))]
    assert share.count('<i class="d"') == 2 and share.count('<i class="v"') == 1
    assert share.count('<i class="t"') == 1
    assert 'title="Trainee: 50%"' in share
    assert "middle half 35%–55%" in share
    assert alex.count('<tr class="session">') == 3
    assert (
        '<tr class="session"><td class="text sid">a1</td><td class="text">done</td>'
        "<td>0.80</td><td>45%</td><td>3.3</td><td>1.00</td>"
    ) in alex
    assert '<td class="text failed">failed</td><td>—</td>' in alex
    assert "2 of 2" in alex
    assert page.count("<svg") == 4  # the dot plots only; strips are HTML
    assert page.count('class="good-band"') == 4
    assert "Reference: AnnoMI (Wu et al. 2022)" in page
    assert "src=" not in page and "href=" not in page and "<script" not in page


def test_cohort_text_is_escaped(cohort: tuple[pd.DataFrame, pd.DataFrame, Any]) -> None:
    sessions, _, references = cohort
    sessions = sessions.copy()
    sessions["trainee_id"] = sessions["trainee_id"].replace("kim", SCRIPT)
    sessions["session_id"] = sessions["session_id"].replace("k1", SCRIPT)
    sessions["error"] = SCRIPT
    page = render_cohort_html(
        sessions, trainee_table(sessions), references=references, title=SCRIPT
    )
    assert "<script" not in page
    assert f"<title>{'&lt;script&gt;alert(1)&lt;/script&gt;'}: client-led evidence</title>" in page


def test_sessions_without_norms_fall_back_to_the_packaged_norms(
    cohort: tuple[pd.DataFrame, pd.DataFrame, Any],
) -> None:
    sessions, trainees, _ = cohort
    page = render_cohort_html(sessions, trainees, references=references_of(example_document()))
    defaults = default_references()
    strips = page.count('class="nstrip"')
    if not defaults:
        assert strips == 0
        return
    assert strips == sum(
        2 * (name in defaults)
        for name in (
            "client_share",
            "counselor_interruptions_per_10min",
            "reflection_to_question_ratio",
        )
    )
    # A 1.0 session's own threshold (0.5) still wins over the packaged one.
    assert "threshold ≥ 0.5</text>" in page
