"""session.json: built from stage results, valid against its schema, rescored without models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from pipeline.attribute import build_utterances
from pipeline.outputs import read_document, write_outputs
from pipeline.roles import RoleHint
from pipeline.schema import InvalidDocumentError, validate_document
from pipeline.session import (
    SCHEMA_VERSION,
    SpeechResult,
    rescore_document,
    score,
    session_document,
    swap_roles,
)
from pipeline.types import AudioInfo, Diarization, Transcript, TranscriptSegment, Turn, Word

SCRIPT = [
    ("A", 0.0, "Hi, what brings you here today?"),
    ("B", 3.0, "I have been drinking more and my wife is worried about me."),
    ("A", 8.0, "It sounds like you're worried too."),
    ("B", 11.0, "Yes, I am. I want to feel better in the morning and be there for my kids."),
    ("A", 17.0, "What would you like to change first?"),
]


def speech_result() -> SpeechResult:
    segments, turns = [], []
    for speaker, start, text in SCRIPT:
        words = tuple(
            Word(round(start + i * 0.35, 3), round(start + i * 0.35 + 0.3, 3), token, 0.9)
            for i, token in enumerate(text.split())
        )
        segments.append(TranscriptSegment(words[0].start, words[-1].end, text, words))
        turns.append(Turn(words[0].start, words[-1].end, speaker))
    transcript = Transcript("en", 0.99, tuple(segments), "faster-whisper-test")
    diarization = Diarization(tuple(turns), tuple(turns), "test-diarization")
    attributed, utterances = build_utterances(transcript, diarization.exclusive)
    info = AudioInfo("/data/s1.wav", "ab" * 32, 20.0, 16_000, 1, "wav", "pcm_s16le")
    return SpeechResult(info, transcript, diarization, attributed, utterances)


def document() -> dict[str, Any]:
    result = speech_result()
    scored = score(result.diarization.turns, result.utterances, duration_s=20.0)
    return session_document(result, scored)


def test_document_has_the_documented_keys_and_is_valid() -> None:
    doc = document()
    validate_document(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["audio"]["file_name"] == "s1.wav"  # never the full path
    assert doc["roles"]["counselor"] == "A"
    assert doc["segments"][0] == {"start": 0.0, "end": 2.05, "speaker": "A", "role": "counselor"}
    assert doc["words"][0]["role"] == "counselor"
    assert doc["utterances"][1]["word_range"] == [6, 18]
    assert doc["metrics"]["counselor"]["turns"] == 3
    assert doc["metrics"]["client"]["words"] == 29
    assert doc["evidence"]["client_led"] in {"yes", "no", "inconclusive"}
    json.dumps(doc)  # JSON-serialisable


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("audio", "sha256"), "nothex", "audio/sha256"),
        (("roles", "method"), "guess", "roles/method"),
        (("evidence", "client_led"), "maybe", "evidence/client_led"),
        (("metrics", "counselor", "share"), 1.5, "metrics/counselor/share"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(
    path: tuple[str, ...], value: object, where: str
) -> None:
    doc = document()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidDocumentError, match=where):
        validate_document(doc)


def test_missing_required_key_is_reported() -> None:
    doc = document()
    del doc["metrics"]["interruptions"]
    with pytest.raises(InvalidDocumentError, match="'interruptions' is a required property"):
        validate_document(doc)


def test_rescore_with_the_same_hint_reproduces_the_document() -> None:
    doc = document()
    assert rescore_document(doc, hint=RoleHint()) == doc


def test_swap_exchanges_roles_and_measures() -> None:
    doc = document()
    swapped = swap_roles(doc)
    validate_document(swapped)
    assert (swapped["roles"]["counselor"], swapped["roles"]["client"]) == ("B", "A")
    assert swapped["roles"]["method"] == "explicit"
    assert swapped["metrics"]["counselor"] == doc["metrics"]["client"] | {
        "backchannels": swapped["metrics"]["counselor"]["backchannels"]
    }
    assert swapped["words"][0]["role"] == "client"
    assert swap_roles(swapped)["metrics"]["counselor"] == doc["metrics"]["counselor"]


def test_rescore_does_not_modify_its_input() -> None:
    doc = document()
    before = copy.deepcopy(doc)
    rescore_document(doc, hint=RoleHint("explicit", counselor="B"))
    assert doc == before


def test_outputs_are_written_from_the_document(tmp_path: Path) -> None:
    paths = write_outputs(document(), tmp_path)
    assert set(paths) == {"session", "srt", "vtt", "rttm", "html", "markdown"}
    assert (
        "[Counselor] Hi, what brings you here today?" in (tmp_path / "transcript.srt").read_text()
    )
    assert (
        (tmp_path / "diarization.rttm")
        .read_text()
        .startswith("SPEAKER s1 1 0.000 2.050 <NA> <NA> A ")
    )
    assert "Client-led" in (tmp_path / "report.html").read_text()
    assert read_document(tmp_path) == json.loads((tmp_path / "session.json").read_text())


def test_invalid_document_writes_nothing(tmp_path: Path) -> None:
    doc = document()
    doc["evidence"]["client_led"] = "maybe"
    with pytest.raises(InvalidDocumentError):
        write_outputs(doc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_rescore_swaps_and_rewrites_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_outputs(document(), tmp_path)
    assert main(["rescore", str(tmp_path), "--swap"]) == 0
    assert "counselor B, client A" in capsys.readouterr().out
    assert read_document(tmp_path)["roles"]["counselor"] == "B"
    assert "[Client] Hi, what brings you here today?" in (tmp_path / "transcript.srt").read_text()
    assert main(["rescore", str(tmp_path), "--counselor", "A"]) == 0
    assert read_document(tmp_path)["roles"]["counselor"] == "A"


def test_cli_rescore_with_an_unknown_speaker_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_outputs(document(), tmp_path)
    assert main(["rescore", str(tmp_path), "--counselor", "SPEAKER_09"]) == 2
    assert capsys.readouterr().err == (
        "session-analyzer: error: speaker 'SPEAKER_09' is not in this recording; choose one of A, B\n"
    )


FIXTURES = Path(__file__).parent / "fixtures"


def test_document_is_schema_2_with_score_norms_and_codes() -> None:
    doc = document()
    assert SCHEMA_VERSION == "2.0" and doc["schema_version"] == "2.0"
    evidence = doc["evidence"]
    assert 0.0 <= evidence["score"] <= 1.0
    assert evidence["reliability"]["blockers"]  # 20 s of speech: too little to judge
    assert evidence["client_led"] == "inconclusive"
    assert [c["name"] for c in evidence["criteria"]][:2] == [
        "client_share",
        "counselor_interruptions_per_10min",
    ]
    assert evidence["criteria"][0]["norms"]["high"]["n"] > 50
    assert [t["role"] for t in doc["metrics"]["coded_turns"]] == [
        "counselor",
        "client",
        "counselor",
        "client",
        "counselor",
    ]
    assert doc["metrics"]["behaviour"]["questions"]["open"] == 2


def test_a_1_0_document_validates_and_rescores_to_2_0() -> None:
    old = json.loads((FIXTURES / "session_v1.json").read_text())
    assert old["schema_version"] == "1.0" and "score" not in old["evidence"]
    validate_document(old)  # read with the 1.x schema
    new = rescore_document(old, hint=RoleHint())
    validate_document(new)
    assert new["schema_version"] == "2.0"
    assert new["words"] == old["words"] and new["segments"] == old["segments"]
    assert new["roles"]["counselor"] == old["roles"]["counselor"]
    assert new["metrics"]["client"]["speech_s"] == old["metrics"]["client"]["speech_s"]
    assert "score" in new["evidence"] and "questions" not in new["metrics"]


def test_cli_rescore_upgrades_a_1_0_folder(tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text((FIXTURES / "session_v1.json").read_text())
    assert main(["rescore", str(tmp_path)]) == 0
    assert read_document(tmp_path)["schema_version"] == "2.0"
    assert json.loads((tmp_path / "session.json.bak").read_text())["schema_version"] == "1.0"


def test_rescore_keeps_a_doubtful_diarization_inconclusive() -> None:
    doc = document()
    doc["diarization"]["quality"] = "poor"
    doc["diarization"]["cues"] = ["Name the counselor's channel with --counselor-channel."]
    rescored = rescore_document(doc, hint=RoleHint())
    assert rescored["evidence"]["client_led"] == "inconclusive"
    assert rescored["evidence"]["reliability"]["diarization_quality"] == "poor"
    assert rescored["diarization"]["quality"] == "poor"
