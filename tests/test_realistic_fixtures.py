"""The realistic fixtures (Kokoro voices, planted events) and event accuracy on them.

The fast tests check the committed truth against itself and the audio; the slow
ones run the real model stages on every recording (mono mix and stereo) and
assert the event precision and recall measured with ``python -m bench.events``,
with a modest margin below what was measured (see ``docs/metrics.md``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.events import Counts, analyzed, cases, evaluate, rule_config
from pipeline.audio import load_audio
from pipeline.session import SpeechResult
from tests.conftest import script_module, tone

REALISTIC = Path(__file__).parent / "fixtures" / "realistic"
HELDOUT = Path(__file__).parent / "fixtures" / "realistic_heldout"
TRUTHS = sorted(REALISTIC.glob("*.truth.json"))
HELDOUT_TRUTHS = sorted(HELDOUT.glob("*.truth.json"))
FRESH = Path(__file__).parent / "fixtures" / "realistic_fresh"
FRESH_TRUTHS = sorted(FRESH.glob("*.truth.json"))
RECAST = Path(__file__).parent / "fixtures" / "realistic_recast"
RECAST_TRUTHS = sorted(RECAST.glob("*.truth.json"))
RECAST2 = Path(__file__).parent / "fixtures" / "realistic_recast2"
RECAST2_TRUTHS = sorted(RECAST2.glob("*.truth.json"))
RECAST3 = Path(__file__).parent / "fixtures" / "realistic_recast3"
RECAST3_TRUTHS = sorted(RECAST3.glob("*.truth.json"))
RECAST4 = Path(__file__).parent / "fixtures" / "realistic_recast4"
RECAST4_TRUTHS = sorted(RECAST4.glob("*.truth.json"))
MEASURED_TRUTHS = TRUTHS + HELDOUT_TRUTHS + FRESH_TRUTHS
"""Sets made before the generator recorded pauses: their pauses were measured on the
committed audio (``scripts/measure_fixture_pauses.py``). The recast set's come from the
generator, measured on each clean sentence (a pause under noise is found there only), as
do the later recast sets'."""
ALL_TRUTHS = MEASURED_TRUTHS + RECAST_TRUTHS + RECAST2_TRUTHS + RECAST3_TRUTHS + RECAST4_TRUTHS


def truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_enough_fixtures_voices_and_events() -> None:
    assert len(TRUTHS) >= 4
    all_truth = [truth(p) for p in TRUTHS]
    voices = {v for t in all_truth for v in t["voices"].values()}
    assert len(voices) >= 6
    genders = {v[1] for v in voices}  # af_/am_/bf_/bm_
    assert genders == {"f", "m"}
    same_gender = [t for t in all_truth if len({v[1] for v in t["voices"].values()}) == 1]
    assert len(same_gender) >= 2
    kinds = [e["kind"] for t in all_truth for e in t["events"]]
    assert kinds.count("interruption") >= 12
    assert kinds.count("terminal_overlap") >= 6
    assert kinds.count("overlap_attempt") >= 3
    assert sum(len(t["backchannels"]) for t in all_truth) >= 12
    assert any(t["acoustics"]["rt60_s"] for t in all_truth)
    assert any(t["acoustics"]["snr_db"] for t in all_truth)
    assert any("stereo" in t["audio_files"] for t in all_truth)
    size = sum(f.stat().st_size for f in REALISTIC.iterdir())
    assert size < 8_000_000


