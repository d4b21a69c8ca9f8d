"""A voice beyond the two parties: does the diarization check notice it?

A counseling recording can hold more than the counselor and the client: an
introduction read by someone else, an interpreter, a relative in the room. The
default diarization expects two speakers, so that speech is counted as one of
the parties' and the talk shares are no longer theirs. The check
(:func:`pipeline.diarization_quality.extra_voice_share`) lets the same
clustering find one speaker more and raises a cue when it does.

This builds such recordings from dialogues with planted truth (the mono mixes
of ``tests/fixtures/realistic*``, or any folder of ``*.truth.json`` fixtures):
speech of a voice that is not in the dialogue, taken from another dialogue
where nobody else speaks within 0.3 s and brought to the dialogue's speech
level, is added either as an introduction before the session (``intro``) or
as turns after randomly chosen turn ends, spread over the session
(``party``), at about 10 % and 20 % of the talk time. Each recording, and each
original dialogue, is diarized with the product's defaults and the check's
level, cues and ``extra_voice_share`` are reported::

    python -m bench.third_voice [--folders DIR ...] [--cache DIR] [--json OUT]

Nothing is downloaded; by default everything is built from committed fixtures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.truth import reference_turns
from pipeline.types import SAMPLE_RATE_HZ, Audio, AudioInfo, Turn

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
REALISTIC_SETS = (
    FIXTURES / "realistic",
    FIXTURES / "realistic_heldout",
    FIXTURES / "realistic_fresh",
)
SHARES = (0.1, 0.2)
"""Wanted share of the talk time for the added voice."""
PLACEMENTS = ("intro", "party")
GAP_S = 0.6
"""Silence either side of each added piece of speech."""
CLEAR_S = 0.3
"""A donor stretch has no other speech within this many seconds."""
MIN_STRETCH_S = 1.5
"""A donor stretch lasts at least this long."""
MIN_DONOR_S = 8.0
"""A voice lends speech only if it has at least this much clear speech."""

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Dialogue:
    """A fixture's mono mix and its truth."""

    name: str
    samples: Samples
    truth: Mapping[str, Any]

    @property
    def voices(self) -> set[str]:
        return set(self.truth["voices"].values())

    @property
    def speech_s(self) -> float:
        return float(sum(t.duration_s for t in self.reference))

    @property
    def reference(self) -> tuple[Turn, ...]:
        """The planted talk as turns of the two roles (:func:`bench.truth.reference_turns`)."""
        return reference_turns(self.truth)

    def speech_rms(self) -> float:
        pieces = [_cut(self.samples, s["start"], s["end"]) for s in self.truth["segments"]]
        return _rms(np.concatenate(pieces))


@dataclass(frozen=True)
class Recording:
    """A recording to diarize and what it should show."""

    name: str
    samples: Samples
    placement: str
    """``"none"`` for an original dialogue, else one of :data:`PLACEMENTS`."""
    added_voice: str | None
    added_share: float
    """Share of the talk time that is the added voice (0 for an original)."""
    reference: tuple[Turn, ...]
    """The two parties' planted turns, moved to where they lie in ``samples``."""


def _cut(samples: Samples, start_s: float, end_s: float) -> Samples:
    """The samples from ``start_s`` to ``end_s``."""
    return samples[round(start_s * SAMPLE_RATE_HZ) : round(end_s * SAMPLE_RATE_HZ)]


def _rms(samples: Samples) -> float:
    """Root mean square level (never 0)."""
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)) + 1e-12))


def dialogues(folders: Sequence[Path]) -> list[Dialogue]:
    """Every fixture with a mono mix in ``folders``, decoded as the product decodes it."""
    from pipeline.audio import load_audio

    out = []
    for folder in folders:
        for truth_path in sorted(folder.glob("*.truth.json")):
            truth = json.loads(truth_path.read_text("utf-8"))
            mono = truth.get("audio_files", {}).get("mono")
            if mono is None:
                continue
            samples = load_audio(folder / mono).samples
            out.append(Dialogue(truth_path.name.removesuffix(".truth.json"), samples, truth))
    return out


