"""Every threshold the measures and the evidence use, in one frozen dataclass.

Each field has a documented default; ``docs/metrics.md`` explains each one and
the literature it follows. Pass a modified copy
(``dataclasses.replace(DEFAULT_METRICS_CONFIG, yield_window_s=1.5)``) to change
one; the values travel with a result through :meth:`MetricsConfig.to_dict`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

BACKCHANNEL_LEXICON: tuple[str, ...] = (
    "mm-hmm",
    "mm hmm",
    "mmhmm",
    "mhm",
    "mm",
    "mmm",
    "hmm",
    "hm",
    "uh-huh",
    "uh huh",
    "uhhuh",
    "um-hum",
    "um hum",
    "uh",
    "um",
    "yeah",
    "yep",
    "yup",
    "yes",
    "okay",
    "ok",
    "right",
    "sure",
    "i see",
    "got it",
    "alright",
    "all right",
    "true",
    "that's true",
    "that's right",
    "exactly",
    "absolutely",
    "definitely",
    "of course",
    "i know",
    "wow",
    "oh",
    "ah",
)
"""Words and phrases of listener responses (Ward & Tsukahara 2000), compared
after :func:`pipeline.measures.tokenize` (lowercase, punctuation removed)."""

REFLECTION_STEMS: tuple[str, ...] = (
    "it sounds like",
    "sounds like",
    "it seems",
    "seems like",
    "what i'm hearing",
    "what i am hearing",
    "what i hear",
    "i'm hearing",
    "you're feeling",
    "you are feeling",
    "you feel",
    "you're saying",
    "you are saying",
    "you're worried",
    "you are worried",
    "you're concerned",
    "you are concerned",
    "you're wondering",
    "you're not sure",
    "you are not sure",
    "you've been",
    "you have been",
    "you want",
    "you don't want",
    "you do not want",
    "you'd like",
    "you would like",
    "you're thinking",
    "you're ready",
    "you're not ready",
    "on one hand",
    "on the one hand",
    "on the other hand",
    "part of you",
    "important to you",
    "matters to you",
)
"""Phrases that, anywhere in a counselor statement, mark a reflection candidate."""

REFLECTION_OPENERS: tuple[str, ...] = (
    "so you",
    "so for you",
    "so it's",
    "so it is",
    "so what you're",
    "so part of you",
)
"""Phrases that mark a reflection candidate only at the start of a statement."""

ADVICE_CUES: tuple[str, ...] = (
    "you should",
    "you shouldn't",
    "you need to",
    "you have to",
    "you've got to",
    "you must",
    "you ought to",
    "you'd better",
    "you had better",
    "i recommend",
    "i'd recommend",
    "i would recommend",
    "i suggest",
    "i'd suggest",
    "i would suggest",
    "i advise",
    "my advice",
    "if i were you",
    "the best thing",
    "the best way",
    "it's important to",
    "it is important to",
    "why don't you",
    "make sure you",
)
"""Phrases that mark giving information or advice (MITI's "persuade" family)."""


@dataclass(frozen=True)
class MetricsConfig:
    """Every threshold of the measures and the evidence, with its default.

    Durations are in seconds. Limits named ``max`` in the backchannel test are
    exclusive: a stretch is short when it lasts *less than* ``backchannel_max_s``
    or has *fewer than* ``backchannel_max_words`` words.
    """

    # Floor turns
    merge_gap_s: float = 1.0
    """Same-role speech separated by a pause shorter than this is one turn."""
    yield_pause_s: float = 0.6
    """A pause at least this long, shorter than ``merge_gap_s``, ends a floor turn when the
    other role talks all through it in a floor turn of its own, and the turn before it
    is long enough to hold the floor (not short in the backchannel sense): a speaker
    who falls silent while the other holds the floor has yielded it, however soon they
    come back (``inf`` turns this off). Without it, a cut-off speaker who came back within
    ``merge_gap_s`` seemed to hold the floor, and the interruption was counted as an
    attempt (docs/metrics.md, "A pause the other party talks through")."""
    monologue_s: float = 60.0
    """A counselor turn longer than this is counted in ``counselor_turns_over_60s``."""

    # Backchannels
    backchannel_max_s: float = 1.0
    """Without transcribed words, a stretch shorter than this is short."""
    backchannel_max_words: int = 3
    """With words, a stretch with fewer than this many words is short."""
    backchannel_lexicon: tuple[str, ...] = BACKCHANNEL_LEXICON
    """A stretch whose words are all listener responses is short, however long."""

    cut_off_tails: bool = True
    """Join a cut-off tail (a short piece of a speaker heard again over the other's
    turn soon after a speaker change with no pause) back into the speaker's floor
    turn instead of counting it as a backchannel (:func:`pipeline.measures.floor_stretches`)."""
    cut_off_tail_min_gap_s: float = 0.2
    """A cut-off tail starts at least this long after the speaker change: closer, it is
    the same speech going on across the change (the end of a sentence that the other
    party overlapped), not the speaker heard again after a change placed too early."""
    cut_off_tail_min_s: float = 0.1
    """A cut-off tail lasts at least this long (a few frames of diarization are no
    evidence of speech)."""

    # Interruptions
    yield_window_s: float = 2.0
    """An overlapped speaker who stops within this time of the onset yielded the floor."""
    terminal_overlap_s: float = 0.5
    """Timing rule only: an overlapped speaker who stops within this time was finishing
    anyway (a terminal overlap, not counted)."""
    interruption_rule: Literal["completion", "timing"] = "completion"
    """``"completion"``: an onset is judged by where the cut falls in the overlapped
    speaker's words (cut off mid-unit: interruption; at a completion point: terminal
    overlap); ``"timing"``: by how long the overlapped speaker goes on."""
    completion_marks: str = ".?!"
    """A word ending in one of these characters completes a unit (a sentence)."""
    completion_lookahead_s: float = 0.1
    """Completion rule: words of the overlapped speaker that start up to this long
    after the onset still count as said before it (word timing is not exact)."""
    completion_max_trailing_s: float = 0.2
    """Completion rule: when the overlapped speaker's speech goes on longer than this
    after the end of the word that seemed to complete the unit, a fragment the ASR did
    not transcribe followed it (Whisper tends to close a cut-off sentence with a period):
    the speaker was cut off, not finishing."""

    # Time course
    window_s: float = 300.0
    step_s: float = 60.0

    # Lexical cues of the counselor role (pipeline.roles)
    reflection_stems: tuple[str, ...] = REFLECTION_STEMS
    reflection_openers: tuple[str, ...] = REFLECTION_OPENERS
    advice_cues: tuple[str, ...] = ADVICE_CUES

    # Reliability of the evidence (thresholds of the criteria come from pipeline/norms.json)
    min_speech_s: float = 60.0
    """Below this much counselor and client speech, the verdict is inconclusive."""
    max_counselor_interruptions_per_10min: float = 2.0
    """Above this, a score in the good-MI band gives ``inconclusive``, not ``yes``
    (the reference transcripts do not mark interruptions, so this has no norm)."""
    min_role_share: float = 0.10
    """Below this share of speech, a role suggests a broken diarization: inconclusive."""
    min_role_confidence: float = 0.6
    """Below this confidence in the role assignment, the verdict is inconclusive."""
    score_margin_logit: float = 1.0
    """How far (in log-odds) a score must lie beyond a band's edge for a ``yes`` or ``no``.

    The bands come from transcripts; a recording's score also carries what the
    ASR, the diarization and the roles change. On 16 voiced expert-rated
    transcripts with a ``good`` check, the score from audio differed from the
    text's by up to 1.49 in log-odds (80th percentile 0.84, 90th 1.07;
    docs/evidence.md, "From audio"), so a score closer than this to an edge is
    ``inconclusive``. With the packaged norms: ``no`` below 14.5 %, ``yes`` from 96.4 %."""
    quiet_voice_gap_db: float = 12.0
    """A role whose voice is at least this much quieter than the other's (dB, diarized by
    voice) is probably undercounted: a ``yes`` with a quiet counselor, or a ``no`` with a
    quiet client, becomes ``inconclusive`` unless it survives that undercount
    (``quiet_voice_share_error``; :mod:`pipeline.voice_levels`; ``inf`` turns this off). On dialogues mixed down with one party 10 dB quieter the gap measured
    4-11.5 dB and no talk share went wrong; at 20 dB quieter it measured 14.6-19.5 dB and
    3 of 12 shares were more than 0.10 off with a ``good`` check (docs/diarization.md)."""
    quiet_voice_share_error: float = 0.3
    """How far a quiet voice's talk share may be undercounted (a fraction of the talk time):
    the verdict a quiet voice could have produced stands only if it survives the client's
    share moved this far the other way. The largest undercount seen with a level gap of
    12 dB or more was 0.30 (docs/diarization.md, "A quiet voice")."""

    def __post_init__(self) -> None:
        positive = ("merge_gap_s", "monologue_s", "window_s", "step_s", "yield_window_s")
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"MetricsConfig.{name} must be a positive number, got {value!r}")
        non_negative = (
            "backchannel_max_s",
            "backchannel_max_words",
            "terminal_overlap_s",
            "completion_max_trailing_s",
            "cut_off_tail_min_gap_s",
            "cut_off_tail_min_s",
            "min_speech_s",
            "max_counselor_interruptions_per_10min",
            "score_margin_logit",
        )
        for name in non_negative:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MetricsConfig.{name} must be zero or more, got {value!r}")
        if not self.yield_pause_s > 0:
            raise ValueError(
                "MetricsConfig.yield_pause_s must be a positive number of seconds (inf: off), "
                f"got {self.yield_pause_s!r}"
            )
        if not self.quiet_voice_gap_db > 0:
            raise ValueError(
                "MetricsConfig.quiet_voice_gap_db must be a positive number of dB (inf: off), "
                f"got {self.quiet_voice_gap_db!r}"
            )
        for name in ("min_role_share", "min_role_confidence", "quiet_voice_share_error"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"MetricsConfig.{name} must lie in [0, 1], got {value!r}")
        if not math.isfinite(self.completion_lookahead_s):
            raise ValueError("MetricsConfig.completion_lookahead_s must be a finite number")
        if self.interruption_rule not in ("completion", "timing"):
            raise ValueError(
                "MetricsConfig.interruption_rule must be 'completion' or 'timing', "
                f"got {self.interruption_rule!r}"
            )
        if self.terminal_overlap_s > self.yield_window_s:
            raise ValueError("MetricsConfig.terminal_overlap_s must not exceed yield_window_s")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-serialisable dict: tuples become lists, and a
        setting turned off with ``inf`` the string ``"inf"`` (strict JSON has no infinity,
        and ``session.json`` must load anywhere)."""
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


DEFAULT_METRICS_CONFIG = MetricsConfig()
"""The defaults documented in ``docs/metrics.md``."""
