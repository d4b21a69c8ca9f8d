"""HTML and Markdown reports of a session: content, escaping, self-containment, edge cases."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.report import (
    MAX_TICKS,
    STRIP_MARGIN_PCT,
    VERDICT_COLOURS,
    _clock,
    _ticks,
    norm_strip,
    render_html,
    render_markdown,
    report_view,
)
from tests.report_example import (
    SCORE_MEANING,
    example_document,
    example_document_v2,
    inconclusive_document_v2,
)

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def document() -> dict[str, Any]:
    return example_document()


@pytest.fixture
def html(document: dict[str, Any]) -> str:
    return render_html(document)


def test_verdict_is_shown_in_plain_words(html: str) -> None:
    assert "Client-led: no" in html
    assert 'data-verdict="no"' in html
    assert VERDICT_COLOURS["no"] in html


@pytest.mark.parametrize("verdict", ["yes", "no", "inconclusive"])
def test_each_verdict_has_its_colour(document: dict[str, Any], verdict: str) -> None:
    document["evidence"]["client_led"] = verdict
    html = render_html(document)
    assert f"Client-led: {verdict}" in html
    assert f"--verdict:{VERDICT_COLOURS[verdict]}" in html


def test_reasons_and_every_criterion_are_listed(document: dict[str, Any], html: str) -> None:
    for reason in document["evidence"]["reasons"]:
        assert reason in html
    for criterion in document["evidence"]["criteria"]:
        assert f"<code>{criterion['name']}</code>" in html
    assert html.count('class="num pass"') == 4
    assert html.count('class="num fail"') == 1
    assert "≤ 1.00" in html  # interruption threshold with its comparison
    assert "≥ 50.0%" in html  # client share threshold, shown as a share


def test_roles_are_shown(html: str) -> None:
    assert "<dt>Counselor</dt><dd>SPEAKER_00</dd>" in html
    assert "<dt>Client</dt><dd>SPEAKER_01</dd>" in html
    assert "<dd>auto</dd>" in html
    assert "<dd>87%</dd>" in html
    assert 'class="warnings"' not in html


def test_talk_time_shows_seconds_and_shares(html: str) -> None:
    assert "Counselor 35.7%" in html
    assert "Client 64.3%" in html
    assert "59.7 s · 35.7%" in html
    assert "107.4 s · 64.3%" in html
    assert "Silence 16.1 s" in html
    assert "Overlapping speech 3.2 s" in html
    assert "talk ratio 1.80" in html


def test_key_numbers_label_lexical_counts_as_estimates(html: str) -> None:
    assert "1 (3.3 per 10 min)" in html
    assert "0 (0.0 per 10 min)" in html
    assert '<td>Counselor questions, open / closed (estimate)</td><td class="num">2 / 2' in html
    assert '<td>Counselor reflections (estimate)</td><td class="num">4</td>' in html
    assert '<td>Reflection-to-question ratio (estimate)</td><td class="num">1.00</td>' in html
    assert '<td>Longest counselor monologue</td><td class="num">14.2 s</td>' in html


def test_timeline_has_one_rect_per_segment(document: dict[str, Any], html: str) -> None:
    starts = re.findall(
        r'<rect class="seg (?:counselor|client|other)"[^>]*data-start="([\d.]+)"', html
    )
    assert starts == [f"{s['start']:.3f}" for s in document["segments"]]


def test_one_marker_per_interruption_event(document: dict[str, Any], html: str) -> None:
    markers = re.findall(r'<g class="intr (\w+)" id="intr-(\d+)" data-start="([\d.]+)">', html)
    assert markers == [("interruption", "0", "48.900"), ("attempt", "1", "105.200")]
    assert "<title>00:48 counselor interrupts client</title>" in html
    # The marker links to the counselor's line that starts the interruption.
    assert '<a href="#t-6">' in html
    assert document["utterances"][6]["start"] == 48.9


def test_time_axis_has_mm_ss_ticks(html: str) -> None:
    ticks = re.findall(r'class="tick">([^<]+)</text>', html)
    # Two charts, each 00:00 to 03:00 every 30 seconds.
    expected = ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00"]
    assert ticks == expected * 2


def test_time_course_has_a_line_and_a_dashed_50_percent_line(html: str) -> None:
    assert html.count('class="course"') == 1
    assert html.count("<circle") == 5
    assert 'stroke-dasharray="6 4" class="ref50"' in html


def test_a_window_without_speech_breaks_the_line(document: dict[str, Any]) -> None:
    document["metrics"]["time_course"]["windows"][2]["client_share"] = None
    html = render_html(document)
    assert html.count('class="course"') == 2
    assert html.count("<circle") == 4


def test_transcript_lines_carry_their_start_and_an_id(document: dict[str, Any], html: str) -> None:
    for i, utterance in enumerate(document["utterances"]):
        assert f'id="t-{i}" data-start="{utterance["start"]:.3f}"' in html
    assert (
        '<p class="counselor" id="t-0" data-start="0.800" title="SPEAKER_00">'
        '<span class="ts">[00:00]</span><span class="who">Counselor</span> '
        "Thanks for coming in today. What would you like to talk about?</p>"
    ) in html
    assert '<span class="ts">[00:07]</span><span class="who">Client</span>' in html


def test_footer_has_provenance_and_a_privacy_notice(html: str) -> None:
    footer = html[html.index("<footer>") :]
    assert "session_2024-05-14_client-17.wav" in footer
    assert "03:00 (180.0 s)" in footer
    assert "3f5a9c0e7b21…" in footer
    assert "3f5a9c0e7b21d" not in footer
    assert "faster-whisper-base@d01c3014881c" in footer
    assert "campplus-sv-zh-en-common@92f29b94e694" in footer
    assert "<dt>Schema version</dt><dd>1.0</dd>" in footer
    assert "Generated by session-analyzer" in footer
    assert "authorised" in footer


def test_html_is_self_contained(html: str) -> None:
    assert "http://" not in html
    assert "https://" not in html
    assert "<link" not in html
    assert "src=" not in html
    assert "<script" not in html
    assert "@import" not in html
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", html))
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', html))
    assert "default-src 'none'" in html


INJECTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "utterance text": lambda d: d["utterances"][0].update(text=SCRIPT),
    "speaker label": lambda d: d["utterances"][1].update(speaker=SCRIPT),
    "file name": lambda d: d["audio"].update(file_name=SCRIPT),
    "reason": lambda d: d["evidence"]["reasons"].append(SCRIPT),
    "criterion": lambda d: d["evidence"]["criteria"][0].update(name=SCRIPT, description=SCRIPT),
    "verdict": lambda d: d["evidence"].update(client_led=SCRIPT),
    "warning": lambda d: d["warnings"].append(SCRIPT),
    "role": lambda d: d["roles"].update(counselor=SCRIPT, method=SCRIPT),
    "model": lambda d: d["models"].update(transcription=SCRIPT),
    "event": lambda d: d["metrics"]["interruptions"]["events"][0].update(interrupter=SCRIPT),
    "segment": lambda d: d["segments"][0].update(speaker=SCRIPT, role=SCRIPT),
}


@pytest.mark.parametrize("inject", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_document_text_is_escaped(
    document: dict[str, Any], inject: Callable[[dict[str, Any]], None]
) -> None:
    inject(document)
    html = render_html(document)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render_markdown(document)
    assert "<script" not in markdown


def test_transcript_text_is_escaped_exactly(document: dict[str, Any]) -> None:
    document["utterances"][0]["text"] = f'{SCRIPT} & "quotes"'
    html = render_html(document)
    assert (
        '<span class="who">Counselor</span> '
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;</p>"
    ) in html


def test_warnings_are_prominent(document: dict[str, Any]) -> None:
    document["roles"]["confidence"] = 0.42
    document["roles"]["warnings"] = ["Both speakers asked many questions."]
    document["warnings"] = ["Audio is clipped in places."]
    html = render_html(document)
    box = html[html.index('class="warnings"') : html.index("</ul></div>")]
    assert "Both speakers asked many questions." in box
    assert "Audio is clipped in places." in box
    assert "Low confidence (42%)" in box
    assert "<dd>42%</dd>" in html
    markdown = render_markdown(document)
    assert "- **Low confidence (42%)" in markdown
    assert "- **Audio is clipped in places.**" in markdown


def test_other_speakers_get_their_own_lane(document: dict[str, Any]) -> None:
    document["segments"].append(
        {"start": 170.0, "end": 172.0, "speaker": "SPEAKER_02", "role": "other"}
    )
    document["utterances"].append(
        {
            "start": 170.0,
            "end": 172.0,
            "speaker": "SPEAKER_02",
            "role": None,
            "text": "Sorry, wrong room.",
        }
    )
    document["roles"]["others"] = ["SPEAKER_02"]
    html = render_html(document)
    assert html.count('<rect class="seg other"') == 1
    assert html.count('<rect class="lane"') == 3
    assert '<p class="other" id="t-21" data-start="170.000" title="SPEAKER_02">' in html
    assert '<span class="who">Other (SPEAKER_02)</span>' in html
    assert "<dt>Other speakers</dt><dd>SPEAKER_02</dd>" in html


def test_rendering_does_not_change_the_document(document: dict[str, Any]) -> None:
    before = copy.deepcopy(document)
    render_html(document)
    render_markdown(document)
    assert document == before


def _no_utterances(d: dict[str, Any]) -> None:
    d["utterances"] = []
    d["words"] = []


def _no_interruptions(d: dict[str, Any]) -> None:
    d["metrics"]["interruptions"] = {"events": []}


def _null_ratios(d: dict[str, Any]) -> None:
    d["metrics"]["talk_ratio_client_to_counselor"] = None
    d["metrics"]["reflection_to_question_ratio"] = None
    for criterion in d["evidence"]["criteria"]:
        criterion.update(value=None, passed=None)


def _zero_duration(d: dict[str, Any]) -> None:
    d["audio"]["duration_s"] = 0.0
    d["segments"] = []
    d["utterances"] = []
    for role in ("counselor", "client"):
        d["metrics"][role] = {"speech_s": 0.0, "share": None, "turns": 0, "words": 0}
    d["metrics"]["time_course"] = {"windows": []}


def _bare_metrics(d: dict[str, Any]) -> None:
    d["metrics"] = {"counselor": {}, "client": {}}
    d["evidence"] = {"client_led": "inconclusive"}
    for key in ("models", "language", "speakers", "words", "warnings"):
        del d[key]
    d["roles"] = {}


def _odd_values(d: dict[str, Any]) -> None:
    d["audio"]["duration_s"] = None
    d["metrics"]["counselor"]["share"] = float("nan")
    d["metrics"]["interruptions"]["events"][0]["start"] = None
    d["metrics"]["time_course"]["windows"] = [{"start": 0.0, "end": 60.0, "client_share": None}]
    d["evidence"]["criteria"][0]["threshold"] = None
    d["evidence"]["criteria"][1]["comparison"] = None
    d["utterances"][0]["text"] = None


EDGE_CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "no utterances": _no_utterances,
    "no interruptions": _no_interruptions,
    "null ratios": _null_ratios,
    "zero duration": _zero_duration,
    "bare metrics": _bare_metrics,
    "odd values": _odd_values,
}


@pytest.mark.parametrize("mutate", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_incomplete_documents_render(
    document: dict[str, Any], mutate: Callable[[dict[str, Any]], None]
) -> None:
    mutate(document)
    html = render_html(document)
    markdown = render_markdown(document)
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert "## Criteria" in markdown
    assert "nan" not in html.lower().replace("nance", "")  # no "nan%" from a NaN share


def test_missing_values_show_a_dash(document: dict[str, Any]) -> None:
    _null_ratios(document)
    html = render_html(document)
    assert '<td class="num">—</td><td class="num">≤ 1.00</td><td class="num na"' in html
    assert "talk ratio —" in html
    assert "| counselor\\_interruptions\\_per\\_10min | — | ≤ 1.00 | — |" in (
        render_markdown(document)
    )


def test_empty_parts_say_so(document: dict[str, Any]) -> None:
    _no_utterances(document)
    _no_interruptions(document)
    _zero_duration(document)
    html = render_html(document)
    assert "No speech was transcribed." in html
    assert "No interruptions or overlap attempts were detected." in html
    assert "No speech detected" in html
    assert "Not enough speech for a time course" in html
    assert 'class="intr' not in html
    assert 'class="seg' not in html


def test_a_long_transcript_renders(document: dict[str, Any]) -> None:
    document["utterances"] = [
        {
            "start": i * 1.5,
            "end": i * 1.5 + 1.2,
            "speaker": "SPEAKER_01",
            "role": "client",
            "text": f"Sentence number {i}.",
        }
        for i in range(5000)
    ]
    document["audio"]["duration_s"] = 7500.0
    html = render_html(document)
    assert html.count('<p class="client" id="t-') == 5000
    assert 'id="t-4999" data-start="7498.500"' in html
    assert '<span class="ts">[2:04:58]</span>' in html


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "00:00"),
        (59.99, "00:59"),
        (61.0, "01:01"),
        (3599.0, "59:59"),
        (3661.0, "1:01:01"),
        (-3.0, "00:00"),
        (None, "—"),
    ],
)
def test_clock(seconds: float | None, text: str) -> None:
    assert _clock(seconds) == text


@pytest.mark.parametrize(
    ("duration_s", "step_s"),
    [(60.0, 10), (180.0, 30), (600.0, 60), (1800.0, 300), (3600.0, 600), (7200.0, 900)],
)
def test_time_ticks_are_few_and_round(duration_s: float, step_s: int) -> None:
    ticks = _ticks(duration_s)
    assert ticks[0] == 0.0
    assert len(ticks) <= MAX_TICKS + 1
    assert ticks[1] - ticks[0] == step_s


def test_markdown_has_the_same_content(document: dict[str, Any]) -> None:
    markdown = render_markdown(document)
    assert markdown.startswith("# Session report: session\\_2024-05-14\\_client-17.wav\n")
    assert "## Client-led: no" in markdown
    assert "- The counselor interrupted the client 3.3 times per 10 minutes (limit 1.0)." in (
        markdown
    )
    assert "| Criterion | Value | Threshold | Passed |\n| --- | ---: | ---: | ---: |" in markdown
    assert "| client\\_share | 64.3% | ≥ 50.0% | ✓ |" in markdown
    assert "| counselor\\_interruptions\\_per\\_10min | 3.33 | ≤ 1.00 | ✗ |" in markdown
    assert "| Speech time | 59.7 s | 107.4 s |" in markdown
    assert "| Counselor reflections (estimate) | 4 |" in markdown
    assert "- 00:48 counselor interrupts client\n" in markdown
    assert "- 01:45 counselor talks over client (overlap attempt, no floor taken)" in markdown
    assert (
        "**[00:00] Counselor:** Thanks for coming in today. What would you like to talk about?"
        in markdown
    )
    assert "**[00:07] Client:** Well, my doctor says" in markdown
    assert markdown.count("**[") == len(document["utterances"])
    assert "- SHA-256: 3f5a9c0e7b21…" in markdown
    assert "authorised" in markdown


def test_markdown_escapes_document_text(document: dict[str, Any]) -> None:
    document["utterances"][0]["text"] = f"{SCRIPT} *bold* | pipe"
    markdown = render_markdown(document)
    assert (
        "**[00:00] Counselor:** &lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\| pipe"
        in markdown
    )


def test_lexical_counts_are_read_as_total_or_count(document: dict[str, Any]) -> None:
    document["metrics"]["reflections"] = {"count": 7, "estimate": True}
    document["metrics"]["advice_cues"] = {"total": 2, "estimate": True}
    html = render_html(document)
    assert '<td>Counselor reflections (estimate)</td><td class="num">7</td>' in html
    assert '<td>Advice or persuasion cues (estimate)</td><td class="num">2</td>' in html


def test_overlap_attempts_and_other_speech_are_shown(document: dict[str, Any]) -> None:
    document["metrics"]["other_speech_s"] = 4.5
    html = render_html(document)
    assert '<td>Overlap attempts (no floor taken)</td><td class="num">1</td>' in html
    assert "Other speakers 4.5 s" in html
    assert "Other speakers" not in render_html(example_document())


@pytest.mark.parametrize("make", [example_document, example_document_v2, inconclusive_document_v2])
def test_the_examples_are_valid_session_documents(make: Callable[[], dict[str, Any]]) -> None:
    from pipeline.schema import validate_document

    validate_document(make())  # 1.x examples against the 1.x schema, 2.x against the current one


# --------------------------------------------------------------- schema 2.0: norms, score


@pytest.fixture
def v2() -> dict[str, Any]:
    return example_document_v2()


def _row(html: str, name: str) -> str:
    start = html.index(f'<tr data-criterion="{name}">')
    return html[start : html.index("</tr>", start)]


def test_every_criterion_with_norms_has_a_strip(v2: dict[str, Any]) -> None:
    html = render_html(v2)
    names = [c["name"] for c in v2["evidence"]["criteria"]]
    assert re.findall(r'<tr data-criterion="(\w+)">', html) == names
    assert names[:2] == ["client_share", "counselor_interruptions_per_10min"]  # talk time first
    for name in names:
        row = _row(html, name)
        assert row.count('<svg class="strip"') == 1
        assert row.count('<g class="band high">') == 1 and row.count('<g class="band low">') == 1
        assert row.count('<g class="mark">') == 1 and row.count('class="threshold"') == 1
    assert html.count('<svg class="strip"') == 7
    assert '<th class="ref">Against expert-rated sessions</th>' in html


def test_the_strip_places_bands_mark_and_threshold_on_one_axis(v2: dict[str, Any]) -> None:
    row = _row(render_html(v2), "client_share")
    # Axis 0.10 (poor p5) .. 0.70 (good p95) over 3%..97% of the width: x = 3 + (v - .1) / .6 * 94.
    assert (
        '<rect x="42.17%" y="5" width="31.33%" height="12" rx="2" class="box"/>' in row
    )  # .35-.55
    assert '<line x1="18.67%" y1="11" x2="97.0%" y2="11" class="whisker"/>' in row  # .20-.70
    assert '<line x1="57.83%" y1="5" x2="57.83%" y2="17" class="median"/>' in row  # .45
    assert '<rect x="18.67%" y="23" width="31.33%" height="12" rx="2" class="box"/>' in row
    assert '<line x1="46.87%" y1="1" x2="46.87%" y2="39" class="threshold">' in row  # .38
    assert "<title>This session: 64.3%</title>" in row
    assert '<circle cx="88.02%" cy="20" r="4.5"/>' in row  # .643
    assert "middle half 35.0%–55.0%, median 45.0%, 5th–95th percentile 20.0%–70.0%" in row
    assert "Expert-rated good MI (n=102)" in row and "Expert-rated poor MI (n=21)" in row


def test_threshold_direction_percentile_and_auc_are_written_out(v2: dict[str, Any]) -> None:
    html = render_html(v2)
    row = _row(html, "client_share")
    assert (
        '<div class="percentile">Above 88% of expert-rated good sessions and 98% of poor ones.</div>'
    ) in row
    assert '<td class="num">≥ 38.0%<br><span class="better">better: higher</span></td>' in row
    assert (
        '<span class="high">good 35.0%–55.0%</span><span class="low">poor 20.0%–40.0%</span>' in row
    )
    assert "Separates good from poor MI: AUC 0.65" in row
    row = _row(html, "counselor_interruptions_per_10min")
    assert '<td class="num">3.33</td>' in row
    assert '≤ 4.00<br><span class="better">better: lower</span>' in row
    assert "Above 72% of expert-rated good sessions and 55% of poor ones." in row
    assert '<td class="num">14.2 s</td>' in _row(html, "longest_counselor_monologue_s")
    assert '<td class="num">11.6 words</td>' in _row(html, "mean_counselor_turn_words")
    assert "Client share of talk time<br>" in html
    assert "Reference: AnnoMI (Wu et al. 2022), 125 expert-rated transcripts" in html
    assert html.count('class="num pass"') == 7


def test_the_score_is_shown_with_its_band_and_meaning(v2: dict[str, Any]) -> None:
    html = render_html(v2)
    assert (
        '<div class="score band-high" id="score"><p class="score-line">'
        '<span class="score-value">Score 0.81</span> <span class="band-chip high">high band</span>'
    ) in html
    assert '<rect x="0" y="3" width="81.0%" height="6" rx="3" class="fill"/>' in html
    assert f'<p class="meaning">{SCORE_MEANING}</p>' in html
    assert "Client-led: yes" in html
    assert 'class="blockers"' not in html
    assert "<dt>Speaker separation</dt><dd>good</dd>" in html


def test_an_inconclusive_verdict_puts_its_blockers_first() -> None:
    document = inconclusive_document_v2()
    html = render_html(document)
    summary = html[html.index('id="summary"') : html.index('id="talk-time"')]
    box = summary[summary.index('<div class="blockers" role="alert">') :]
    assert summary.index('class="blockers"') < summary.index('class="verdict"')
    assert box.startswith(
        '<div class="blockers" role="alert"><strong>Why there is no verdict, and what to do'
    )
    for blocker in document["evidence"]["reliability"]["blockers"]:
        assert f"<li>{blocker}</li>" in box
    assert "analyze again" in box
    assert '<span class="score-value">Score —</span></p><p class="meaning">' in html
    body = html.split("</style>")[1]
    assert '<svg class="gauge"' not in body and "band-chip" not in body
    assert "<dt>Speaker separation</dt><dd>poor</dd>" in html
    markdown = render_markdown(document)
    assert "### Why there is no verdict\n\n- **Counselor and client could not be told apart" in (
        markdown
    )


def test_what_a_blocker_says_is_not_repeated_as_a_reason_or_warning() -> None:
    document = inconclusive_document_v2()
    cue = "one speaker has 83% of the talk time: give a voice sample with --enroll"
    blocker = (
        "Telling the speakers apart was doubtful: the talk-time figures may be wrong. "
        "One speaker has 83% of the talk time: give a voice sample with --enroll."
    )
    document["evidence"]["reliability"]["blockers"] = [blocker]
    document["evidence"]["reasons"] = [blocker, "Client share of talk time: 23%."]
    # a cue in the warnings, as documents before cues were sentences stored it
    document["warnings"] = [cue, "Much of the speech has no words."]
    html = render_html(document)
    assert html.count("One speaker has 83%") == 1
    assert '<ul class="reasons"><li>Client share of talk time: 23%.</li></ul>' in html
    assert "<ul><li>Much of the speech has no words.</li><li>Low confidence" in html
    markdown = render_markdown(document)
    assert markdown.count("One speaker has 83%") == 1
    # the reasons come with the score, before what blocks the verdict
    assert markdown.index("- Client share of talk time: 23%.") < markdown.index(
        "### Why there is no verdict"
    )


def test_blockers_of_a_reliable_verdict_are_shown_as_limits(v2: dict[str, Any]) -> None:
    v2["evidence"]["reliability"]["blockers"] = ["Only 40 s of speech."]
    html = render_html(v2)
    assert "<strong>Limits of this measurement</strong><ul><li>Only 40 s of speech.</li>" in html


def test_a_criterion_without_norms_or_value_shows_dashes(v2: dict[str, Any]) -> None:
    criteria = v2["evidence"]["criteria"]
    criteria[6]["norms"] = None
    criteria[5].update(value=None, passed=None)
    criteria[5]["norms"].update(percentile_high=None, percentile_low=None)
    html = render_html(v2)
    assert '<td class="ref"><span class="na">no reference</span></td>' in _row(
        html, "change_talk_share"
    )
    row = _row(html, "therapist_input_per_utterance")
    assert '<td class="num">—</td>' in row and 'class="mark"' not in row
    assert 'class="percentile"' not in row
    assert '<td class="num na" title="not assessed">—</td>' in row
    assert html.count('<svg class="strip"') == 6


def test_a_1_0_document_has_no_reference_column_or_score(document: dict[str, Any]) -> None:
    html = render_html(document)
    assert "Against expert-rated sessions" not in html
    assert 'id="score"' not in html and '<svg class="strip"' not in html
    assert "strip-legend" not in html.split("</style>")[1]
    assert "better:" not in html
    markdown = render_markdown(document)
    assert "Score" not in markdown
    assert "| Criterion | Value | Threshold | Passed |" in markdown


def test_partial_2_0_evidence_renders(v2: dict[str, Any]) -> None:
    del v2["evidence"]["score_meaning"]
    v2["evidence"]["score_band"] = "unheard-of"
    del v2["evidence"]["reliability"]
    v2["evidence"]["criteria"][0]["norms"]["low"] = {"n": 0}
    v2["evidence"]["criteria"][1]["unit"] = "furlongs"
    html = render_html(v2)
    assert '<p class="meaning">—</p>' in html
    assert '<div class="score" id="score">' in html
    row = _row(html, "client_share")
    assert '<g class="band high">' in row and '<g class="band low">' not in row
    assert '<td class="num">3.33</td>' in _row(html, "counselor_interruptions_per_10min")


V2_INJECTIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "label": lambda d: d["evidence"]["criteria"][0].update(label=SCRIPT),
    "score meaning": lambda d: d["evidence"].update(score_meaning=SCRIPT),
    "score band": lambda d: d["evidence"].update(score_band=SCRIPT),
    "norms source": lambda d: d["evidence"]["criteria"][0]["norms"].update(source=SCRIPT),
    "blocker": lambda d: d["evidence"]["reliability"].update(blockers=[SCRIPT]),
    "better": lambda d: d["evidence"]["criteria"][0].update(better=SCRIPT, unit=SCRIPT),
    "diarization": lambda d: d.update(diarization={"method": SCRIPT, "quality": SCRIPT}),
    "file name": lambda d: d["audio"].update(file_name=f'{SCRIPT}".wav'),
    "utterance text": lambda d: d["utterances"][3].update(text=SCRIPT),
}


@pytest.mark.parametrize("inject", V2_INJECTIONS.values(), ids=V2_INJECTIONS.keys())
def test_2_0_text_is_escaped(v2: dict[str, Any], inject: Callable[[dict[str, Any]], None]) -> None:
    inject(v2)
    html = render_html(v2)
    assert "<script" not in html
    assert "<script" not in render_markdown(v2)


def test_hostile_file_name_is_escaped_in_title_and_footer(v2: dict[str, Any]) -> None:
    v2["audio"]["file_name"] = f'{SCRIPT}".wav'
    html = render_html(v2)
    name = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;.wav"
    assert f"<title>Session report · {name}</title>" in html
    assert f"<dt>File</dt><dd>{name}</dd>" in html
    assert f'<span class="sub">{name} · 03:00</span>' in html


def test_markdown_shows_score_and_references(v2: dict[str, Any]) -> None:
    markdown = render_markdown(v2)
    assert "**Score: 0.81** (high band)\n\n" + SCORE_MEANING.replace("(", "(") in markdown
    assert (
        "| Client share of talk time (client\\_share) | 64.3% | ≥ 38.0% | higher | "
        "good 35.0%–55.0%; poor 20.0%–40.0% | "
        "Above 88% of expert-rated good sessions and 98% of poor ones. | ✓ |"
    ) in markdown
    assert (
        "| Mean counselor turn (mean\\_counselor\\_turn\\_words) | 11.6 words | ≤ 18.0 words |"
        in (markdown)
    )
    assert "Reference sessions: AnnoMI (Wu et al. 2022)" in markdown
    assert "- Speaker separation: good" in markdown


@pytest.mark.parametrize(
    ("value", "threshold", "mark", "limit"),
    [
        (0.5, 0.5, 50.0, 50.0),
        (None, None, None, None),
        (2.0, None, 97.0, None),  # the value widens the axis
        (-1.0, 0.0, 3.0, 50.0),
    ],
)
def test_norm_strip_geometry(
    value: float | None, threshold: float | None, mark: float | None, limit: float | None
) -> None:
    norms = {
        "high": {"n": 4, "p5": 0.0, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 1.0},
        "low": {"n": 4, "p5": 0.0, "p25": 0.1, "p50": 0.2, "p75": 0.3, "p95": 0.4},
    }
    strip = norm_strip(norms, value, threshold=threshold)
    assert strip is not None
    assert strip.mark == mark and strip.threshold == limit
    xs = [x for band in strip.bands for x in (band.p5, band.p25, band.p50, band.p75, band.p95)]
    assert min([*xs, strip.mark or 50.0]) >= STRIP_MARGIN_PCT
    assert max([*xs, strip.mark or 50.0]) <= 100 - STRIP_MARGIN_PCT
    assert [b.group for b in strip.bands] == ["high", "low"]


def test_norm_strip_needs_a_complete_group() -> None:
    assert norm_strip(None, 0.5) is None
    assert norm_strip({"high": {"p5": 0.1}}, 0.5) is None
    degenerate = norm_strip({"high": dict.fromkeys(("p5", "p25", "p50", "p75", "p95"), 2.0)}, 2.0)
    assert degenerate is not None and degenerate.mark == STRIP_MARGIN_PCT


def test_the_view_is_shared_with_the_web_templates(v2: dict[str, Any]) -> None:
    """The web app renders report/_sections.html in its own (non-strict) environment."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

    from pipeline.report import template_loader
    from web.pages import HERE

    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), template_loader()]),
        autoescape=select_autoescape(),
    )
    v2["utterances"][0]["text"] = SCRIPT
    body = env.get_template("report/_sections.html").render(report=report_view(v2))
    assert body.count('<svg class="strip"') == 7
    assert 'id="talk-time"' in body and 'id="timeline"' in body and 'id="transcript"' in body
    assert "<script" not in body and "&lt;script&gt;" in body
    pill = env.from_string(
        '{% import "report/_macros.html" as m %}{{ m.verdict_pill(report) }}'
    ).render(report=report_view(v2))
    assert pill.endswith(">Client-led: yes · score 0.81</span>")


