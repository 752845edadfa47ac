"""Events the daemon publishes and their fan-out to connected browsers.

Each subscriber gets a bounded queue: a slow browser loses old progress events (it is told it
missed some, and reloads), it never makes the daemon buffer without limit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    IMAGE_ADDED = "image_added"
    IMAGE_UPDATED = "image_updated"
    IMAGE_REMOVED = "image_removed"
    PROGRESS = "progress"
    MODEL_STATE = "model_state"
    ALBUM_CHANGED = "album_changed"
    MAP_UPDATED = "map_updated"
    OVERFLOW = "overflow"


# --- payloads: what each kind of event carries (the event stream sends them as JSON) ---------


class ImageEvent(TypedDict):
    """image_added, image_updated: the image as GET /api/images/{id} answers it."""

    image: dict[str, Any]


class ImageRemovedEvent(TypedDict):
    id: int
    album: str


class AlbumChangedEvent(TypedDict):
    key: str
    change: Literal["created", "updated", "deleted", "boards"]


class ProgressEvent(TypedDict):
    paused: bool
    queued: int
    done: int
    failed: int
    rate: float
    eta_seconds: float | None
    problem: str | None


class ModelStateEvent(TypedDict):
    state: str
    error: str | None
    model_id: str
    device: str


class MapUpdatedEvent(TypedDict):
    album: str
    version: int
    count: int
    refit: NotRequired[bool]
    reclustered: NotRequired[bool]
    added: NotRequired[list[dict[str, float]]]
    removed: NotRequired[list[int]]


class OverflowEvent(TypedDict):
    reason: str


EventPayload = (
    ImageEvent
    | ImageRemovedEvent
    | AlbumChangedEvent
    | ProgressEvent
    | ModelStateEvent
    | MapUpdatedEvent
    | OverflowEvent
)


@dataclass(frozen=True)
class Event:
    kind: str
    data: EventPayload
    sequence: int = 0


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Event]
    overflowed: bool = False
    kinds: frozenset[str] | None = None


@dataclass(eq=False)
class EventBus:
    queue_size: int = 1000
    _subscriptions: set[Subscription] = field(default_factory=set)
    _sequence: int = 0
    _listeners: list[Callable[[Event], None]] = field(default_factory=list)

    def publish(self, kind: EventKind, data: EventPayload) -> None:
        """Must be called on the event loop thread."""
        self._sequence += 1
        event = Event(str(kind), data, self._sequence)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a faulty listener must not stop the others
                log.exception("event listener failed on %s", kind)
        for subscription in list(self._subscriptions):
            if subscription.kinds is not None and event.kind not in subscription.kinds:
                continue
            self._offer(subscription, event)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """In-process listeners (e.g. the map service) get every event synchronously."""
        self._listeners.append(listener)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def _offer(self, subscription: Subscription, event: Event) -> None:
        try:
            subscription.queue.put_nowait(event)
        except asyncio.QueueFull:
            if not subscription.overflowed:
                subscription.overflowed = True
                log.warning("a client is too slow for the event stream; it will be told to reload")

    async def subscribe(self, kinds: frozenset[str] | None = None) -> AsyncIterator[Event]:
        subscription = Subscription(asyncio.Queue(self.queue_size), kinds=kinds)
        self._subscriptions.add(subscription)
        try:
            while True:
                if subscription.overflowed and subscription.queue.empty():
                    subscription.overflowed = False
                    yield Event(EventKind.OVERFLOW, {"reason": "client too slow; reload"})
                    continue
                yield await subscription.queue.get()
        finally:
            self._subscriptions.discard(subscription)