def clear_speech(dialogue: Dialogue) -> dict[str, list[Samples]]:
    """Per voice, its stretches of at least :data:`MIN_STRETCH_S` with nobody else within
    :data:`CLEAR_S`."""
    segments = dialogue.truth["segments"]
    out: dict[str, list[Samples]] = {}
    for segment in segments:
        if segment["end"] - segment["start"] < MIN_STRETCH_S:
            continue
        near = [
            other
            for other in segments
            if other["speaker"] != segment["speaker"]
            and other["end"] > segment["start"] - CLEAR_S
            and other["start"] < segment["end"] + CLEAR_S
        ]
        if not near:
            voice = dialogue.truth["voices"][segment["speaker"]]
            out.setdefault(voice, []).append(
                _cut(dialogue.samples, segment["start"], segment["end"])
            )
    return out


def with_added_voice(
    dialogue: Dialogue,
    pieces: Sequence[Samples],
    *,
    share: float,
    placement: str,
    rng: random.Random,
) -> tuple[Samples, float, tuple[Turn, ...]]:
    """``dialogue`` with ``pieces`` of another voice added until they hold ``share`` of the talk.

    Pieces are scaled to the dialogue's speech level and reused in turn if
    too few. ``placement`` ``"intro"`` puts them all before the dialogue;
    ``"party"`` puts one after each of randomly chosen turn ends. Returns the
    samples, the added voice's actual share of the talk time and the two
    parties' planted turns moved to where they now lie.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement {placement!r}: use one of {PLACEMENTS}")
    if not pieces or not 0 < share < 1:
        raise ValueError("give at least one piece of speech and a share between 0 and 1")
    level = dialogue.speech_rms()
    wanted_s = dialogue.speech_s * share / (1 - share)
    chosen: list[Samples] = []
    added_s = 0.0
    index = 0
    while added_s < wanted_s:
        piece = pieces[index % len(pieces)]
        chosen.append((piece * (level / _rms(piece))).astype(np.float32))
        added_s += len(piece) / SAMPLE_RATE_HZ
        index += 1
    gap = np.zeros(round(GAP_S * SAMPLE_RATE_HZ), dtype=np.float32)
    if placement == "intro":
        at = [0.0]
        inserts = [np.concatenate([part for piece in chosen for part in (piece, gap)])]
    else:
        segments = dialogue.truth["segments"]
        # a turn end inside nobody's speech: the added voice cuts no one off
        ends = sorted(
            {s["end"] for s in segments}
            - {s["end"] for s in segments for o in segments if o["start"] < s["end"] < o["end"]}
        )[:-1]
        at = sorted(rng.sample(ends, min(len(chosen), len(ends))))
        inserts = [np.concatenate([gap, piece, gap]) for piece in chosen[: len(at)]]
        added_s = sum(len(piece) for piece in chosen[: len(at)]) / SAMPLE_RATE_HZ
    parts, previous = [], 0
    for at_s, insert in zip(at, inserts, strict=True):
        cut = round(at_s * SAMPLE_RATE_HZ)
        parts += [dialogue.samples[previous:cut], insert]
        previous = cut
    parts.append(dialogue.samples[previous:])
    samples = np.concatenate(parts).astype(np.float32)

    def moved(t_s: float, *, end: bool) -> float:
        """Where time ``t_s`` of the dialogue lies once the inserts are in (a turn that
        ends where an insert goes keeps its end before it; one that starts there moves)."""
        before = sum(
            len(insert)
            for at_s, insert in zip(at, inserts, strict=True)
            if at_s < t_s or (at_s == t_s and not end)
        )
        return round(t_s + before / SAMPLE_RATE_HZ, 3)

    reference = tuple(
        Turn(moved(t.start, end=False), moved(t.end, end=True), t.speaker)
        for t in dialogue.reference
    )
    return samples, added_s / (added_s + dialogue.speech_s), reference


def recordings(dialogue_list: Sequence[Dialogue], *, seed: int = 7) -> Iterator[Recording]:
    """Each original dialogue, then its versions with a voice from another dialogue added."""
    donors: dict[str, list[Samples]] = {}
    for dialogue in dialogue_list:
        for voice, stretches in clear_speech(dialogue).items():
            donors.setdefault(voice, []).extend(stretches)
    lenders = {
        voice: pieces
        for voice, pieces in donors.items()
        if sum(len(p) for p in pieces) >= MIN_DONOR_S * SAMPLE_RATE_HZ
    }
    rng = random.Random(seed)
    for dialogue in dialogue_list:
        yield Recording(dialogue.name, dialogue.samples, "none", None, 0.0, dialogue.reference)
        candidates = sorted(v for v in lenders if v not in dialogue.voices)
        if not candidates:
            raise ValueError(
                f"{dialogue.name}: no other voice has {MIN_DONOR_S:g} s of clear speech "
                "in these folders; add more dialogues"
            )
        for placement in PLACEMENTS:
            for share in SHARES:
                voice = rng.choice(candidates)
                pieces = list(lenders[voice])
                rng.shuffle(pieces)
                samples, added, reference = with_added_voice(
                    dialogue, pieces, share=share, placement=placement, rng=rng
                )
                name = f"{dialogue.name} + {voice} ({placement}, {share:.0%})"
                yield Recording(name, samples, placement, voice, round(added, 3), reference)


def mono_audio(name: str, samples: Samples) -> Audio:
    """A decoded mono recording as the pipeline's stages take it."""
    info = AudioInfo(
        f"{name}.wav", "0" * 64, len(samples) / SAMPLE_RATE_HZ, SAMPLE_RATE_HZ, 1, "wav", "pcm"
    )
    return Audio(info, samples, samples[None])


