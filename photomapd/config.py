"""Configuration: a TOML file in the data folder, overridden by PHOTOMAPD_* environment variables.

Owns paths (platformdirs), album definitions and validation. Never holds secrets: InvokeAI
passwords live in the OS keyring (see credentials.py).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

log = logging.getLogger(__name__)

CONFIG_FILE_NAME = "config.toml"
DEFAULT_PORT = 8050
DEFAULT_HOST = "127.0.0.1"
ALBUM_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and how to fix it."""


@dataclass
class ModelConfig:
    name: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    device: str = "auto"
    idle_unload_seconds: float = 120.0
    batch_size: int = 0  # 0 = automatic: 16 on a CPU, 64 on a GPU
    worker_process: bool = True


@dataclass
class AlbumConfig:
    key: str
    name: str
    folders: list[Path]
    exclude: list[str] = field(default_factory=list)
    # InvokeAI board ids ("none" = Uncategorized): the album holds those boards' images, read
    # from InvokeAI's own database instead of walking `folders`.
    boards: list[str] = field(default_factory=list)

    def to_toml(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "folders": [str(folder) for folder in self.folders],
            "exclude": list(self.exclude),
        }
        if self.boards:
            document["boards"] = list(self.boards)
        return document

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> AlbumConfig:
        album = cls(
            key=str(raw["key"]),
            name=str(raw.get("name") or raw["key"]),
            folders=[Path(folder).expanduser() for folder in raw.get("folders", [])],
            exclude=[str(pattern) for pattern in raw.get("exclude", [])],
            boards=[str(board) for board in raw.get("boards", [])],
        )
        validate_album_key(album.key)
        return album


@dataclass
class Config:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    albums: list[AlbumConfig] = field(default_factory=list)
    invokeai: dict[str, Any] = field(default_factory=dict)
    invokeai_root: Path | None = None

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    @property
    def database_path(self) -> Path:
        return self.data_dir / "photomapd.sqlite3"

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / "vectors.usearch"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def thumbnails_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def album(self, key: str) -> AlbumConfig | None:
        return next((album for album in self.albums if album.key == key), None)

    def ensure_dirs(self) -> None:
        for folder in (self.data_dir, self.cache_dir, self.thumbnails_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def save(self) -> None:
        """Write the TOML atomically so a crash never leaves half a config."""
        self.ensure_dirs()
        document: dict[str, Any] = {
            "server": {"host": self.host, "port": self.port},
            "model": asdict(self.model),
            "albums": [album.to_toml() for album in self.albums],
        }
        if self.invokeai:
            document["invokeai"] = self.invokeai
        if self.invokeai_root:
            document["invokeai_root"] = str(self.invokeai_root)
        temporary = self.config_path.with_suffix(".toml.tmp")
        temporary.write_text(tomli_w.dumps(document), encoding="utf-8")
        os.replace(temporary, self.config_path)


class AlbumError(Exception):
    """An album operation cannot be done; `code` is stable for the API, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def key_from_name(name: str) -> str:
    key = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:64]
    return key or "album"


def validate_album_key(key: str) -> None:
    if not ALBUM_KEY_PATTERN.match(key):
        raise ConfigError(
            f"album key {key!r} is invalid: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("photomapd", appauthor=False))


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get("PHOTOMAPD_DATA_DIR")
    if from_env:
        return Path(from_env).expanduser().resolve()
    return default_data_dir()


def load_config(data_dir: Path) -> Config:
    """Read config.toml (if present) and apply PHOTOMAPD_* overrides."""
    config = Config(data_dir=data_dir)
    if config.config_path.exists():
        try:
            raw = tomllib.loads(config.config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{config.config_path} is not valid TOML ({error}); fix or delete it"
            ) from error
        _apply_document(config, raw)
    _apply_environment(config, os.environ)
    return config


def _apply_document(config: Config, raw: dict[str, Any]) -> None:
    server = raw.get("server", {})
    config.host = str(server.get("host", config.host))
    config.port = int(server.get("port", config.port))
    model = raw.get("model", {})
    for name in ("name", "pretrained", "device"):
        if name in model:
            setattr(config.model, name, str(model[name]))
    if "idle_unload_seconds" in model:
        config.model.idle_unload_seconds = float(model["idle_unload_seconds"])
    if "worker_process" in model:
        config.model.worker_process = bool(model["worker_process"])
    if "batch_size" in model:
        config.model.batch_size = max(0, int(model["batch_size"]))
    config.albums = [AlbumConfig.from_toml(album) for album in raw.get("albums", [])]
    config.invokeai = dict(raw.get("invokeai", {}))
    if raw.get("invokeai_root"):
        config.invokeai_root = Path(raw["invokeai_root"])


ENVIRONMENT_OVERRIDES = {
    "PHOTOMAPD_MODEL_NAME": ("model", "name", str),
    "PHOTOMAPD_MODEL_PRETRAINED": ("model", "pretrained", str),
    "PHOTOMAPD_MODEL_DEVICE": ("model", "device", str),
    "PHOTOMAPD_MODEL_IDLE_UNLOAD_SECONDS": ("model", "idle_unload_seconds", float),
    "PHOTOMAPD_HOST": (None, "host", str),
    "PHOTOMAPD_PORT": (None, "port", int),
    "PHOTOMAPD_TOKEN": (None, "token", str),
}


def _apply_environment(config: Config, environment: os._Environ[str] | dict[str, str]) -> None:
    for variable, (section, attribute, convert) in ENVIRONMENT_OVERRIDES.items():
        value = environment.get(variable)
        if not value:
            continue
        target = config.model if section == "model" else config
        try:
            setattr(target, attribute, convert(value))
        except ValueError as error:
            raise ConfigError(f"{variable}={value!r} is invalid: {error}") from error