def test_a_removed_transcript_says_so(v2: dict[str, Any]) -> None:
    v2["transcript_removed"] = True
    html = render_html(v2)
    section = html[
        html.index('id="transcript"') : html.index("</section>", html.index('id="transcript"'))
    ]
    assert "were deleted after the analysis" in section and "data-start" not in section


def test_2_0_behaviour_counts_are_key_numbers(v2: dict[str, Any]) -> None:
    html = render_html(v2)

    def cell(label: str) -> str:
        match = re.search(f'<td>{re.escape(label)}</td><td class="num">([^<]*)</td>', html)
        assert match is not None, label
        return match.group(1)

    assert cell("Counselor questions, open / closed (estimate)") == "2 / 2 (total 4)"
    assert cell("Counselor reflections (estimate)") == "4 (simple 2, complex 2)"
    assert cell("Reflection-to-question ratio (estimate)") == "1.00"
    assert cell("Mean counselor turn (estimate)") == "11.6 words"
    assert cell("Counselor information, advice, options (estimate)") == (
        "1 (information 1, advice 0, options 0, negotiation 0)"
    )
    assert cell("Client change / neutral / sustain talk (estimate)") == "3 / 6 / 1"
    assert cell("Change talk share (estimate)") == "75%"
    assert "Advice or persuasion cues" not in html
    # Interruption counts lead the by-role table.
    assert html.index("<td>Interruptions made</td>") < html.index("<td>Speech time</td>")