def test_the_held_out_set_is_new_and_small() -> None:
    # Held-out dialogues: other scripts and voices than the development set, at least one
    # same-gender pair, room and noise on some, stereo on some; small enough to commit.
    assert len(HELDOUT_TRUTHS) >= 4
    held_out = [truth(p) for p in HELDOUT_TRUTHS]
    dev_voices = {v for p in TRUTHS for v in truth(p)["voices"].values()}
    voices = {v for t in held_out for v in t["voices"].values()}
    assert len(voices) >= 8 and not voices & dev_voices
    assert any(len({v[1] for v in t["voices"].values()}) == 1 for t in held_out)
    assert any(t["acoustics"]["rt60_s"] for t in held_out)
    assert any(t["acoustics"]["snr_db"] for t in held_out)
    assert any("stereo" in t["audio_files"] for t in held_out)
    dev_text = {s["text"] for p in TRUTHS for s in truth(p)["segments"] if s["kind"] == "speech"}
    assert not {s["text"] for t in held_out for s in t["segments"]} & dev_text
    kinds = [e["kind"] for t in held_out for e in t["events"]]
    assert kinds.count("interruption") >= 12 and kinds.count("terminal_overlap") >= 6
    assert sum(len(t["backchannels"]) for t in held_out) >= 12
    assert sum(f.stat().st_size for f in HELDOUT.iterdir()) < 2_000_000


def test_the_fresh_set_is_new_to_both_other_sets() -> None:
    # Fresh dialogues (reporting only): voices and sentences used by neither the development
    # nor the held-out set, a female-female and a male-male pair, room, noise and stereo.
    assert len(FRESH_TRUTHS) >= 4
    fresh = [truth(p) for p in FRESH_TRUTHS]
    others = [truth(p) for p in TRUTHS + HELDOUT_TRUTHS]
    old_voices = {v for t in others for v in t["voices"].values()}
    voices = {v for t in fresh for v in t["voices"].values()}
    assert len(voices) >= 8 and not voices & old_voices
    pairs = [{v[1] for v in t["voices"].values()} for t in fresh]
    assert {"f"} in pairs and {"m"} in pairs
    assert any(t["acoustics"]["rt60_s"] for t in fresh)
    assert any(t["acoustics"]["snr_db"] for t in fresh)
    assert sum("stereo" in t["audio_files"] for t in fresh) >= 2
    old_text = {s["text"] for t in others for s in t["segments"] if s["kind"] == "speech"}
    assert not {s["text"] for t in fresh for s in t["segments"]} & old_text
    kinds = [e["kind"] for t in fresh for e in t["events"]]
    assert kinds.count("interruption") >= 12 and kinds.count("terminal_overlap") >= 6
    assert kinds.count("overlap_attempt") >= 3
    assert sum(len(t["backchannels"]) for t in fresh) >= 12
    assert sum(f.stat().st_size for f in FRESH.iterdir()) < 2_000_000


def _by_script(paths: list[Path], prefix: str) -> dict[str, dict[str, Any]]:
    return {p.name.removesuffix(".truth.json").removeprefix(prefix): truth(p) for p in paths}


@pytest.mark.parametrize(
    ("folder", "paths", "prefix", "earlier"),
    [
        (RECAST, RECAST_TRUTHS, "recast_", ()),
        (RECAST2, RECAST2_TRUTHS, "recast2_", ((RECAST_TRUTHS, "recast_"),)),
        (
            RECAST3,
            RECAST3_TRUTHS,
            "recast3_",
            ((RECAST_TRUTHS, "recast_"), (RECAST2_TRUTHS, "recast2_")),
        ),
        (
            RECAST4,
            RECAST4_TRUTHS,
            "recast4_",
            (
                (RECAST_TRUTHS, "recast_"),
                (RECAST2_TRUTHS, "recast2_"),
                (RECAST3_TRUTHS, "recast3_"),
            ),
        ),
    ],
    ids=["recast", "recast2", "recast3", "recast4"],
)
def test_a_recast_set_gives_every_script_new_voices_and_timings(
    folder: Path,
    paths: list[Path],
    prefix: str,
    earlier: tuple[tuple[list[Path], str], ...],
) -> None:
    # Recast dialogues (reporting only): the twelve scripts of the other sets, each with a
    # voice pair it never had (in the original sets nor in an earlier recast), same-gender
    # scripts kept same-gender, and the events at other times.
    originals = _by_script(MEASURED_TRUTHS, "kokoro_")
    recast = _by_script(paths, prefix)
    before = [originals, *(_by_script(p, pre) for p, pre in earlier)]
    assert set(recast) == set(originals) and len(recast) == 12
    for name, t in recast.items():
        original = originals[name]
        for old in before:
            assert set(t["voices"].values()) != set(old[name]["voices"].values())
            assert [e["start"] for e in t["events"]] != [e["start"] for e in old[name]["events"]]
        assert sorted(s["text"] for s in t["segments"]) == sorted(
            s["text"] for s in original["segments"]
        )
        genders = {role: voice[1] for role, voice in t["voices"].items()}
        old_genders = {role: voice[1] for role, voice in original["voices"].items()}
        assert (len(set(genders.values())) == 1) == (len(set(old_genders.values())) == 1)
    assert sum(f.stat().st_size for f in folder.iterdir()) < 6_000_000


