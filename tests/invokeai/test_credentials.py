"""Password storage: keyring when usable, else a 0600 file plus a visible warning."""

from __future__ import annotations

import logging
import stat

import keyring.backend
import keyring.errors
from keyring.backends import fail, null

from photomapd.invokeai.credentials import CredentialStore

SECRET = "s3cret-Pa55"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real KeyringBackend holding values in memory (the OS edge we cannot run here)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        if self.values.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


class LockedKeyring(MemoryKeyring):
    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("collection is locked")

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")


def test_keyring_backend_is_used(tmp_path) -> None:
    backend = MemoryKeyring()
    store = CredentialStore(tmp_path, backend)
    store.set("invokeai", SECRET)
    assert backend.values[("photomapd", "invokeai")] == SECRET
    assert store.get("invokeai") == SECRET and store.has("invokeai")
    assert store.warning is None
    assert not (tmp_path / "secrets.json").exists()
    store.delete("invokeai")
    store.delete("invokeai")  # deleting twice is fine
    assert store.get("invokeai") is None


def test_fail_and_null_backends_fall_back_to_a_0600_file(tmp_path) -> None:
    for backend in (fail.Keyring(), null.Keyring()):
        folder = tmp_path / type(backend).__module__
        store = CredentialStore(folder, backend)
        store.set("invokeai", SECRET)
        path = folder / "secrets.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert store.get("invokeai") == SECRET
        assert str(path) in store.warning and "not encrypted" in store.warning
        assert "the password is stored in" in store.warning
        assert "a password you enter will be stored in" in store.storage_warning(stored=False)
        # A new store (daemon restart) reads it back.
        assert CredentialStore(folder, backend).get("invokeai") == SECRET
        store.delete("invokeai")
        assert store.get("invokeai") is None


def test_locked_keyring_falls_back_with_warning(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store = CredentialStore(tmp_path, LockedKeyring())
    assert store.warning is None
    store.set("invokeai", SECRET)
    assert store.warning is not None
    assert store.get("invokeai") == SECRET
    assert SECRET not in caplog.text


def test_corrupt_file_is_ignored_not_fatal(tmp_path) -> None:
    (tmp_path / "secrets.json").write_text("{not json")
    store = CredentialStore(tmp_path, fail.Keyring())
    assert store.get("invokeai") is None
    store.set("invokeai", SECRET)
    assert store.get("invokeai") == SECRET


class ForgetfulKeyring(MemoryKeyring):
    """Accepts writes and keeps nothing, like keyring's chain with no backend in it."""

    def set_password(self, service, username, password):
        pass


def test_keyring_that_keeps_nothing_falls_back(tmp_path) -> None:
    store = CredentialStore(tmp_path, ForgetfulKeyring())
    store.set("invokeai", SECRET)
    assert store.get("invokeai") == SECRET
    assert store.warning is not None and store.backend_name == "file"
    # After a restart the keyring looks usable again; the value is still found (in the file).
    assert CredentialStore(tmp_path, ForgetfulKeyring()).get("invokeai") == SECRET