def test_the_web_report_page_renders_the_shared_sections(v2: dict[str, Any]) -> None:
    """web/templates/report.html with the app's own environment (no server needed)."""
    import datetime as dt
    from types import SimpleNamespace

    from web.pages import make_templates

    v2["evidence"]["reasons"].append(SCRIPT)
    recording = SimpleNamespace(
        trainee="Alex",
        session_date="2025-03-14",
        original_name="s.wav",
        created_at=dt.datetime(2025, 3, 14, tzinfo=dt.UTC),
        owner=SimpleNamespace(username="alice"),
        public_id="abc",
        verdict="yes",
    )
    page = (
        make_templates()
        .env.get_template("report.html")
        .render(
            request=SimpleNamespace(url=SimpleNamespace(path="/sessions/abc")),
            recording=recording,
            report=report_view(v2),
            speakers=v2["speakers"],
            roles=v2["roles"],
            can_correct=True,
            has_audio=True,
            downloads=["session.json"],
            notice=None,
            error=None,
            user=SimpleNamespace(is_admin=False, username="alice"),
            csrf="token",
            nonce="nonce",
            settings=SimpleNamespace(),
        )
    )
    head = page[page.index('class="page-head"') : page.index("</div>", page.index("<h1>"))]
    assert (
        '<span class="verdict-pill" style="--verdict:#1f7a44" data-verdict="yes">'
        "Client-led: yes · score 0.81</span>"
    ) in page
    assert "Alex · 2025-03-14" in head
    report = page[page.index('<div class="report" id="report">') :]
    assert report.count('<svg class="strip"') == 7
    assert 'id="score"' in report and 'id="talk-time"' in report and 'id="transcript"' in report
    assert "svg.strip .band.high .box" in page  # the report's CSS in the page's <style>
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all('nonce="nonce"' in s for s in scripts)


