"""The voiced-AnnoMI check: the script's text handling and the bench's verdict bookkeeping.

The voicing itself needs the AnnoMI CSV and Kokoro voices, which are never
committed; what it measured is in docs/evidence.md ("From audio").
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
import soundfile as sf

from bench.annomi_audio import Outcome, summary, table
from bench.events import Case
from pipeline.norms import NORMS_PATH, load_norms
from tests.conftest import ANNOMI_SYNTHETIC, script_module, tone, write_wav


@pytest.fixture(scope="module")
def voice() -> ModuleType:
    return script_module("voice_annomi")


def test_sentences_drop_transcribers_notes_and_empty_pieces(voice: ModuleType) -> None:
    assert voice.sentences("[inaudible] Okay.  So how are you? (laughs) Good!") == (
        "Okay.",
        "So how are you?",
        "Good!",
    )
    assert voice.sentences("Well... I don't know.") == ("Well...", "I don't know.")
    assert voice.sentences(" - ") == ()
    assert voice.sentences("[crosstalk]") == ()


def test_a_transcript_becomes_one_turn_per_spoken_utterance(
    voice: ModuleType, annomi: ModuleType
) -> None:
    rows = annomi.by_transcript(annomi.load_annomi(ANNOMI_SYNTHETIC))[1]
    first = voice.dialogue(1, rows, 0)
    assert first.name == "annomi_1"
    assert (first.counselor_voice, first.client_voice) == voice.VOICE_PAIRS[0]
    assert (first.rt60_s, first.snr_db) == voice.ACOUSTICS[0]
    assert [s.role for s in first.steps] == [r.role for r in rows]
    assert first.steps[0].sentences == ("What brings you here today about smoking?",)
    assert all(s.start == "gap" for s in first.steps)
    # voices and acoustics rotate with the position in the run
    later = voice.dialogue(1, rows, len(voice.VOICE_PAIRS) + 1)
    assert (later.counselor_voice, later.client_voice) == voice.VOICE_PAIRS[1]
    assert (later.rt60_s, later.snr_db) == voice.ACOUSTICS[(len(voice.VOICE_PAIRS) + 1) % 4]


def test_every_voice_pair_is_two_different_voices(voice: ModuleType) -> None:
    assert all(counselor != client for counselor, client in voice.VOICE_PAIRS)


def test_the_text_score_is_the_one_the_reserved_check_reports(annomi: ModuleType) -> None:
    norms_script = script_module("build_norms")
    rows = annomi.load_annomi(ANNOMI_SYNTHETIC)
    reported = norms_script.evaluate_reserved(rows, NORMS_PATH)
    norms = load_norms()
    by_id = annomi.by_transcript(rows)
    assert [r["transcript_id"] for r in reported] == [4, 9]
    for r in reported:
        score, band = norms_script.transcript_score(by_id[r["transcript_id"]], norms)
        assert r["score"] == round(score, 3)
        assert r["band"] == band == norms.score.band(score)


OUTCOME = Outcome(
    name="annomi_9",
    transcript_id=9,
    reserved=True,
    mi_quality="low",
    text_score=0.54,
    text_band="middle",
    verdict="inconclusive",
    audio_score=0.50,
    audio_band="middle",
    blockers=(),
    diarization_quality="good",
    role_confidence=0.9,
    client_share=0.40,
    truth_client_share=0.45,
    der=0.05,
    wer=0.08,
    duration_s=200.0,
)


def test_confident_wrong_verdicts_are_those_against_the_experts() -> None:
    assert not OUTCOME.confidently_wrong
    assert replace(OUTCOME, verdict="yes").confidently_wrong
    assert not replace(OUTCOME, verdict="no").confidently_wrong
    assert replace(OUTCOME, mi_quality="high", verdict="no").confidently_wrong
    assert not replace(OUTCOME, mi_quality="high", verdict="yes").confidently_wrong


def test_summary_counts_with_exact_numbers() -> None:
    outcomes = [
        OUTCOME,
        replace(OUTCOME, verdict="no", audio_score=0.2, audio_band="low"),
        replace(OUTCOME, verdict="yes", audio_score=0.96, audio_band="high", client_share=None),
        replace(OUTCOME, blockers=("roles may be swapped",), audio_score=None, audio_band=None),
    ]
    totals = summary(outcomes)
    assert totals["sessions"] == 4
    assert (totals["confident"], totals["confident_right"], totals["confident_wrong"]) == (2, 1, 1)
    assert (totals["inconclusive"], totals["blocked"]) == (2, 1)
    assert totals["audio_band_equals_text_band"] == 1
    assert totals["mean_abs_score_change"] == pytest.approx((0.04 + 0.34 + 0.42) / 3)
    assert totals["mean_client_share_error"] == pytest.approx(0.05)


def test_table_marks_a_confident_wrong_verdict_and_a_fitted_transcript() -> None:
    text = table([OUTCOME, replace(OUTCOME, reserved=False, verdict="yes", transcript_id=10)])
    rows = text.splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("| 9 | low | 0.54 (middle) | 0.50 (middle) | inconclusive | good")
    assert rows[3].startswith("| 10 (fit) | low |")
    assert "yes **wrong**" in rows[3]


def test_a_condition_analyzes_a_degraded_copy_of_each_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.annomi_audio as bench

    write_wav(tmp_path / "annomi_9.wav", tone(2.0))
    truth = {"audio_files": {"mono": "annomi_9.wav"}, "annomi": {"transcript_id": 9}}
    (tmp_path / "annomi_9.truth.json").write_text(json.dumps(truth))
    (tmp_path / "other.truth.json").write_text(json.dumps({"audio_files": {}}))
    seen: list[tuple[Path, int]] = []

    def fake_analyzed(case: Case, *, cache_dir: Path | None = None) -> str:
        seen.append((case.path, sf.info(case.path).samplerate))
        return "result"

    monkeypatch.setattr(bench, "analyzed", fake_analyzed)
    monkeypatch.setattr(bench, "outcome", lambda case, result, config: (case.name, result))
    assert bench.run(tmp_path, condition="mulaw_8k") == [("annomi_9", "result")]  # type: ignore[comparison-overlap]
    assert [(p.name, rate) for p, rate in seen] == [("annomi_9.mulaw_8k.wav", 8000)]
    assert not seen[0][0].exists()  # the copies live only while the run does
    seen.clear()
    bench.run(tmp_path)
    assert seen == [(tmp_path / "annomi_9.wav", 16000)]


def test_the_command_line_sets_the_verdict_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.annomi_audio as bench
    from pipeline.metrics_config import MetricsConfig

    used: list[MetricsConfig] = []

    def fake_run(folder: Path, **options: object) -> list[Outcome]:
        config = options["config"]
        assert isinstance(config, MetricsConfig)
        used.append(config)
        return []

    monkeypatch.setattr(bench, "run", fake_run)
    options = ["--score-margin-logit", "0", "--quiet-voice-gap-db", "inf"]
    with pytest.raises(SystemExit, match="no voiced AnnoMI transcript"):
        bench.main(["--folder", str(tmp_path), *options, "--quiet-voice-share-error", "0.2"])
    (config,) = used
    assert config.score_margin_logit == 0.0
    assert config.quiet_voice_gap_db == float("inf") and config.quiet_voice_share_error == 0.2
