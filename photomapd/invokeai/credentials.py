"""Secrets (the InvokeAI password): the OS keyring, or a 0600 file when there is no keyring.

The fallback file lives in the config folder and comes with a `warning` the settings panel
shows, so nobody believes the password is encrypted when it is not. Values are never logged,
returned by the API or written to the config file. keyring calls may block (D-Bus), so async
callers run these methods in a thread.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail, null

log = logging.getLogger(__name__)

SERVICE = "photomapd"
FALLBACK_FILE = "secrets.json"


def _usable(backend: keyring.backend.KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    chained = getattr(backend, "backends", None)
    if chained is not None:  # ChainerBackend: usable if anything real is in the chain
        return any(_usable(b) for b in chained)
    return True


class CredentialStore:
    def __init__(
        self, config_dir: Path, backend: keyring.backend.KeyringBackend | None = None
    ) -> None:
        self.config_dir = Path(config_dir)
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._use_keyring = _usable(self._backend)
        if not self._use_keyring:
            log.info("no usable keyring backend (%s); using a 0600 file", type(self._backend))

    @property
    def fallback_path(self) -> Path:
        return self.config_dir / FALLBACK_FILE

    @property
    def warning(self) -> str | None:
        """What the UI shows next to a stored password; None when the keyring holds it."""
        return self.storage_warning(stored=True)

    def storage_warning(self, stored: bool) -> str | None:
        """The warning for the settings panel, worded for whether a password is stored yet."""
        if self._use_keyring:
            return None
        where = (
            f"the password is stored in {self.fallback_path}"
            if stored
            else f"a password you enter will be stored in {self.fallback_path}"
        )
        return (
            f"No system keyring is available, so {where} (readable only by your user account, "
            "but not encrypted). Install a keyring service such as GNOME Keyring or KWallet to "
            "keep it encrypted."
        )

    @property
    def backend_name(self) -> str:
        return "file" if not self._use_keyring else type(self._backend).__name__

    def get(self, account: str) -> str | None:
        if self._use_keyring:
            try:
                value = self._backend.get_password(SERVICE, account)
            except keyring.errors.KeyringError as exc:
                self._fall_back(exc)
            else:
                if value is not None:
                    return value
        # Also after a restart with a keyring that failed before: the value is in the file.
        return self._read_file().get(account)

    def set(self, account: str, secret: str) -> None:
        if self._use_keyring:
            try:
                self._backend.set_password(SERVICE, account, secret)
                # Some backends (an empty chain) accept the write and keep nothing.
                if self._backend.get_password(SERVICE, account) == secret:
                    return
                self._fall_back(keyring.errors.KeyringError("value did not persist"))
            except keyring.errors.KeyringError as exc:
                self._fall_back(exc)
        values = self._read_file()
        values[account] = secret
        self._write_file(values)

    def delete(self, account: str) -> None:
        if self._use_keyring:
            try:
                self._backend.delete_password(SERVICE, account)
            except keyring.errors.PasswordDeleteError:
                pass  # nothing stored: already in the wanted state
            except keyring.errors.KeyringError as exc:
                self._fall_back(exc)
            else:
                return
        values = self._read_file()
        if values.pop(account, None) is not None:
            self._write_file(values)

    def has(self, account: str) -> bool:
        return bool(self.get(account))

    def _fall_back(self, exc: Exception) -> None:
        # A locked or absent Secret Service raises here although a backend was found.
        log.warning("keyring failed (%s); storing secrets in a 0600 file", type(exc).__name__)
        self._use_keyring = False

    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self.fallback_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.fallback_path, type(exc).__name__)
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def _write_file(self, values: dict[str, str]) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.fallback_path.with_suffix(".tmp")
        # Created 0600 from the first byte: never a moment where others could read it.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.fallback_path)
