"""Scripted good and poor MI sessions through the packaged coder, norms and score.

The scripts are our own (not AnnoMI text). The good session is written so the
counselor speaks a little more than the client (client share 40–50%), as in
many expert-rated good sessions: its verdict must not be ``no``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.evidence import evaluate
from pipeline.measures import SessionMetrics, compute_metrics
from pipeline.types import SpeakerWord, Turn, Utterance

C, CL = "counselor", "client"
WORD_S = 0.4
"""Seconds per word: the share of talk time follows the share of words."""

GOOD = [
    (C, "Thanks for coming in today. What would you like to talk about?"),
    (CL, "My doctor says I drink too much. I am not sure I agree with her."),
    (
        C,
        "You are not convinced it is a problem, and you came in anyway, which says you care what she thinks.",
    ),
    (CL, "I do. She has known me a long time. I just do not want to be told what to do."),
    (
        C,
        "It matters a great deal to you to make your own decisions about this, in your own time and in your own way.",
    ),
    (CL, "Yes. Nobody likes to be lectured. But my sleep has been terrible."),
    (
        C,
        "Your sleep has been suffering, and you are wondering whether the drinking plays a part in it.",
    ),
    (CL, "Maybe. I wake up at three every night after a few glasses of wine."),
    (C, "You have been paying close attention to your sleep. What do you make of that?"),
    (CL, "I guess it is the wine. On the weekends when I do not drink I sleep fine."),
    (C, "So you have already noticed a pattern: nights without wine, better sleep."),
    (CL, "Right. I could try cutting out the weeknight wine, I suppose."),
    (C, "Part of you is ready to try something, and part of you does not want anyone pushing you."),
    (CL, "That is exactly it. If I decide, I will do it."),
    (C, "How would you go about it, if you decided to?"),
    (CL, "I would stop buying wine for the house and keep it for dinners out."),
    (C, "You have a clear idea, and it is your plan, not your doctor's."),
    (CL, "Yes, I want to feel rested again. I think I can do it."),
    (C, "You sound confident, and feeling rested again is what this is really about for you."),
    (CL, "It is. I will try it this week and see how I sleep."),
]

POOR = [
    (C, "Good morning. Do you drink every day?"),
    (CL, "Most days, yes."),
    (
        C,
        "You need to understand that drinking every day damages your liver and raises your blood pressure. You should cut down to two drinks a day at most.",
    ),
    (CL, "Work is stressful though."),
    (
        C,
        "Stress is not an excuse. You should find another way to relax, like exercise or meditation, and you need to keep a diary of every drink.",
    ),
    (CL, "I guess."),
    (C, "Do you have alcohol at home?"),
    (CL, "A few bottles."),
    (
        C,
        "Then you need to remove them today. I recommend you ask your partner to support you and avoid bars completely for a month.",
    ),
    (CL, "Okay."),
    (C, "Is that clear?"),
    (CL, "Yes."),
    (
        C,
        "Good. You should also see a doctor about your liver enzymes and come back in two weeks with your diary.",
    ),
    (CL, "Fine, I will try, but I do not think it will change much."),
    (
        C,
        "It will if you follow the plan. Drinking less will lower your blood pressure within weeks, and you need to stop making excuses about work.",
    ),
    (CL, "My boss is the real problem, not the beer."),
    (
        C,
        "You cannot change your boss. You have to change your habits. I suggest you join a support group this week.",
    ),
    (CL, "I do not have time for that."),
    (
        C,
        "Then make time. Your health is more important than your job. Will you promise me you will go?",
    ),
    (CL, "I said I would try."),
]


def session(script: Sequence[tuple[str, str]]) -> SessionMetrics:
    """Turns and words laid end to end, one word every ``WORD_S`` seconds, 0.5 s between turns."""
    t = 0.0
    turns, utterances = [], []
    for role, text in script:
        words = []
        for token in text.split():
            words.append(SpeakerWord(t, t + WORD_S, token, 0.9, role))
            t += WORD_S
        utterances.append(Utterance(words[0].start, words[-1].end, role, tuple(words)))
        turns.append(Turn(words[0].start, words[-1].end, role))
        t += 0.5
    return compute_metrics(turns, utterances, duration_s=t)


def test_good_session_with_a_talkative_counselor_is_not_no() -> None:
    metrics = session(GOOD)
    assert 0.40 <= metrics.client.share <= 0.50
    evidence = evaluate(metrics, role_confidence=0.9)
    assert evidence.client_led != "no"
    assert evidence.score is not None and evidence.score >= 0.6


def test_good_and_poor_sessions_get_clearly_different_scores() -> None:
    good = evaluate(session(GOOD), role_confidence=0.9)
    poor = evaluate(session(POOR), role_confidence=0.9)
    assert good.score is not None and poor.score is not None
    assert good.score - poor.score >= 0.5
    assert poor.client_led == "no"
    assert poor.score_band == "low"