@pytest.mark.parametrize(
    ("high", "low", "text"),
    [
        (62.0, 88.0, "Above 62% of expert-rated good sessions and 88% of poor ones."),
        (
            92.4,
            100.0,
            "Above 92% of expert-rated good sessions; above nearly all expert-rated poor sessions.",
        ),
        (
            0.0,
            15.0,
            "Below nearly all expert-rated good sessions; above 15% of expert-rated poor sessions.",
        ),
        (None, 40.0, "Above 40% of expert-rated poor sessions."),
        (None, None, ""),
    ],
)
def test_percentile_sentences(high: float | None, low: float | None, text: str) -> None:
    from pipeline.report import _percentile_text

    assert _percentile_text({"percentile_high": high, "percentile_low": low}) == text


def test_the_diarization_block_is_named_with_the_speakers(v2: dict[str, Any]) -> None:
    v2["diarization"] = {"method": "channel", "quality": None, "cues": [], "tried": []}
    v2["evidence"]["reliability"]["diarization_quality"] = None
    assert "<dt>Speaker separation</dt><dd>— (channel)</dd>" in render_html(v2)
    v2["diarization"]["quality"] = "doubtful"
    assert "<dt>Speaker separation</dt><dd>doubtful (channel)</dd>" in render_html(v2)


