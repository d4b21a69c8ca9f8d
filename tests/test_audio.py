"""Decoding every common format, and one clear rejection per kind of bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.audio import channel_correlation, downmix, file_sha256, is_silent, load_audio
from pipeline.errors import (
    AudioError,
    CorruptAudioError,
    EmptyFileError,
    NotAudioError,
    SilentAudioError,
    TooLongError,
    TooShortError,
)
from tests.conftest import tone, write_wav


def _write(
    container: av.container.OutputContainer,
    stream: av.AudioStream,
    planar: npt.NDArray[np.float32],
    *,
    rate: int,
    layout: str,
) -> None:
    """Encode ``(channels, n)`` float samples into ``stream`` and mux them."""
    frame_size = 1024
    for start in range(0, planar.shape[1], frame_size):
        chunk = np.ascontiguousarray(planar[:, start : start + frame_size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def encode(path: Path, samples: npt.NDArray[np.float32], *, codec: str, rate: int = 48_000) -> Path:
    """Encode a mono or ``(2, n)`` stereo signal with PyAV into ``path``'s container."""
    layout = "stereo" if samples.ndim == 2 else "mono"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        _write(
            container, stream, np.atleast_2d(samples).astype(np.float32), rate=rate, layout=layout
        )
    return path


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("a.mp3", "libmp3lame"),
        ("a.m4a", "aac"),
        ("a.flac", "flac"),
        ("a.webm", "libopus"),
        ("a.ogg", "libopus"),
    ],
)
def test_common_formats_decode_to_16k_mono(tmp_path: Path, name: str, codec: str) -> None:
    path = encode(tmp_path / name, tone(3.0, sample_rate_hz=48_000), codec=codec)
    audio = load_audio(path)
    assert audio.info.original_sample_rate_hz == 48_000
    assert audio.info.channels == 1
    assert audio.samples.dtype == np.float32
    assert audio.duration_s == pytest.approx(3.0, abs=0.1)
    assert audio.info.sha256 == file_sha256(path)


def test_wav_keeps_exact_samples_and_metadata(tmp_path: Path) -> None:
    signal = tone(2.0)
    path = write_wav(tmp_path / "a.wav", signal)
    audio = load_audio(path)
    assert audio.info.duration_s == 2.0
    assert audio.info.codec == "pcm_s16le"
    np.testing.assert_allclose(audio.samples, signal, atol=1e-4)


def test_stereo_channels_are_kept_and_mixed(tmp_path: Path) -> None:
    left, right = tone(2.0, frequency_hz=200), np.zeros(32_000, dtype=np.float32)
    path = write_wav(tmp_path / "s.wav", np.stack([left, right]))
    audio = load_audio(path)
    assert audio.info.channels == 2
    assert audio.channel_samples.shape == (2, 32_000)
    np.testing.assert_allclose(audio.channel_samples[0], left, atol=1e-4)
    np.testing.assert_allclose(audio.channel_samples[1], 0.0, atol=1e-4)
    np.testing.assert_allclose(audio.samples, left / 2, atol=1e-4)


def test_stereo_in_opposite_polarity_mixes_to_the_sound_not_to_silence(tmp_path: Path) -> None:
    """A miswired line or a "widened" export: the right channel is the left inverted."""
    voice = tone(2.0, frequency_hz=200)
    path = write_wav(tmp_path / "inverted.wav", np.stack([voice, -voice]))
    audio = load_audio(path)  # the plain mean is silence and was rejected as such
    np.testing.assert_allclose(audio.samples, voice, atol=1e-4)
    assert not is_silent(audio.samples)


def test_downmix_exact_values() -> None:
    left = np.array([1.0, -1.0, 1.0, -1.0], dtype=np.float32)
    right = np.array([0.5, 0.5, -0.5, -0.5], dtype=np.float32)  # uncorrelated with left
    np.testing.assert_array_equal(downmix(np.stack([left, right])), [0.75, -0.25, 0.25, -0.75])
    # opposite polarity: flipped, then averaged
    np.testing.assert_array_equal(
        downmix(np.stack([left, -0.5 * left])), [0.75, -0.75, 0.75, -0.75]
    )
    # a mono recording's mix is its channel itself, not a copy
    mono = left[None]
    assert np.shares_memory(downmix(mono), mono)
    assert channel_correlation(left, right) == 0.0
    assert channel_correlation(left, -left) == pytest.approx(-1.0)
    assert channel_correlation(left, np.zeros(4, dtype=np.float32)) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=4),
    st.integers(min_value=0, max_value=2**31 - 1),
    st.data(),
)
def test_downmix_is_the_mean_unless_a_channel_is_inverted(
    channels: int, seed: int, data: st.DataObject
) -> None:
    rng = np.random.default_rng(seed)
    samples = rng.normal(size=(channels, 400)).astype(np.float32)
    # independent noise channels correlate far above -0.5: the plain mean
    np.testing.assert_allclose(downmix(samples), samples.mean(axis=0), atol=1e-6)
    # a channel replaced by a quieter inverted copy of another is flipped back
    source = data.draw(st.integers(0, channels - 1))
    target = data.draw(st.integers(0, channels - 1).filter(lambda k: k != source))
    samples[source] *= 3.0  # the loudest channel is the reference
    samples[target] = -0.5 * samples[source]
    flipped = downmix(samples)
    signs = np.ones(channels, dtype=np.float32)
    signs[target] = -1.0
    np.testing.assert_allclose(flipped, (signs[:, None] * samples).mean(axis=0), atol=1e-5)


