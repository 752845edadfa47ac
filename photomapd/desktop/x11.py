"""The plain-X11 side of the tray: is there a tray host, and pystray's X11 icon made usable.

pystray's X11 backend (what a pip/venv install gets without PyGObject) ignores clicks and has no
menu; `xorg_icon_class` adds left click = default action and right click = a Tk popup menu.
Imports Xlib lazily, never pystray (tray.py passes pystray's class in).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import queue
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)


def latin1(text: str) -> str:
    """X11 window names (the tooltip on plain X trays) are Latin-1."""
    return text.replace("—", "-").encode("latin-1", "replace").decode("latin-1")


def xorg_icon_class(base: type, popup: Callable[[int, int], None]) -> type:
    """pystray's X11 icon, listening for clicks: left opens the UI, right shows the menu.

    Upstream creates the window without ButtonPressMask, so even the default action never
    fires; the title goes into WM_NAME, which Xlib encodes as Latin-1.
    """
    import Xlib.display
    import Xlib.protocol.event
    import Xlib.X

    class XorgTrayIcon(base):  # type: ignore[misc, valid-type]
        HAS_MENU = False
        _title: str

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._message_handlers[Xlib.X.ButtonRelease] = self._on_button_release

        # -- calls from other threads -------------------------------------------------------
        # Upstream sends its "run this on the X thread" message over the X thread's own
        # connection, from the calling thread. python-xlib then lets that thread read replies
        # meant for the X thread, and both wait forever (seen as a hang on Quit). Here other
        # threads wake the X thread over a second connection and hand it the work in a queue.
        def _rewrite_implementation(self, *methods: Any) -> None:
            self._pending: queue.Queue[tuple[Callable[[], None], queue.Queue[Any]]] = queue.Queue()
            self._wake_atom = self._display.intern_atom("_PHOTOMAPD_TRAY_WAKE")
            self._wake_lock = threading.Lock()
            self._wake_display: Any = None
            self._loop_done = threading.Event()
            for method in methods:
                setattr(self, method.__name__, self._dispatcher(method))
            self._message_handlers[Xlib.X.ClientMessage] = self._on_client_message

        def _dispatcher(self, method: Callable[[], None]) -> Callable[[], None]:
            def dispatch() -> None:
                thread = getattr(self, "_thread", None)
                if thread is None or thread is threading.current_thread():
                    method()  # before the loop runs, or on the X thread itself
                    return
                reply: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)
                self._pending.put((method, reply))
                self._wake()
                while not self._loop_done.is_set():
                    with contextlib.suppress(queue.Empty):
                        error = reply.get(timeout=0.5)
                        if error is not None:
                            raise error
                        return

            return dispatch

        def _wake(self) -> None:
            with self._wake_lock:
                if self._loop_done.is_set():
                    return
                if self._wake_display is None:
                    self._wake_display = Xlib.display.Display(self._display.get_display_name())
                window = self._wake_display.create_resource_object("window", self._window.id)
                event = Xlib.protocol.event.ClientMessage(
                    window=window, client_type=self._wake_atom, data=(32, [0, 0, 0, 0, 0])
                )
                window.send_event(event, event_mask=0)  # goes to the window's creator
                self._wake_display.flush()

        def _on_client_message(self, event: Any) -> None:
            if event.client_type != self._wake_atom:
                return
            while True:
                try:
                    method, reply = self._pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    method()
                    reply.put(None)
                except BaseException as error:  # re-raised in the calling thread
                    reply.put(error)

        def _mainloop(self) -> None:
            try:
                super()._mainloop()
            finally:
                with self._wake_lock:
                    self._loop_done.set()
                    if self._wake_display is not None:
                        self._wake_display.close()

        def _create_window(self) -> Any:
            window = super()._create_window()
            window.change_attributes(
                event_mask=Xlib.X.ExposureMask
                | Xlib.X.StructureNotifyMask
                | Xlib.X.ButtonPressMask
                | Xlib.X.ButtonReleaseMask
            )
            return window

        def ensure_docked(self) -> None:
            """Ask again if the icon is not embedded yet: a tray host that has only just taken
            the tray selection may drop the first request. Safe to call from any thread."""
            self._show()

        def _show(self) -> None:
            # pystray routes _show to its X thread; every X call stays on that one thread.
            if self._window.query_tree().parent == self._display.screen().root:
                if self._systray_manager is not None:
                    logger.info("tray icon not docked yet; asking the tray host again")
                super()._show()

        def _on_button_press(self, event: Any) -> None:
            pass  # act on release: a menu posted while the button is down would eat the release

        def _on_button_release(self, event: Any) -> None:
            if event.detail == 1:
                self()
            elif event.detail == 3:
                popup(event.root_x, event.root_y)

        @property
        def title(self) -> str:
            return str(self._title)

        @title.setter
        def title(self, value: str) -> None:
            safe = latin1(value)
            if safe != self._title:
                self._title = safe
                if self.visible:
                    self._update_title()

    return XorgTrayIcon


def tray_available(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> tuple[bool, str]:
    """Whether a tray icon can be shown here, and if not why. Never imports pystray."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if importlib.util.find_spec("pystray") is None:
        return False, "pystray is not installed; pip install 'photomapd[tray]'"
    if platform in ("win32", "darwin"):
        return True, "native tray"
    display = env.get("DISPLAY")
    if not display:
        if env.get("WAYLAND_DISPLAY"):
            return False, "Wayland session without DISPLAY (XWayland); the tray needs X11"
        return False, "no DISPLAY: not a graphical session"
    ok, reason = _xembed_tray_owner(display)
    if ok or env.get("PYSTRAY_BACKEND") in ("xorg", "gtk"):
        return ok, reason
    if importlib.util.find_spec("gi") is not None:
        # pystray will use AppIndicator (StatusNotifierItem), which needs no XEMBED owner.
        return True, f"{reason}; using AppIndicator"
    return ok, reason


def _xembed_tray_owner(display: str) -> tuple[bool, str]:
    """An XEMBED tray host owns the `_NET_SYSTEM_TRAY_S<screen>` selection."""
    import Xlib.display
    import Xlib.X

    try:
        connection = Xlib.display.Display(display)
    except Exception as error:
        return False, f"cannot connect to display {display}: {error}"
    try:
        screen = connection.get_default_screen()
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{screen}")
        owner = connection.get_selection_owner(atom)
    finally:
        connection.close()
    if owner == Xlib.X.NONE:
        return (
            False,
            f"no system tray host on display {display} (no panel with a notification area)",
        )
    return True, f"system tray on display {display}"