def test_the_stereo_decision_is_shown_for_stereo_recordings_only(v2: dict[str, Any]) -> None:
    reason = "each channel carries its own voice: diarized by channel"
    v2["diarization"] = {
        "method": "channel",
        "quality": "good",
        "channels": {"mode": "split", "reason": reason, "evidence": {"channels": 2.0}},
    }
    assert f"<dt>Stereo channels</dt><dd>{reason}</dd>" in render_html(v2)
    v2["diarization"]["channels"] = {"mode": "mix", "reason": "mono recording", "evidence": {}}
    assert "Stereo channels" not in render_html(v2)


def test_the_share_of_speech_without_words_is_shown_when_measured(v2: dict[str, Any]) -> None:
    v2["diarization"] = {"method": "pyannote", "quality": "good", "measures": {}}
    assert "Speech without words" not in render_html(v2)
    v2["diarization"]["measures"] = {"top_share": 0.6, "speech_without_words": 0.1749}
    html = render_html(v2)
    assert "<dt>Speech without words</dt><dd>17% of the detected speech</dd>" in html


def test_voice_levels_are_shown_by_role_when_measured(v2: dict[str, Any]) -> None:
    counselor, client = v2["roles"]["counselor"], v2["roles"]["client"]
    v2["diarization"] = {"method": "pyannote", "quality": "good", "measures": {}}
    assert "Voice levels" not in render_html(v2)
    v2["diarization"]["measures"] = {
        f"speech_level_db:{counselor}": -21.6,
        f"speech_level_db:{client}": -45.6,
    }
    html = render_html(v2)
    expected = "counselor -22 dBFS, client -46 dBFS (24 dB apart)"
    assert f"<dt>Voice levels</dt><dd>{expected}</dd>" in html