def party_share_error(reference: Sequence[Turn], found: Sequence[Turn]) -> float:
    """Talk-share error of the two parties alone: speakers the optimal mapping leaves
    unmatched (an extra voice set apart) are dropped, the rest compared by
    :func:`bench.degraded.share_error`."""
    from bench.degraded import share_error, speaker_mapping

    mapping = speaker_mapping(reference, found)
    kept = [t for t in found if t.speaker in mapping]
    return float(share_error(reference, kept, mapping=mapping))


def measure(recording: Recording, *, cache_dir: Path | None = None) -> dict[str, Any]:
    """The default diarization's check on ``recording`` and the parties' share error; for a
    recording with an added voice also the share error with one speaker more allowed
    (``--min-speakers 2 --max-speakers 3``). Cached by content when asked."""
    from pipeline.diarize import diarize

    key = hashlib.sha256(recording.samples.tobytes()).hexdigest()[:16]
    cached = None if cache_dir is None else cache_dir / f"{key}.json"
    if cached is not None and cached.exists():
        result: dict[str, Any] = json.loads(cached.read_text())
        return result
    audio = mono_audio(recording.name, recording.samples)
    found = diarize(audio, device="cpu")
    assert found.quality is not None
    result = {
        "level": found.quality.level,
        "tried": list(found.quality.tried),
        "cues": list(found.quality.cues),
        "measures": dict(found.quality.measures),
        "share_error": round(party_share_error(recording.reference, found.exclusive), 3),
    }
    if recording.added_voice is not None:
        wider = diarize(audio, device="cpu", num_speakers=None, min_speakers=2, max_speakers=3)
        result["share_error_3"] = round(party_share_error(recording.reference, wider.exclusive), 3)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(result))
    return result


def level_before(measures: Mapping[str, float]) -> str:
    """The level the check gave before the extra-voice and merged-voices cues (2026-11-30).

    Those cues only flag (:data:`~pipeline.diarization_quality.FLAG_ONLY_MEASURES`),
    so the kept clustering is the same either way and its measures without them
    are what the former check judged.
    """
    from pipeline.diarization_quality import FLAG_ONLY_MEASURES, judge

    return judge({k: v for k, v in measures.items() if k not in FLAG_ONLY_MEASURES}).level


