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
from typing import TYPE_CHECKING, Any

import platformdirs
import tomli_w

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

CONFIG_FILE_NAME = "config.toml"
DEFAULT_PORT = 8050
DEFAULT_HOST = "127.0.0.1"
ALBUM_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# "all" is the API's and the UI's pseudo-album of every album together.
RESERVED_ALBUM_KEYS = frozenset({"all"})


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
    # Symlinks whose target is outside every album folder are indexed (and served) only when
    # the album opts in: a link must not carry files from elsewhere on the disk into the gallery.
    follow_symlinks: bool = False

    def to_toml(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "folders": [str(folder) for folder in self.folders],
            "exclude": list(self.exclude),
        }
        if self.boards:
            document["boards"] = list(self.boards)
        if self.follow_symlinks:
            document["follow_symlinks"] = True
        return document

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> AlbumConfig:
        album = cls(
            key=str(raw["key"]),
            name=str(raw.get("name") or raw["key"]),
            folders=[Path(folder).expanduser() for folder in raw.get("folders", [])],
            exclude=[str(pattern) for pattern in raw.get("exclude", [])],
            boards=[str(board) for board in raw.get("boards", [])],
            follow_symlinks=_flag(raw.get("follow_symlinks", False)),
        )
        validate_album_key(album.key, new=False)
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
    # The host as config.toml has it. `--host`/PHOTOMAPD_HOST change `host` for this run only:
    # one `run --host 0.0.0.0` must not leave LAN mode on for every later start.
    saved_host: str = field(default=DEFAULT_HOST, compare=False, repr=False)

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

    def unique_key(self, key: str) -> str:
        """`key`, or `key-2`, `key-3`, ... when an album has it already."""
        candidate, number = key, 2
        while self.album(candidate):
            suffix = f"-{number}"
            candidate, number = key[: 64 - len(suffix)] + suffix, number + 1
        return candidate

    def ensure_dirs(self) -> None:
        for folder in (self.data_dir, self.cache_dir, self.thumbnails_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def save(self) -> None:
        """Write the TOML atomically so a crash never leaves half a config."""
        self.ensure_dirs()
        document: dict[str, Any] = {
            "server": {"host": self.saved_host, "port": self.port},
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
    if key in RESERVED_ALBUM_KEYS:
        return f"{key}-album"
    return key or "album"


def validate_album_key(key: str, new: bool = True) -> None:
    """A new key must not be reserved; one already in config.toml (from before "all" was
    reserved) is kept, so that start-up never fails over it."""
    if not isinstance(key, str) or not ALBUM_KEY_PATTERN.match(key):
        raise ConfigError(
            f"album key {key!r} is invalid: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if new and key in RESERVED_ALBUM_KEYS:
        raise ConfigError(
            f"album key {key!r} is reserved (GET /api/albums/{key}/images means every album); "
            "choose another key"
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


def load_config(data_dir: Path, environment: Mapping[str, str] | None = None) -> Config:
    """Read config.toml (if present) and apply PHOTOMAPD_* overrides from `environment`
    (default: this process's; `photomapd restart` reads the one the daemon was started with)."""
    config = Config(data_dir=data_dir)
    if config.config_path.exists():
        try:
            raw = tomllib.loads(config.config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{config.config_path} is not valid TOML ({error}); fix or delete it"
            ) from error
        try:
            _apply_document(config, raw)
        except ConfigError as error:
            raise ConfigError(f"{error}. The file: {config.config_path}") from error
    _apply_environment(config, os.environ if environment is None else environment)
    return config


def _apply_document(config: Config, raw: dict[str, Any]) -> None:
    """Apply config.toml; a value of the wrong type is a ConfigError naming the key."""
    server = _table(raw, "server")
    if "host" in server:
        config.host = config.saved_host = _value(server, "server", "host", _text)
    if "port" in server:
        config.port = _value(server, "server", "port", port_number)
    model = _table(raw, "model")
    for name in ("name", "pretrained", "device"):
        if name in model:
            setattr(config.model, name, _value(model, "model", name, _text))
    if "idle_unload_seconds" in model:
        config.model.idle_unload_seconds = _value(model, "model", "idle_unload_seconds", _seconds)
    if "worker_process" in model:
        config.model.worker_process = _value(model, "model", "worker_process", _flag)
    if "batch_size" in model:
        config.model.batch_size = max(0, _value(model, "model", "batch_size", _whole_number))
    albums = raw.get("albums", [])
    if not isinstance(albums, list) or not all(isinstance(album, dict) for album in albums):
        raise ConfigError("albums in config.toml must be [[albums]] tables; fix or delete them")
    config.albums = [_album(number, album) for number, album in enumerate(albums, 1)]
    keys = [album.key for album in config.albums]
    if duplicated := sorted({key for key in keys if keys.count(key) > 1}):
        raise ConfigError(
            f"album key {duplicated[0]!r} is used by more than one [[albums]] entry in "
            "config.toml; give each album its own key"
        )
    config.invokeai = dict(_table(raw, "invokeai"))
    if raw.get("invokeai_root"):
        config.invokeai_root = Path(_value(raw, "", "invokeai_root", _text))


def port_number(value: Any) -> int:
    """A TCP port from config, environment or command line; 0 = any free port (tests)."""
    number = _whole_number(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"a port is a whole number from 1 to 65535, not {number}")
    return number


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a whole number, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number of seconds, got {type(value).__name__}")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if not seconds >= 0:  # also refuses nan
        raise ValueError(f"expected a number of seconds >= 0, got {value!r}")
    return seconds


def _flag(value: Any) -> bool:
    # bool("false") is True: a quoted "false" must not turn the setting on.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def _text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"expected a text, got {type(value).__name__}")
    return str(value)


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"[{name}] in config.toml must be a table, not {type(table).__name__}; fix or delete it"
        )
    return table


def _value(table: dict[str, Any], section: str, name: str, convert: Any) -> Any:
    try:
        return convert(table[name])
    except (TypeError, ValueError) as error:
        key = f"{section}.{name}" if section else name
        raise ConfigError(
            f"{key} = {table[name]!r} in config.toml is invalid ({error}); "
            "fix the value or delete the line to use the default"
        ) from error


def _album(number: int, raw: dict[str, Any]) -> AlbumConfig:
    if not isinstance(raw.get("key"), str):
        raise ConfigError(
            f'album {number} in config.toml has no key; add key = "..." (lowercase letters, '
            "digits, '-' or '_') to it, or delete that [[albums]] entry"
        )
    for name in ("folders", "exclude", "boards"):
        if not isinstance(raw.get(name, []), list):
            raise ConfigError(
                f"album {raw['key']!r} in config.toml: {name} must be a list like "
                f'["..."]; fix it or delete that [[albums]] entry'
            )
    if not isinstance(raw.get("follow_symlinks", False), bool):
        raise ConfigError(
            f"album {raw['key']!r} in config.toml: follow_symlinks = "
            f"{raw['follow_symlinks']!r} is invalid; write follow_symlinks = true or false, or "
            "delete the line (links leading outside every album folder are then not followed)"
        )
    try:
        return AlbumConfig.from_toml(raw)
    except ConfigError as error:
        raise ConfigError(f"{error} (album {number} in config.toml)") from error


ENVIRONMENT_OVERRIDES: dict[str, tuple[str | None, str, Callable[[str], Any]]] = {
    "PHOTOMAPD_MODEL_NAME": ("model", "name", str),
    "PHOTOMAPD_MODEL_PRETRAINED": ("model", "pretrained", str),
    "PHOTOMAPD_MODEL_DEVICE": ("model", "device", str),
    "PHOTOMAPD_MODEL_IDLE_UNLOAD_SECONDS": ("model", "idle_unload_seconds", float),
    "PHOTOMAPD_HOST": (None, "host", str),
    "PHOTOMAPD_PORT": (None, "port", port_number),
    "PHOTOMAPD_TOKEN": (None, "token", str),
}


def _apply_environment(config: Config, environment: Mapping[str, str]) -> None:
    for variable, (section, attribute, convert) in ENVIRONMENT_OVERRIDES.items():
        value = environment.get(variable)
        if not value:
            continue
        target = config.model if section == "model" else config
        try:
            setattr(target, attribute, convert(value))
        except ValueError as error:
            raise ConfigError(f"{variable}={value!r} is invalid: {error}") from error
