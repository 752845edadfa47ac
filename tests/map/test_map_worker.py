"""The MapService's off-loop steps: merging a finished fit with what changed meanwhile,
restoring a saved map against the vectors SQLite has now."""

from __future__ import annotations

import json

import numpy as np
import pytest

from photomapd.map import worker as map_worker
from photomapd.map.fit_process import FitProcess
from photomapd.map.layout import LayoutParams, MapLayout
from photomapd.map.payload import MapPoints
from photomapd.map.semantic_map import SemanticMap
from photomapd.map.store import MapState, StoredMap
from tests.map.synthetic import more_points


def test_catch_up_applies_images_added_and_removed_during_a_fit(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    vectors, _, centres = planted
    live = SemanticMap(fitted.snapshot(), version=4)
    live.layout.drop_vectors()  # a live map keeps positions only
    entry = map_worker.AlbumMap(live)
    snapshot = map_worker.snapshot(entry, fitted.ids, vectors)
    assert snapshot.layout.has_vectors and len(snapshot) == len(fitted)
    result = SemanticMap(snapshot.layout.snapshot(), version=5)  # what the fit thread returns

    # Meanwhile on the live map: 10 images arrive, 3 go away.
    new_vectors, _ = more_points(centres, 10, seed=21)
    new_ids = np.arange(90_000, 90_010)
    map_worker.apply(entry, new_ids, new_vectors, [None] * 10, [0, 1, 2])
    assert len(entry.semantic) == len(fitted) + 7

    missing = map_worker.missing_from(result, entry)
    assert missing == new_ids.tolist()
    # Image 90_009 arrived after its vector was fetched: it is handed back for the next flush.
    late = map_worker.catch_up(result, entry, new_ids[:9], new_vectors[:9])
    assert late == {90_009: None}
    assert entry.semantic is result and not result.layout.has_vectors
    assert set(result.layout.ids.tolist()) == set(live.layout.ids.tolist()) - {90_009}
    assert len(result.labels) == len(result.layout)
    assert result.version > live.version  # clients see a newer map and reload
    # Known points kept the fitted positions; late arrivals were placed into the fitted map.
    assert result.layout.position(5) == snapshot.layout.position(5)


def test_a_live_map_places_new_images_by_the_neighbours_it_is_given(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    vectors, _, _ = planted
    layout = fitted.snapshot()
    layout.drop_vectors()
    with pytest.raises(RuntimeError, match="positions only"):
        layout.vectors  # noqa: B018
    asked = []

    def neighbours(query, k, on):  # type: ignore[no-untyped-def]
        asked.append((query.shape, k, on is layout))
        return [[(3, 0.99), (4, 0.9), (10**7, 0.95)]]  # 10**7 is not on the map: ignored

    (xy,) = layout.add(np.array([50_000]), vectors[:1], neighbours)
    assert asked == [((1, vectors.shape[1]), 8, True)]
    between = np.array([fitted.xy[3], fitted.xy[4]])
    assert between.min(axis=0).tolist() <= xy.tolist() <= between.max(axis=0).tolist()
    assert np.linalg.norm(xy - fitted.xy[3]) < np.linalg.norm(xy - fitted.xy[4])
    # No neighbour found (index being rebuilt) or no finder: the centre, until the next fit.
    assert layout.place(vectors[:1], lambda q, k, on: [[]]).tolist() == [[0.5, 0.5]]
    assert layout.place(vectors[:1]).tolist() == [[0.5, 0.5]]


def test_apply_keeps_the_position_of_an_id_already_on_the_map(fitted: MapLayout) -> None:
    entry = map_worker.AlbumMap(SemanticMap(fitted.snapshot()))
    before = entry.semantic.layout.position(7)
    points, removed, state, _ = map_worker.apply(
        entry, np.array([7]), fitted.vectors[7:8] * -1, [None], []
    )
    assert len(points) == 0 and removed == []
    assert entry.semantic.layout.position(7) == before
    assert state.version == entry.semantic.version


def test_restore_reconciles_the_saved_map_with_current_vectors(fitted: MapLayout) -> None:
    saved = MapPoints.build(fitted.ids[:100], fitted.xy[:100], np.zeros(100))
    stored = StoredMap(saved, [], MapState(version=9, fitted_count=100, strength=0.3, fitted_at=0))
    # Now: image 0 is gone, images 100..109 were indexed while the daemon was down.
    ids = fitted.ids[1:110]
    prompts = {int(i): f"prompt {int(i)}" for i in ids}
    needed = map_worker.vectors_needed(ids, stored)
    assert needed.tolist() == list(range(100, 110))  # not the 99 already on the map

    def neighbours(query, k, on):  # type: ignore[no-untyped-def]
        return [[(50, 1.0)] for _ in query]

    restored = map_worker.restore(
        ids, stored, LayoutParams(), prompts, (needed, fitted.vectors[needed]), neighbours
    )
    assert restored.prompts == prompts  # cluster labels after a restart still have their words
    assert sorted(restored.layout.ids.tolist()) == sorted(ids.tolist())
    assert not restored.layout.has_vectors
    assert restored.layout.position(50) == tuple(float(v) for v in fitted.xy[50])
    assert restored.layout.position(105) == pytest.approx(restored.layout.position(50))
    assert restored.strength == 0.3 and restored.version > 9
    assert restored.layout.fitted_count == 100


def test_restore_without_a_saved_map() -> None:
    rng = np.random.default_rng(0)
    assert map_worker.vectors_needed(np.arange(5), None).tolist() == list(range(5))
    assert len(map_worker.vectors_needed(np.arange(40), None)) == 0  # waits for the fit
    few = (np.arange(5), rng.standard_normal((5, 8)))
    tiny = map_worker.restore(np.arange(5), None, LayoutParams(), vectors=few)
    assert len(tiny) == 5 and len({tuple(p) for p in tiny.layout.xy.tolist()}) == 5
    assert not tiny.layout.has_vectors
    waiting = map_worker.restore(np.arange(40), None, LayoutParams())
    assert len(waiting) == 40 and waiting.needs_refit()  # placed at the centre until the fit
    assert len(map_worker.restore(np.arange(0), None, LayoutParams())) == 0


async def test_fit_process_refits_off_the_daemon_process(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, _, centres = planted
    small = MapLayout(fitted.ids[:300], fitted.xy[:300], fitted.vectors[:300], 300)
    live = SemanticMap(small, version=3)
    new_vectors, _ = more_points(centres, 40, seed=31)
    live.add(np.arange(70_000, 70_040), new_vectors)
    snapshot = map_worker.snapshot(map_worker.AlbumMap(live), live.layout.ids, live.layout.vectors)
    process = FitProcess()
    try:
        result = await process.fit(snapshot, LayoutParams())
    finally:
        process.close()
    assert result.layout.ids.tolist() == snapshot.layout.ids.tolist()
    assert result.layout.fitted_count == 340 and not result.needs_refit()
    assert result.layout.xy.min() >= 0.0 and result.layout.xy.max() <= 1.0
    assert result.version == snapshot.version + 1 and len(result.labels) == 340
    moved = np.linalg.norm(result.layout.xy[:300] - fitted.xy[:300], axis=1).mean()
    assert moved < 0.1  # started from the previous layout, aligned back onto it
    assert np.allclose(result.layout.vectors, snapshot.layout.vectors, atol=1e-6)


def test_a_rewritten_image_is_placed_again_also_into_a_fit_running_meanwhile(
    fitted: MapLayout,
) -> None:
    live = SemanticMap(fitted.snapshot(), version=2)
    entry = map_worker.AlbumMap(live)
    snapshot = map_worker.snapshot(entry, fitted.ids, fitted.vectors)
    result = SemanticMap(snapshot.layout.snapshot(), version=3)  # the fit's result
    before = live.layout.position(7)
    # Image 7's file now holds image 1500's picture (another planted cluster).
    points, removed, _, _ = map_worker.apply(
        entry, np.array([7]), fitted.vectors[1500:1501], [None], [], {7}
    )
    assert points.ids.tolist() == [7] and removed == []
    moved = live.layout.position(7)
    assert moved != before and len(live) == len(fitted)
    expected = fitted.snapshot()
    expected.remove(np.array([7]))
    assert np.allclose(moved, expected.place(fitted.vectors[1500:1501])[0], atol=1e-6)
    assert map_worker.missing_from(result, entry) == [7]
    map_worker.catch_up(result, entry, np.array([7]), fitted.vectors[1500:1501])
    assert result.layout.position(7) == moved  # the fit had the old picture's position
    assert not entry.replaced


def test_a_map_waiting_at_the_centre_for_its_first_fit_says_fitting() -> None:
    waiting = map_worker.restore(np.arange(40), None, LayoutParams())
    body = json.loads(map_worker.encode(waiting, "a", "ready")[0])
    assert body["status"] == "fitting"  # not "ready": a screenshot or a user would see one dot
    tiny = map_worker.restore(
        np.arange(5), None, LayoutParams(), vectors=(np.arange(5), np.eye(5, 8))
    )
    assert json.loads(map_worker.encode(tiny, "a", "ready")[0])["status"] == "ready"


def test_a_bulk_restore_places_exactly_from_every_vector(fitted: MapLayout) -> None:
    saved = MapPoints.build(fitted.ids[:500], fitted.xy[:500], np.zeros(500))
    stored = StoredMap(saved, [], MapState(version=1, fitted_count=500, strength=0.5, fitted_at=0))
    ids = fitted.ids  # 1,500 indexed while the daemon was down: more than BULK_PLACEMENT
    needed = map_worker.vectors_needed(ids, stored)
    assert needed.tolist() == ids.tolist()  # every vector: placement in memory, not by queries

    def no_queries(query, k, on):  # type: ignore[no-untyped-def]
        raise AssertionError("a bulk restore must not query the index per image")

    restored = map_worker.restore(
        ids, stored, LayoutParams(), None, (needed, fitted.vectors), no_queries
    )
    assert not restored.layout.has_vectors and len(restored) == len(fitted)
    assert restored.layout.position(7) == tuple(float(v) for v in fitted.xy[7])
    known = MapLayout(fitted.ids[:500], fitted.xy[:500], fitted.vectors[:500], 500)
    expected = known.place(fitted.vectors[1200:1201])[0]
    assert np.allclose(restored.layout.position(1200), expected, atol=1e-6)
