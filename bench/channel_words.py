"""Words of stereo recordings: per-channel transcription against the mix, on the realistic fixtures.

For every stereo recording of a realistic fixture set, compares two cached
runs of the model stages (``python -m bench.events --cache DIR`` fills a
cache): one made when stereo was transcribed from the mix, one made with
per-channel transcription. Reports, per recording and summed:

- speaker-attributed WER: each role's words (roles as the pipeline assigns
  them) against that role's planted text (a cut-off sentence: the words said
  before the cut; abandoned attempts, whose said words the truth does not
  give, are left out of the reference and their words out of the hypothesis);
- cut-off fragments heard: planted cut-off sentences whose last two said words
  both appear, in order, among the interrupted role's words within the
  sentence's span (+0.5 s);
- the client's share of talk time and of words, against the truth.

::

    python -m bench.channel_words --before DIR --after DIR [--heldout]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.events import HELDOUT, REALISTIC, analyzed, cases
from pipeline.session import SpeechResult, role_hint, score

_WORD = re.compile(r"[a-z0-9']+")


def tokens(text: str) -> list[str]:
    """Lowercase words without punctuation; hyphens split (``mm-hmm`` → ``mm hmm``).

    >>> tokens("Mm-hmm. I'm fine, thanks!")
    ['mm', 'hmm', "i'm", 'fine', 'thanks']
    """
    return _WORD.findall(text.lower().replace("-", " "))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions).

    >>> edit_distance("a b c".split(), "a x c d".split())
    2
    """
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def _said(segment: Mapping[str, Any]) -> str:
    return str(segment.get("said_before_cut", segment["text"]))


def measure(result: SpeechResult, truth: Mapping[str, Any]) -> dict[str, float]:
    """Errors, reference words, fragments heard and shares for one analyzed recording."""
    hint = role_hint(counselor_channel=result.options.counselor_channel)
    scored = score(
        result.diarization.turns,
        result.utterances,
        duration_s=result.audio.duration_s,
        hint=hint,
    )
    roles = scored.roles
    segments = sorted(truth["segments"], key=lambda s: s["start"])
    attempts = [s for s in segments if s["kind"] == "attempt"]
    words = sorted((w for u in result.utterances for w in u.words), key=lambda w: (w.start, w.end))
    out: dict[str, float] = {"errors": 0, "reference": 0, "cut": 0, "heard": 0}
    role_words: dict[str, list[Any]] = {}
    for role in ("counselor", "client"):
        mine = [
            w
            for w in words
            if roles.role_of(w.speaker) == role
            and not any(
                a["role"] == role and a["start"] <= (w.start + w.end) / 2 <= a["end"]
                for a in attempts
            )
        ]
        role_words[role] = mine
        reference = [
            t
            for s in segments
            if s["role"] == role and s["kind"] != "attempt"
            for t in tokens(_said(s))
        ]
        hypothesis = [t for w in mine for t in tokens(w.text)]
        out["errors"] += edit_distance(reference, hypothesis)
        out["reference"] += len(reference)
        out[f"{role}_words"] = len(hypothesis)
    for s in segments:
        if s["kind"] != "speech" or not s.get("cut"):
            continue
        last = tokens(s["said_before_cut"])[-2:]
        heard = [
            t
            for w in role_words[s["role"]]
            if s["start"] - 0.5 <= w.start <= s["end"] + 0.5
            for t in tokens(w.text)
        ]
        out["cut"] += 1
        out["heard"] += any(heard[i : i + len(last)] == last for i in range(len(heard)))
    client_words = sum(
        len(tokens(_said(s))) for s in segments if s["role"] == "client" and s["kind"] != "attempt"
    )
    all_words = sum(len(tokens(_said(s))) for s in segments if s["kind"] != "attempt")
    metrics = scored.metrics
    out["client_share"] = metrics.client.share
    out["client_share_error"] = abs(metrics.client.share - truth["client_share"])
    out["client_word_share"] = metrics.client.word_share
    out["client_word_share_truth"] = client_words / all_words if all_words else 0.0
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--before", type=Path, required=True, help="cache of the mix-transcribed run"
    )
    parser.add_argument("--after", type=Path, required=True, help="cache of the per-channel run")
    parser.add_argument("--heldout", action="store_true", help="the held-out fixtures")
    args = parser.parse_args(argv)
    folder = HELDOUT if args.heldout else REALISTIC
    print(
        "| recording | run | WER | errors / words | cut-off fragments heard | "
        "client talk share (truth) | client word share (truth) |"
    )
    print("|---|---|---|---|---|---|---|")
    totals: dict[str, dict[str, float]] = {}
    for case in cases(folder):
        if case.variant != "stereo":
            continue
        for run, cache in (("before", args.before), ("after", args.after)):
            m = measure(analyzed(case, cache_dir=cache), case.truth)
            total = totals.setdefault(run, {"errors": 0, "reference": 0, "cut": 0, "heard": 0})
            for key in total:
                total[key] += m[key]
            print(
                f"| {case.name} | {run} | {m['errors'] / m['reference']:.3f} | "
                f"{m['errors']:.0f} / {m['reference']:.0f} | {m['heard']:.0f} / {m['cut']:.0f} | "
                f"{m['client_share']:.3f} ({case.truth['client_share']:.3f}) | "
                f"{m['client_word_share']:.3f} ({m['client_word_share_truth']:.3f}) |"
            )
    for run, total in totals.items():
        print(
            f"| all | {run} | {total['errors'] / total['reference']:.3f} | "
            f"{total['errors']:.0f} / {total['reference']:.0f} | "
            f"{total['heard']:.0f} / {total['cut']:.0f} | | |"
        )
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