def test_downmix_judges_polarity_against_the_loudest_channel() -> None:
    """A silent or hiss-only first channel must not hide two inverted copies of the voice."""
    voice = tone(1.0, frequency_hz=200)
    quiet = np.zeros_like(voice)
    mixed = downmix(np.stack([quiet, voice, -voice]))
    np.testing.assert_allclose(mixed, 2 * voice / 3, atol=1e-6)


def tracks(path: Path, signals: list[npt.NDArray[np.float32]], rate: int = 16_000) -> Path:
    """A Matroska file with one mono PCM audio stream per signal (a multi-track recording)."""
    with av.open(str(path), "w") as container:
        streams = [container.add_stream("pcm_s16le", rate=rate, layout="mono") for _ in signals]
        for stream, signal in zip(streams, signals, strict=True):
            assert isinstance(stream, av.AudioStream)
            _write(container, stream, signal[None].astype(np.float32), rate=rate, layout="mono")
    return path


def test_a_silent_first_track_gives_way_to_the_next_one_with_sound(tmp_path: Path) -> None:
    """OBS-style recordings: track 1 silent (an unused input), the session on track 2."""
    voice = tone(2.0, frequency_hz=200)
    audio = load_audio(tracks(tmp_path / "t.mka", [np.zeros_like(voice), voice]))
    np.testing.assert_allclose(audio.samples, voice, atol=1e-3)
    # a first track with sound is used, as before
    first = load_audio(tracks(tmp_path / "u.mka", [voice, np.zeros_like(voice)]))
    np.testing.assert_allclose(first.samples, voice, atol=1e-3)


def test_all_tracks_silent_is_one_clear_line(tmp_path: Path) -> None:
    silent = np.zeros(32_000, dtype=np.float32)
    with pytest.raises(SilentAudioError, match=r"t\.mka: .* in any of its 3 audio streams\)$"):
        load_audio(tracks(tmp_path / "t.mka", [silent, silent, silent[:8_000]]))


def test_resampling_from_44k1(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone(2.0, sample_rate_hz=44_100), 44_100)
    audio = load_audio(path)
    assert audio.info.original_sample_rate_hz == 44_100
    assert abs(audio.samples.shape[0] - 32_000) <= 16


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(EmptyFileError, match="file is empty"):
        load_audio(tmp_path / "e.wav")


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("Session notes, not a recording.\n" * 20)
    with pytest.raises(NotAudioError, match="not a recognised audio or video file"):
        load_audio(tmp_path / "notes.wav")


def test_too_short(tmp_path: Path) -> None:
    with pytest.raises(TooShortError, match=r"lasts 0\.50 s; at least 1 s"):
        load_audio(write_wav(tmp_path / "s.wav", tone(0.5)))


def test_too_long_is_rejected_from_the_header(tmp_path: Path) -> None:
    with pytest.raises(TooLongError, match="over the limit"):
        load_audio(write_wav(tmp_path / "l.wav", tone(5.0)), max_duration_s=4.0)


def test_silence(tmp_path: Path) -> None:
    with pytest.raises(SilentAudioError, match="recording is silent"):
        load_audio(write_wav(tmp_path / "z.wav", np.zeros(48_000, dtype=np.float32)))


def test_quiet_but_audible_speech_level_is_not_silence() -> None:
    assert not is_silent(tone(1.0, level=0.01))  # -43 dBFS peak
    assert is_silent(tone(1.0, level=0.0005))  # -69 dBFS


def test_truncated_mp3(tmp_path: Path) -> None:
    full = encode(tmp_path / "full.mp3", tone(20.0, sample_rate_hz=48_000), codec="libmp3lame")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 5])
    with pytest.raises(CorruptAudioError, match="truncated"):
        load_audio(cut)


def test_garbage_after_a_wav_header(tmp_path: Path) -> None:
    header = write_wav(tmp_path / "h.wav", tone(3.0)).read_bytes()[:44]
    rng = np.random.default_rng(0)
    (tmp_path / "bad.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + rng.bytes(4000))
    (tmp_path / "bad.wav").write_bytes(header[:20] + rng.bytes(2000))
    for name in ("bad.m4a", "bad.wav"):
        with pytest.raises((NotAudioError, CorruptAudioError)):
            load_audio(tmp_path / name)


FIXTURE_FILES = {
    "empty.wav": EmptyFileError,
    "not_audio.wav": NotAudioError,
    "video_no_audio.mp4": NotAudioError,
    "truncated.mp3": CorruptAudioError,
    "corrupt.wav": (NotAudioError, CorruptAudioError),
    "too_short.wav": TooShortError,
    "silence.wav": SilentAudioError,
}


@pytest.mark.parametrize(("name", "error"), FIXTURE_FILES.items())
def test_committed_bad_fixtures_are_rejected(
    fixtures: Path, name: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        load_audio(fixtures / name)


@pytest.mark.parametrize(
    ("name", "channels"),
    [
        ("dialogue_client_led.wav", 1),
        ("dialogue_client_led.mp3", 1),
        ("dialogue_client_led.ogg", 1),
        ("dialogue_stereo.wav", 2),
        ("video_with_audio.mp4", 1),
    ],
)
def test_committed_speech_fixtures_decode(fixtures: Path, name: str, channels: int) -> None:
    audio = load_audio(fixtures / name)
    assert audio.info.channels == channels
    assert audio.duration_s > 10
