"""One BLAS thread in the process, so that a recording gives the same words on any machine.

faster-whisper computes its log-mel features and aligns words with numpy.
With numpy's BLAS (OpenBLAS) on two threads instead of one, 3 of the 227
words of a held-out dialogue came out different; ``OPENBLAS_NUM_THREADS``
alone made the difference (Whisper's own threads, the speech detector and
the diarization gave the same result either way). So the same recording gave
other words, and sometimes another event count, on a machine with another
number of cores. One thread makes the transcript independent of the core
count, for 2-4 % more time in the two model stages side by side and no
measurable difference in a whole `analyze` run (docs/benchmarks.md, "Same
words on any number of cores").
"""

from __future__ import annotations


def single_threaded_blas() -> None:
    """Limit every BLAS library loaded so far (numpy's and scipy's OpenBLAS) to one thread.

    Process-wide and never restored: two sessions analyzed at once in one
    process would otherwise restore each other's limit mid-run. Both model
    stages call it before any work (:func:`pipeline.transcribe.transcribe`,
    :func:`pipeline.diarize.diarize`), so that a limit saved and restored
    around a clustering (scikit-learn's k-means does so) always saves one
    thread. Calling it again is harmless. torch and CTranslate2 keep their
    own thread settings.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