def _pairs(paths: list[Path]) -> set[frozenset[str]]:
    return {frozenset(truth(p)["voices"].values()) for p in paths}


@pytest.mark.parametrize(
    ("paths", "earlier"),
    [
        (RECAST3_TRUTHS, MEASURED_TRUTHS + RECAST_TRUTHS + RECAST2_TRUTHS),
        (RECAST4_TRUTHS, MEASURED_TRUTHS + RECAST_TRUTHS + RECAST2_TRUTHS + RECAST3_TRUTHS),
    ],
    ids=["recast3", "recast4"],
)
def test_the_later_recast_sets_have_no_pair_any_earlier_set_had(
    paths: list[Path], earlier: list[Path]
) -> None:
    # Not only new for its script: no earlier set had the pair for any script.
    assert len(_pairs(paths)) == 12
    assert not _pairs(paths) & _pairs(earlier)


def test_the_first_recast_set_brings_in_four_new_voices() -> None:
    voices = {
        v for t in _by_script(RECAST_TRUTHS, "recast_").values() for v in t["voices"].values()
    }
    old_voices = {v for p in MEASURED_TRUTHS for v in truth(p)["voices"].values()}
    assert len(voices - old_voices) == 4


@pytest.mark.parametrize("path", ALL_TRUTHS, ids=lambda p: p.name.removesuffix(".truth.json"))
def test_planted_events_are_what_they_claim(path: Path) -> None:
    t = truth(path)
    segments = t["segments"]
    for e in t["events"]:
        onset = e["start"]
        own = [s for s in segments if s["role"] == e["interrupted"] and s["kind"] == "speech"]
        [host] = [s for s in own if s["start"] < onset < s["end"]]
        if e["kind"] == "interruption":
            # Cut off mid-sentence, stopping 0.2 to 0.6 s after the onset.
            assert host["cut"] and "said_before_cut" in host
            assert not host["said_before_cut"].rstrip().endswith((".", "?", "!"))
            assert 0.2 <= host["end"] - onset <= 0.6 + 1e-3
        elif e["kind"] == "terminal_overlap":
            assert not host["cut"] and host["text"].rstrip().endswith((".", "?", "!"))
            assert 0.1 - 1e-3 <= host["end"] - onset <= 0.3 + 1e-3
        else:  # the speaker holds the floor well past the yield window
            later = [s for s in own if s["start"] >= host["start"]]
            assert max(s["end"] for s in later) - onset > 2.5
    for b in t["backchannels"]:
        other = [s for s in segments if s["role"] != b["role"] and s["kind"] == "speech"]
        assert any(s["start"] < b["start"] and b["end"] < s["end"] for s in other) == (
            b["where"] == "over"
        )