def row(recording: Recording, result: Mapping[str, Any]) -> dict[str, Any]:
    """One table row: what was added, what the check says, and what it said before the new cues.

    Both levels are judged again from the stored measures, so a cached result
    follows the current rules.
    """
    from pipeline.diarization_quality import judge

    return {
        "recording": recording.name,
        "placement": recording.placement,
        "added share": recording.added_share,
        "extra_voice_share": result["measures"].get("extra_voice_share"),
        "level": judge(result["measures"]).level,
        "level before": level_before(result["measures"]),
        "share error": result["share_error"],
        "share error, up to 3 speakers": result.get("share_error_3"),
    }


def summary(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown: per kind of recording, how often the extra voice was found, how the level
    fell, and how many talk shares were wrong by more than 0.10 with the level ``good``
    (confidently wrong) without and with the cue."""
    from bench.degraded import CONFIDENT_WRONG_SHARE_ERROR
    from pipeline.diarization_quality import MAX_EXTRA_VOICE_SHARE

    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        kind = "two parties only" if r["placement"] == "none" else f"voice added: {r['placement']}"
        groups.setdefault(kind, []).append(r)
    lines = [
        "| recordings | n | extra voice found | confident before the new cues | "
        "confident now (level good) | confidently wrong before → now | "
        "parties' share error, mean (largest) | the same with up to 3 speakers |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def errors(members: Sequence[Mapping[str, Any]], key: str) -> str:
        values = [m[key] for m in members if m.get(key) is not None]
        return f"{np.mean(values):.3f} ({max(values):.3f})" if values else "—"

    for kind, members in groups.items():
        found = sum((m["extra_voice_share"] or 0.0) > MAX_EXTRA_VOICE_SHARE for m in members)
        before = sum(m["level before"] == "good" for m in members)
        now = sum(m["level"] == "good" for m in members)
        wrong = [m for m in members if m["share error"] > CONFIDENT_WRONG_SHARE_ERROR]
        wrong_before = sum(m["level before"] == "good" for m in wrong)
        wrong_now = sum(m["level"] == "good" for m in wrong)
        lines.append(
            f"| {kind} | {len(members)} | {found} | {before} | {now} | "
            f"{wrong_before} → {wrong_now} | "
            f"{errors(members, 'share error')} | "
            f"{errors(members, 'share error, up to 3 speakers')} |"
        )
    return lines


def add_common_arguments(parser: argparse.ArgumentParser, *, kept: str) -> None:
    """``--folders`` (the realistic sets by default), ``--cache DIR`` (keeps ``kept``) and
    ``--json OUT``: the options every bench built on the realistic fixtures takes."""
    parser.add_argument(
        "--folders",
        nargs="+",
        type=Path,
        default=list(REALISTIC_SETS),
        help="folders of fixtures with *.truth.json (default: the realistic sets)",
    )
    parser.add_argument("--cache", type=Path, help=f"keep {kept} here")
    parser.add_argument("--json", type=Path, help="write every row here")


def report(
    rows: Sequence[Mapping[str, Any]], *, json_path: Path | None, table: Sequence[str]
) -> int:
    """Write every row to ``json_path`` (when given), print the Markdown ``table``; exit 0."""
    if json_path is not None:
        json_path.write_text(json.dumps(rows, indent=1))
    print("\n".join(table))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.third_voice", description=__doc__)
    add_common_arguments(parser, kept="each recording's check result")
    args = parser.parse_args(argv)
    rows = []
    for recording in recordings(dialogues(args.folders)):
        rows.append(row(recording, measure(recording, cache_dir=args.cache)))
        print(json.dumps(rows[-1]), flush=True)
    return report(rows, json_path=args.json, table=summary(rows))


if __name__ == "__main__":
    raise SystemExit(main())
