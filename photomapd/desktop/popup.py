"""A right-click menu for plain X11 tray hosts, drawn with Tk.

pystray's X11 backend (used when PyGObject is absent, as in a pip/venv install) has no menu at
all, so the tray's menu entries would be unreachable. Tk ships with most Pythons; it runs here
on its own thread, and every Tk call happens on that thread (requests arrive through a queue).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PopupEntry:
    """A row as the popup needs it; `underline` marks the key that picks it."""

    label: str
    action: Callable[[], None] | None
    checked: bool | None = None
    underline: int = -1


class TkPopupMenu:
    def __init__(self, entries: Callable[[], Sequence[PopupEntry | None]]) -> None:
        self.entries = entries
        self._requests: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.available = True
        self._menu: Any = None
        self._variables: list[Any] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tray-popup", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def show(self, x: int, y: int) -> None:
        if self.available:
            self._requests.put((x, y))

    def stop(self) -> None:
        self._requests.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import tkinter

            root = tkinter.Tk(className="photomapd")
        except Exception as error:  # no tkinter module, or Tk cannot open the display
            self.available = False
            logger.warning("tray menu unavailable (%s); install Tk (python3-tk)", error)
            self._ready.set()
            return
        self._serve(tkinter, root)
        # Tcl objects must die on the thread that made them, not in a later GC on another one.
        del root
        gc.collect()

    def _serve(self, tkinter: Any, root: Any) -> None:
        root.withdraw()
        self._ready.set()

        def poll() -> None:
            try:
                while True:
                    request = self._requests.get_nowait()
                    if request is None:
                        root.quit()
                        return
                    self._popup(tkinter, root, *request)
            except queue.Empty:
                pass
            root.after(50, poll)

        root.after(50, poll)
        root.mainloop()
        self._menu = None
        self._variables.clear()
        root.destroy()

    def _popup(self, tkinter: Any, root: Any, x: int, y: int) -> None:
        # One menu widget, refilled per popup: a new one each time would leak a window.
        if self._menu is None:
            self._menu = tkinter.Menu(root, tearoff=0)
        menu = self._menu
        menu.delete(0, "end")
        self._variables.clear()
        for entry in self.entries():
            if entry is None:
                menu.add_separator()
                continue
            options = {
                "label": entry.label,
                "command": entry.action or (lambda: None),
                "state": "normal" if entry.action else "disabled",
                "underline": entry.underline,
            }
            if entry.checked is None:
                menu.add_command(**options)
            else:
                # Tk reads the tick from a variable, which must live as long as the menu shows.
                variable = tkinter.BooleanVar(root, value=entry.checked)
                self._variables.append(variable)
                menu.add_checkbutton(variable=variable, **options)
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()
