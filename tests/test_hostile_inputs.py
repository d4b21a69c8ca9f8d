"""Hostile and careless inputs: one clear line and a non-zero exit, or a valid result.

Never a traceback, never a partial output folder, never a file left behind.
Almost every case fails before any model loads or Prefect starts, so the
suite runs in seconds; the cases that need a model run are marked slow.
"""

from __future__ import annotations

import csv
import json
import math
import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cli.main import main
from pipeline.audio import format_duration, load_audio, probe_audio
from pipeline.document_check import (
    DocumentReadError,
    InconsistentDocumentError,
    check_document,
    document_problems,
    read_session_document,
)
from pipeline.errors import AudioError, CorruptAudioError, NotAudioError, TooLongError
from pipeline.outputs import write_outputs
from tests.conftest import tone, write_wav
from tests.report_example import example_document

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
CLI = [sys.executable, "-m", "cli.main"]
PREFIX = "session-analyzer: error: "


# ----------------------------------------------------------------------------- helpers


def riff_wav(
    path: Path,
    data: bytes,
    *,
    rate_hz: int = 16_000,
    channels: int = 1,
    bits: int = 16,
    audio_format: int = 1,
    declared_bytes: int | None = None,
) -> Path:
    """A WAV written byte by byte, so its header can say anything."""
    size = len(data) if declared_bytes is None else declared_bytes
    block = channels * bits // 8
    header = (
        b"RIFF"
        + struct.pack("<I", (36 + size) & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            audio_format,
            channels,
            rate_hz,
            (rate_hz * block) & 0xFFFFFFFF,
            block,
            bits,
        )
        + b"data"
        + struct.pack("<I", size & 0xFFFFFFFF)
    )
    path.write_bytes(header + data)
    return path


def pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_clear_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def run_cli(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------- lying headers, bad samples


@pytest.mark.parametrize("declared_s", [600.0, 5 * 3600.0])
def test_a_wav_header_that_declares_more_than_the_file_holds_is_truncated(
    tmp_path: Path, declared_s: float
) -> None:
    data = pcm16(tone(2.0))
    path = riff_wav(tmp_path / "lie.wav", data, declared_bytes=int(declared_s * 32_000))
    for check in (load_audio, probe_audio):
        with pytest.raises(CorruptAudioError) as error:
            check(path)
        assert str(error.value) == (
            f"lie.wav: file is truncated: only 2.0 s of the declared "
            f"{format_duration(declared_s)} can be decoded"
        )


def test_streaming_wav_headers_with_unknown_length_are_not_truncated(tmp_path: Path) -> None:
    data = pcm16(tone(2.0))
    for size in (0, 0xFFFFFFFF):
        path = riff_wav(tmp_path / f"stream{size}.wav", data, declared_bytes=size)
        assert load_audio(path).duration_s == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_float_wav_with_non_finite_samples_is_refused_at_decode_time(
    tmp_path: Path, bad: float
) -> None:
    samples = tone(3.0)
    samples[16_000] = bad
    path = riff_wav(
        tmp_path / "float.wav", samples.astype("<f4").tobytes(), bits=32, audio_format=3
    )
    started = time.monotonic()
    with pytest.raises(CorruptAudioError) as error:
        load_audio(path)
    assert time.monotonic() - started < 5
    assert str(error.value).startswith(
        "float.wav: audio data holds invalid samples (NaN or infinity) from 1.00 s on"
    )


def test_format_duration_is_exact_to_the_second() -> None:
    assert format_duration(4 * 3600 + 60) == "4 h 01 min 00 s"
    assert format_duration(4 * 3600) == "4 h 00 min 00 s"
    assert format_duration(4 * 3600 + 30) == "4 h 00 min 30 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(2.0) == "2.0 s"
    assert format_duration(42) == "42 s"


def test_four_hours_and_a_minute_is_reported_precisely(tmp_path: Path) -> None:
    """A real 4 h 01 min file (8-bit at 100 Hz keeps it at 1.4 MB) over the 4-hour limit."""
    seconds = 4 * 3600 + 60
    data = (128 + 40 * np.sin(np.arange(seconds * 100) * 0.5)).astype(np.uint8).tobytes()
    path = riff_wav(tmp_path / "long session.wav", data, rate_hz=100, bits=8)
    with pytest.raises(TooLongError) as error:
        probe_audio(path, max_duration_s=4 * 3600.0)
    assert str(error.value) == (
        "long session.wav: recording lasts 4 h 01 min 00 s, over the limit of "
        "4 h 00 min 00 s; split it or raise --max-duration-s"
    )


# ---------------------------------------------------------------- what the path names


def test_a_directory_a_fifo_and_a_device_say_what_they_are(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    cases = {
        folder: f"{folder}: is a folder, not a recording file",
        fifo: f"{fifo}: is a named pipe (FIFO), not a recording file",
        Path("/dev/zero"): "/dev/zero: is a character device, not a recording file",
        Path("/dev/null"): "/dev/null: is a character device, not a recording file",
        tmp_path / "missing.wav": f"{tmp_path / 'missing.wav'}: no such file",
        tmp_path / "missing" / "x.wav": f"{tmp_path / 'missing' / 'x.wav'}: no such file",
    }
    for path, message in cases.items():
        for check in (load_audio, probe_audio):
            with pytest.raises(AudioError) as error:
                check(path)
            assert str(error.value) == message


@pytest.mark.parametrize(
    "name",
    [
        "take2:final.wav",
        "concat:a.wav|b.wav",
        "subfile:,,start,0,end,0,,:x.wav",
        "http:example.wav",
        "file:x.wav",
        "-rf.wav",
        "spaces  and\ttab.wav",
        "new\nline.wav",
        "quote'\"`$(x).wav",
        "percent%20?#&;.wav",
        "ünïcødé 会话 جلسة.wav",
        "emoji 🎙️.wav",
        "\u202eevil\u202c.wav",
        "zero\u200bwidth.wav",
        "x" * 250 + ".wav",
    ],
)
def test_file_names_of_every_kind_are_read_as_local_files(tmp_path: Path, name: str) -> None:
    path = write_wav(tmp_path / name, tone(1.5))
    audio = load_audio(path)
    assert audio.duration_s == pytest.approx(1.5, abs=0.01)
    assert audio.info.path == str(path)


def test_a_protocol_like_name_never_reaches_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``concat:a|b`` must not splice two other files: it names one local file or none."""
    write_wav(tmp_path / "a.wav", tone(2.0))
    write_wav(tmp_path / "b.wav", tone(2.0))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AudioError, match="no such file"):
        load_audio("concat:a.wav|b.wav")


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.wav", b"", "file is empty (0 bytes)"),
        ("one.wav", b"R", "not a recognised audio or video file"),
        ("text.mp3", b"hello, this is not audio\n" * 40, "not a recognised audio or video file"),
        ("random.m4a", bytes(range(256)) * 64, "not a recognised audio or video file"),
        ("png.wav", b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000, "file has no audio stream"),
        ("zip.ogg", b"PK\x03\x04" + b"\x00" * 2000, "not a recognised audio or video file"),
    ],
)
def test_odd_bytes_are_one_clear_error(
    tmp_path: Path, name: str, content: bytes, error: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as raised:
        load_audio(path)
    assert str(raised.value).startswith(f"{name}: {error}")


def test_a_header_without_data_is_one_clear_error(tmp_path: Path) -> None:
    path = riff_wav(tmp_path / "header.wav", b"")
    with pytest.raises(AudioError) as raised:
        load_audio(path)
    assert str(raised.value).startswith("header.wav: ")


def test_sample_rates_too_low_for_speech_are_refused(tmp_path: Path) -> None:
    path = riff_wav(tmp_path / "low.wav", pcm16(tone(3.0, sample_rate_hz=1000)), rate_hz=1000)
    with pytest.raises(NotAudioError) as raised:
        probe_audio(path)
    assert str(raised.value) == (
        "low.wav: the sample rate of 1000 Hz is too low to hold speech (at least 4000 Hz is needed)"
    )


@pytest.mark.parametrize("rate_hz", [1, 8, 100, 3_999, 4_000, 8_000, 11_025, 192_000, 384_000])
def test_tiny_and_huge_sample_rates_decode_or_fail_clearly(tmp_path: Path, rate_hz: int) -> None:
    seconds = 3.0
    n = max(int(seconds * rate_hz), 1)
    samples = (0.3 * np.sin(2 * np.pi * min(50, rate_hz / 4) * np.arange(n) / rate_hz)).astype(
        np.float32
    )
    path = riff_wav(tmp_path / f"r{rate_hz}.wav", pcm16(samples), rate_hz=rate_hz)
    try:
        audio = load_audio(path)
    except AudioError as error:
        assert str(error).startswith(f"r{rate_hz}.wav: ")
    else:
        assert audio.duration_s == pytest.approx(seconds, abs=0.1)
        assert np.isfinite(audio.samples).all()


@pytest.mark.parametrize("rate_hz", [0, 2**31 - 1, 2**32 - 1])
def test_impossible_sample_rates_in_a_header_fail_clearly(tmp_path: Path, rate_hz: int) -> None:
    path = riff_wav(tmp_path / "rate.wav", pcm16(tone(1.0)), rate_hz=rate_hz)
    with pytest.raises(AudioError) as raised:
        load_audio(path)
    assert str(raised.value).startswith("rate.wav: ")


@pytest.mark.parametrize("channels", [3, 6, 8, 16, 64])
def test_many_channels_decode_or_fail_clearly(tmp_path: Path, channels: int) -> None:
    signal_ = np.stack([tone(1.5, frequency_hz=200 + 10 * c) for c in range(channels)])
    data = pcm16(signal_.T.reshape(-1))
    path = riff_wav(tmp_path / "multi.wav", data, channels=channels)
    try:
        audio = load_audio(path)
    except AudioError as error:
        assert str(error).startswith("multi.wav: ")
    else:
        assert audio.duration_s == pytest.approx(1.5, abs=0.01)
        assert audio.samples.ndim == 1


def test_fixtures_of_bad_media_fail_with_their_name() -> None:
    for name, kind in (
        ("video_no_audio.mp4", NotAudioError),
        ("truncated.mp3", CorruptAudioError),
        ("not_audio.wav", NotAudioError),
    ):
        with pytest.raises(kind) as raised:
            load_audio(FIXTURES / name)
        assert str(raised.value).startswith(f"{name}: ")


# ---------------------------------------------------------------- the command line


GOOD = FIXTURES / "dialogue_client_led.wav"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--num-speakers", "0"], "--num-speakers must be between 1 and 20, not 0"),
        (["--num-speakers", "-2"], "--num-speakers must be between 1 and 20, not -2"),
        (["--num-speakers", "21"], "--num-speakers must be between 1 and 20, not 21"),
        (["--min-speakers", "3", "--max-speakers", "2"], "--min-speakers (3) is more than"),
        (["--max-speakers", "0"], "--max-speakers must be between 1 and 20, not 0"),
        (["--threads", "-1"], "--threads must be between 0 (all cores) and 1024, not -1"),
        (["--max-duration-s", "0"], "--max-duration-s must be between 1 and 86400 seconds"),
        (["--max-duration-s", "nan"], "--max-duration-s must be between 1 and 86400 seconds"),
        (["--max-duration-s", "inf"], "--max-duration-s must be between 1 and 86400 seconds"),
        (["--max-duration-s", "1e309"], "--max-duration-s must be between 1 and 86400 seconds"),
        (["--language", "xx"], "--language 'xx' is not a language code"),
        (["--model", "no-such-model"], "unknown transcription model 'no-such-model'"),
        (["--pipeline-dir", "/nonexistent"], "'/nonexistent' is not a pyannote pipeline"),
        (["--enroll", "/nonexistent.wav"], "/nonexistent.wav: no such file"),
        (
            ["--channels", "mix", "--counselor-channel", "left"],
            "--channels mix contradicts --counselor-channel left",
        ),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    code, _stdout, err = run_main(["analyze", str(GOOD), "--out", str(out), *extra], capsys)
    assert code == 2
    assert_one_clear_line(err, PREFIX, message)
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", str(GOOD), "--out", ""],
        ["analyze", str(GOOD), "--out", "   "],
        ["analyze", "", "--out", "x"],
        ["analyze", str(GOOD), "--out", "x", "--num-speakers", "two"],
        ["analyze", str(GOOD), "--out", "x", "--device", "tpu"],
        ["analyze", str(GOOD)],
        ["analyze", str(GOOD), "--out", "x", "--bogus"],
        ["rescore", ""],
        ["cohort", str(FIXTURES), "--out", ""],
        ["frobnicate"],
    ],
)
def test_a_bad_command_line_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert_one_clear_line(err, "error: ", "(see --help)")
    assert listing(tmp_path) == []


def test_out_that_is_a_file_or_under_a_file_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "report.txt"
    file.write_text("keep me")
    code, _, err = run_main(["analyze", str(GOOD), "--out", str(file)], capsys)
    assert code == 2
    assert_one_clear_line(err, f"--out {file}: is a file")
    code, _, err = run_main(["analyze", str(GOOD), "--out", str(file / "sub")], capsys)
    assert code == 2
    assert_one_clear_line(err, "cannot be created, because", "is a file, not a folder")
    code, _, err = run_main(["cohort", str(FIXTURES), "--out", str(file)], capsys)
    assert code == 2
    assert_one_clear_line(err, f"--out {file}: is a file")
    assert file.read_text() == "keep me"
    assert listing(tmp_path) == ["report.txt"]


def test_an_unwritable_out_is_found_before_the_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["analyze", str(GOOD), "--out", "/proc/session-out"], capsys)
    assert code == 2
    assert_one_clear_line(err, "--out /proc/session-out: cannot be written")


def test_a_read_only_file_system_is_found_before_the_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (not root?)")
    try:
        code, _, err = run_main(["analyze", str(GOOD), "--out", str(mount / "out")], capsys)
        assert code == 2
        assert_one_clear_line(err, f"--out {mount / 'out'}: cannot be written", "Read-only")
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.wav", "missing.wav: no such file"),
        (lambda d: d, "is a folder, not a recording file"),
        (lambda d: Path("/dev/zero"), "/dev/zero: is a character device"),
        (
            lambda d: riff_wav(d / "lie.wav", pcm16(tone(2.0)), declared_bytes=32_000 * 600),
            "lie.wav: file is truncated: only 2.0 s of the declared 10 min 00 s",
        ),
        (lambda d: empty_file(d / "e.wav"), "e.wav: file is empty"),
    ],
)
def test_bad_input_files_are_rejected_in_under_two_seconds(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    """Measured end to end in a fresh interpreter: no Prefect server, no model load."""
    audio = make(tmp_path)
    started = time.monotonic()
    done = run_cli(["analyze", str(audio), "--out", str(tmp_path / "out")], cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done.stderr, PREFIX, message)
    assert not (tmp_path / "out").exists()
    assert elapsed < 2.0 * (3 if os.environ.get("CI") else 1), elapsed


def test_a_bad_flag_is_rejected_in_under_two_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_cli(["analyze", str(GOOD), "--out", "x", "--num-speakers", "0"], cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    assert_one_clear_line(done.stderr, "--num-speakers must be between 1 and 20, not 0")
    assert elapsed < 2.0 * (3 if os.environ.get("CI") else 1), elapsed


# ------------------------------------------------------------------------ manifests


def test_manifest_rows_naming_urls_or_protocols_are_refused(tmp_path: Path) -> None:
    from flows.manifest import ManifestError, read_manifest

    write_wav(tmp_path / "ok.wav", tone(2.0))
    rows = [
        ["s1", "t1", "ok.wav", "", "", ""],
        ["s2", "t1", "http://example.org/a.wav", "", "", ""],
        ["s3", "t1", "concat:ok.wav|ok.wav", "", "", ""],
        ["s4", "t1", "subfile:,,start,0,end,100,,:ok.wav", "", "", ""],
        ["s5", "t1", "ok.wav", "", "", "https://example.org/voice.wav"],
    ]
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["session_id", "trainee_id", "audio_path", "cohort", "session_date", "counselor_hint"]
        )
        writer.writerows(rows)
    with pytest.raises(ManifestError) as raised:
        read_manifest(manifest)
    message = str(raised.value)
    for scheme in ("http:", "concat:", "subfile:", "https:"):
        assert f"({scheme}); only local files are read" in message
    assert "line 2" not in message  # the local file is fine


def test_a_manifest_row_with_more_fields_than_columns_is_a_clear_problem(tmp_path: Path) -> None:
    from flows.manifest import ManifestError, read_manifest

    write_wav(tmp_path / "ok.wav", tone(2.0))
    manifest = tmp_path / "m.csv"
    manifest.write_text("session_id,trainee_id,audio_path\ns1,t1,ok.wav,extra,more\n")
    with pytest.raises(ManifestError) as raised:
        read_manifest(manifest)
    assert "line 2: 2 more field(s) than the header has columns" in str(raised.value)


def test_a_local_file_whose_name_looks_like_a_protocol_is_accepted(tmp_path: Path) -> None:
    from flows.manifest import read_manifest

    write_wav(tmp_path / "take2:final.wav", tone(2.0))
    manifest = tmp_path / "m.csv"
    manifest.write_text("session_id,trainee_id,audio_path\ns1,t1,take2:final.wav\n")
    (spec,) = read_manifest(manifest)
    assert spec.audio_path == tmp_path / "take2:final.wav"


# -------------------------------------------------------------------------- rescore


def analyzed_folder(folder: Path) -> Path:
    write_outputs(example_document(), folder)
    return folder


def corrupt(folder: Path, change: Callable[[dict], None]) -> bytes:  # type: ignore[type-arg]
    document = json.loads((folder / "session.json").read_text("utf-8"))
    change(document)
    raw = json.dumps(document).encode()
    (folder / "session.json").write_bytes(raw)
    return raw


def test_rescore_of_a_missing_folder_or_missing_session_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["rescore", str(tmp_path / "nowhere")], capsys)
    assert code == 2
    assert_one_clear_line(err, f"{tmp_path / 'nowhere'}: no such folder")
    code, _, err = run_main(["rescore", str(tmp_path)], capsys)
    assert code == 2
    assert_one_clear_line(err, f"{tmp_path}: holds no session.json")
    (tmp_path / "session.json").mkdir()
    code, _, err = run_main(["rescore", str(tmp_path)], capsys)
    assert code == 2
    assert_one_clear_line(err, f"{tmp_path / 'session.json'}: is a folder, not a file")
    file = tmp_path / "plain.txt"
    file.write_text("x")
    code, _, err = run_main(["rescore", str(file)], capsys)
    assert code == 2
    assert_one_clear_line(err, f"{file}: is not a folder")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "is not valid JSON (line 1, column 1"),
        (b"{", "is not valid JSON"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"[1, 2]", "holds JSON, but not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{}", "session document is invalid"),
    ],
)
def test_rescore_of_unreadable_documents_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, message: str
) -> None:
    (tmp_path / "session.json").write_bytes(raw)
    code, _, err = run_main(["rescore", str(tmp_path), "--swap"], capsys)
    assert code == 2
    assert_one_clear_line(err, PREFIX, message)
    assert (tmp_path / "session.json").read_bytes() == raw
    assert listing(tmp_path) == ["session.json"]


def _words_beyond(document: dict) -> None:  # type: ignore[type-arg]
    count = len(document["words"])
    document["utterances"][0]["word_range"] = [count + 10, count + 20]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["audio"].update(duration_s=0), "audio/duration_s is 0"),
        (lambda d: d["audio"].update(duration_s=-5.0), "audio/duration_s"),
        (lambda d: d["audio"].update(duration_s=math.nan), "audio/duration_s is nan"),
        (lambda d: d["audio"].update(duration_s=math.inf), "audio/duration_s is inf"),
        (_words_beyond, "utterances/0/word_range"),
        (lambda d: d["segments"][0].update(end=1e9), "segments/0 ends at 1e+09 s, after"),
        (lambda d: d["words"][3].update(start=-1.0), "words/3/start"),
        (lambda d: d["words"][3].update(start=math.nan), "words/3/start is nan"),
        (lambda d: d["utterances"][1].update(word_range=[0, 1]), "overlaps the one before"),
    ],
)
def test_rescore_refuses_documents_that_do_not_hold_together(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[dict], None],  # type: ignore[type-arg]
    message: str,
) -> None:
    folder = analyzed_folder(tmp_path / "out")
    before = {name: (folder / name).read_bytes() for name in listing(folder)}
    raw = corrupt(folder, change)
    code, _, err = run_main(["rescore", str(folder), "--swap"], capsys)
    assert code == 2
    assert_one_clear_line(err, PREFIX, f"{folder / 'session.json'}", message)
    assert (folder / "session.json").read_bytes() == raw
    for name, content in before.items():
        if name != "session.json":
            assert (folder / name).read_bytes() == content
    assert listing(folder) == sorted(before)


def test_document_problems_lists_every_problem_and_accepts_a_good_document() -> None:
    document = example_document()
    assert document_problems(document) == []
    check_document(document)
    document["audio"]["duration_s"] = 0
    document["words"][0]["end"] = math.inf
    problems = document_problems(document)
    assert "audio/duration_s is 0; a recording lasts more than 0 s" in problems
    assert "words/0/end is inf" in problems
    with pytest.raises(InconsistentDocumentError):
        check_document(document)
    assert document_problems([]) == ["the document is not a JSON object"]


def test_rescore_keeps_the_previous_document_as_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = analyzed_folder(tmp_path / "out")
    original = (folder / "session.json").read_bytes()
    code, _, err = run_main(["rescore", str(folder), "--swap"], capsys)
    assert code == 0, err
    assert (folder / "session.json.bak").read_bytes() == original
    swapped = read_session_document(folder)
    assert swapped["roles"]["counselor"] == json.loads(original)["roles"]["client"]
    assert not [name for name in listing(folder) if name.startswith(".")]


def test_rescore_on_a_full_disk_changes_nothing_and_leaves_nothing(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: writes past 4 KB fail with EFBIG."""
    folder = analyzed_folder(tmp_path / "out")
    before = {name: (folder / name).read_bytes() for name in listing(folder)}

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    done = subprocess.run(
        [*CLI, "rescore", str(folder), "--swap"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done.stderr, PREFIX, "File too large")
    assert {name: (folder / name).read_bytes() for name in listing(folder)} == before


def test_read_session_document_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(DocumentReadError):
        read_session_document(tmp_path / "nope")
    folder = analyzed_folder(tmp_path / "ok")
    assert read_session_document(folder)["schema_version"]


def test_status_of_an_interrupted_run_leaves_no_output_folder(tmp_path: Path) -> None:
    """A KeyboardInterrupt inside the analysis removes the folder the command created."""
    from cli.checks import removed_unless_finished

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), removed_unless_finished(out, existed=False):
        out.mkdir()
        (out / "transcript.srt").write_text("partial")
        raise KeyboardInterrupt
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(KeyboardInterrupt), removed_unless_finished(out, existed=True):
        raise KeyboardInterrupt
    assert (out / "keep.txt").read_text() == "mine"


def test_modes_of_written_status_files_are_owner_only(tmp_path: Path) -> None:
    from flows.status import write_status

    write_status(tmp_path, "queued", sha256="ab" * 32)
    mode = stat.S_IMODE((tmp_path / "status.json").stat().st_mode)
    assert mode == 0o600


# ----------------------------------------------------------------- with models (slow)


@pytest.mark.slow
def test_a_recording_with_a_protocol_like_name_is_analyzed(tmp_path: Path) -> None:
    audio = tmp_path / "take2:final ünï.wav"
    audio.write_bytes(GOOD.read_bytes())
    done = run_cli(
        ["analyze", str(audio), "--out", str(tmp_path / "out"), "--model", "tiny.en", "--quiet"],
        cwd=tmp_path,
        env={"SESSION_ANALYZER_DATA_DIR": str(tmp_path / "data")},
        timeout_s=900,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "torchcodec" not in done.stderr and "UserWarning" not in done.stderr
    assert (tmp_path / "out" / "session.json").is_file()
    assert not [p for p in listing(tmp_path / "out") if p.startswith(".")]