@pytest.mark.parametrize("path", ALL_TRUTHS, ids=lambda p: p.name.removesuffix(".truth.json"))
def test_audio_and_rttm_agree_with_the_truth(path: Path) -> None:
    t = truth(path)
    for variant, name in t["audio_files"].items():
        audio = load_audio(path.parent / name)
        assert audio.info.duration_s == pytest.approx(t["duration_s"], abs=0.05)
        assert audio.info.channels == (2 if variant == "stereo" else 1)
    rttm = (path.parent / path.name.replace(".truth.json", ".rttm")).read_text().splitlines()
    pauses = [p for s in t["segments"] for p in s.get("pauses", ())]
    assert len(rttm) == len(t["segments"]) + len(pauses)  # each segment split at its pauses
    first = rttm[0].split()
    assert float(first[3]) == pytest.approx(t["segments"][0]["start"], abs=1e-3)
    talk = {"SPK_C": 0.0, "SPK_K": 0.0}
    for line in rttm:
        fields = line.split()
        talk[fields[7]] += float(fields[4])
    share = talk["SPK_K"] / (talk["SPK_K"] + talk["SPK_C"])
    assert t["client_share"] == pytest.approx(share, abs=2e-4)  # talk time net of pauses


def test_pauses_are_long_silences_inside_a_sentence() -> None:
    generator = script_module("make_realistic_fixtures")
    rate = generator.SAMPLE_RATE
    sound, hush = tone(1.0, sample_rate_hz=rate), np.zeros(rate, dtype=np.float32)
    clip = np.concatenate([hush[: rate // 2], sound, hush[: int(0.6 * rate)], sound])
    clip = np.concatenate([clip, sound[: rate // 2], hush[: int(0.4 * rate)], sound, hush])
    # the silences at the edges are not pauses, nor is one shorter than 0.5 s
    assert generator.pauses(clip, start_s=10.0) == [(11.5, 12.1)]
    quiet = 10 ** (-45 / 20) * sound  # 45 dB down counts as silence, 35 dB down as sound
    louder = 10 ** (-35 / 20) * sound
    assert generator.pauses(np.concatenate([sound, quiet, sound]), start_s=0.0) == [(1.0, 2.0)]
    assert generator.pauses(np.concatenate([sound, louder, sound]), start_s=0.0) == []


@pytest.mark.parametrize("path", MEASURED_TRUTHS, ids=lambda p: p.name.removesuffix(".truth.json"))
def test_measured_pauses_are_what_the_committed_audio_holds(path: Path, tmp_path: Path) -> None:
    """Measuring each committed dialogue again finds exactly the pauses its truth lists,
    and leaves its truth and RTTM as committed."""
    measure = script_module("measure_fixture_pauses").measure
    name = path.name.removesuffix(".truth.json")
    committed = truth(path)
    stripped = json.loads(json.dumps(committed))
    for segment in stripped["segments"]:
        segment.pop("pauses", None)
    (tmp_path / path.name).write_text(json.dumps(stripped))
    (tmp_path / f"{name}.rttm").write_text("not rewritten unless pauses are found\n")
    for audio in committed["audio_files"].values():
        (tmp_path / audio).symlink_to((path.parent / audio).resolve())
    found = measure(tmp_path / path.name)
    assert found == any("pauses" in s for s in committed["segments"])
    if found:
        assert json.loads((tmp_path / path.name).read_text()) == committed
        rttm = (path.parent / f"{name}.rttm").read_text()
        assert (tmp_path / f"{name}.rttm").read_text() == rttm


def test_only_the_breathy_voice_pauses_inside_its_sentences() -> None:
    paused = {
        p.name.removesuffix(".truth.json"): sum(
            e - s for seg in truth(p)["segments"] for s, e in seg.get("pauses", ())
        )
        for p in MEASURED_TRUTHS
    }
    assert {name for name, seconds in paused.items() if seconds} == {"kokoro_exercise"}
    assert paused["kokoro_exercise"] == pytest.approx(7.1, abs=0.05)
    assert truth(HELDOUT / "kokoro_exercise.truth.json")["voices"]["SPK_C"] == "af_nicole"


# --- accuracy with the real models -------------------------------------------------


@cache
def _analyzed() -> list[tuple[str, dict[str, Any], SpeechResult]]:
    return [(c.variant, dict(c.truth), analyzed(c)) for c in cases(REALISTIC)]


@cache
def measured(rule: str, variant: str) -> dict[str, Counts]:
    total: dict[str, Counts] = {}
    for v, t, result in _analyzed():
        if v != variant:
            continue
        for kind, c in evaluate(result, t, config=rule_config(rule)).items():
            total[kind] = total.get(kind, Counts()) + c
    return total


# Bounds: what `python -m bench.events` measured (docs/metrics.md), less a modest margin.
# Measured (completion rule, completion_max_trailing_s = 0.15 s), mono: interruptions P 10/11,
# R 10/16 (the mono diarization moves by an event or two between runs), terminal overlaps
# counted as interruptions 1/8, backchannels P 10/13, R 10/15; stereo with words per channel
# (each channel transcribed alone) and channel activity at 6 dB: P 4/5, R 4/8, 1/4, 7/7, 7/7
# on a CPU with AVX2; on one with AVX-512, whose Whisper words differ a little, stereo R 3/8
# (2026-12-02; at 0.2 s, the default since: mono P 11/12, R 11/16, 1/8, 10/14, 10/15; stereo
# P 3/3, R 3/8, 0/4, 7/7, 7/7; with the yielding pause, 2026-12-02: mono P 11/13, R 11/16,
# 2/8, 10/14, 10/15, stereo the same, so the mono terminal bound keeps one event's margin
# at 3/8)
# (at 15 dB P 4/4 and 0/4, but held-out recall 9/11 where 6 dB finds 10/11; with words from
# the mix it was R 6/8, but on the held-out set per-channel words took recall from 6/11 to
# 9/11 and precision from 6/8 to 9/9: docs/metrics.md). The issue's targets (P and R >= 0.85) are not met for interruption recall nor
# for mono backchannels: in the mono mix the diarization misplaces turn boundaries by up to
# 0.7 s and misses overlapped backchannels, and Whisper often completes the cut-off word and
# closes the sentence with a period right where the speaker stops.
BOUNDS: dict[str, dict[str, float]] = {
    "mono": {
        "interruption_precision": 0.75,
        "interruption_recall": 0.5,
        "terminal_not_interruption": 0.6,
        "backchannel_precision": 0.55,
        "backchannel_recall": 0.55,
    },
    "stereo": {  # two stereo recordings, few events: a margin of one event each
        "interruption_precision": 0.65,
        "interruption_recall": 0.25,
        "terminal_not_interruption": 0.5,
        "backchannel_precision": 0.85,
        "backchannel_recall": 0.85,
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(BOUNDS))
def test_event_precision_and_recall_with_the_completion_rule(variant: str) -> None:
    c = measured("completion", variant)
    bounds = BOUNDS[variant]
    interruption, backchannel = c["interruption"], c["backchannel"]
    wrong = c["terminal_as_interruption"]
    assert (interruption.precision or 0.0) >= bounds["interruption_precision"]
    assert (interruption.recall or 0.0) >= bounds["interruption_recall"]
    assert 1.0 - wrong.matched / wrong.planted >= bounds["terminal_not_interruption"]
    assert (backchannel.precision or 0.0) >= bounds["backchannel_precision"]
    assert (backchannel.recall or 0.0) >= bounds["backchannel_recall"]


@pytest.mark.slow
def test_completion_rule_finds_more_interruptions_than_the_timing_rule() -> None:
    for variant in ("mono", "stereo"):
        completion, timing = measured("completion", variant), measured("timing", variant)
        assert completion["interruption"].matched > timing["interruption"].matched
        assert completion["interruption"].recall is not None
