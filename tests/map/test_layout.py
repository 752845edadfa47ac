from __future__ import annotations

import numpy as np
import pytest

from photomapd.map.layout import LayoutParams, MapLayout, fit_layout
from tests.map.conftest import N_POINTS
from tests.map.synthetic import more_points

EXTENT = 1.0


def _mean_move(before: MapLayout, after: MapLayout) -> float:
    rows = {int(i): r for r, i in enumerate(after.ids)}
    common = [(r, rows[int(i)]) for r, i in enumerate(before.ids) if int(i) in rows]
    old = before.xy[[a for a, _ in common]]
    new = after.xy[[b for _, b in common]]
    return float(np.linalg.norm(new - old, axis=1).mean())


def _planted_centroids(layout: MapLayout, labels: np.ndarray, k: int) -> np.ndarray:
    return np.array([layout.xy[: len(labels)][labels == c].mean(axis=0) for c in range(k)])


def test_fit_fills_the_fixed_extent(fitted: MapLayout) -> None:
    assert len(fitted) == N_POINTS
    assert fitted.xy.min() >= 0.0 and fitted.xy.max() <= 1.0
    span = fitted.xy.max(axis=0) - fitted.xy.min(axis=0)
    # Uniform scale into the square with a small margin: the longer side nearly fills it.
    assert span.max() == pytest.approx(0.96, abs=0.01)
    assert fitted.fitted_count == N_POINTS
    assert not fitted.needs_refit()


def test_placing_five_percent_new_images_leaves_known_points_and_lands_near_their_cluster(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, labels, centres = planted
    layout = fitted.snapshot()
    new_vectors, new_labels = more_points(centres, N_POINTS // 20, seed=7)
    new_ids = np.arange(N_POINTS, N_POINTS + len(new_vectors))
    xy = layout.add(new_ids, new_vectors)

    assert _mean_move(fitted, layout) < 0.05 * EXTENT
    assert np.array_equal(layout.xy[:N_POINTS], fitted.xy)  # placement never moves known points
    centroids = _planted_centroids(fitted, labels, len(centres))
    nearest_centroid = np.argmin(((xy[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest_centroid == new_labels).mean() >= 0.95
    assert layout.position(int(new_ids[0])) == pytest.approx(tuple(xy[0]))
    assert not layout.needs_refit()


def test_refit_after_five_percent_growth_keeps_known_points_in_place(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    vectors, labels, centres = planted
    new_vectors, _ = more_points(centres, N_POINTS // 20, seed=8)
    ids = np.arange(N_POINTS + len(new_vectors))
    refitted = fit_layout(ids, np.concatenate([vectors, new_vectors]), previous=fitted)

    move = _mean_move(fitted, refitted)
    assert move < 0.05 * EXTENT, f"known points moved {move:.3f} of the extent on average"
    assert refitted.xy.min() >= 0.0 and refitted.xy.max() <= 1.0
    # Clusters as a whole stay put too (what a user recognises), not just the average point.
    before = _planted_centroids(fitted, labels, len(centres))
    after = _planted_centroids(refitted, labels, len(centres))
    assert np.linalg.norm(after - before, axis=1).max() < 0.08
    assert refitted.fitted_count == len(ids)


def test_refit_is_requested_only_after_the_album_grew_a_lot(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, _, centres = planted
    layout = fitted.snapshot()
    vectors, _ = more_points(centres, int(N_POINTS * 0.2), seed=9)
    layout.add(np.arange(N_POINTS, N_POINTS + len(vectors)), vectors)
    assert not layout.needs_refit()  # exactly +20 %
    one_more, _ = more_points(centres, 1, seed=10)
    layout.add(np.array([10**6]), one_more)
    assert layout.needs_refit()


def test_remove_and_re_add_keep_rows_consistent(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    vectors, _, _ = planted
    layout = fitted.snapshot()
    assert layout.remove(np.array([0, 1, 99_999])) == 2
    assert 0 not in layout and len(layout) == N_POINTS - 2
    assert layout.position(2) == pytest.approx(tuple(fitted.xy[2]))
    # Re-adding image 5 with its own vector puts it back next to where it was.
    layout.add(np.array([5]), vectors[5:6])
    assert len(layout) == N_POINTS - 2 and 5 in layout
    assert np.linalg.norm(np.subtract(layout.position(5), fitted.xy[5])) < 0.1
    assert len(layout.vectors) == len(layout.ids) == len(layout.xy)


def test_tiny_albums_get_a_deterministic_layout_without_umap() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((5, 32)).astype(np.float32)
    first = fit_layout(np.arange(5), vectors)
    second = fit_layout(np.arange(5), vectors)
    assert np.array_equal(first.xy, second.xy)
    assert first.xy.min() >= 0 and first.xy.max() <= 1
    assert fit_layout(np.arange(0), np.zeros((0, 32))).xy.shape == (0, 2)
    one = fit_layout(np.arange(1), vectors[:1])
    assert one.xy.tolist() == [[0.5, 0.5]]
    assert one.needs_refit() is False
    grown = one.snapshot()
    grown.add(np.arange(1, 17), rng.standard_normal((16, 32)))
    assert grown.needs_refit()  # crossing the UMAP threshold asks for a real fit


def test_bad_input_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="same length"):
        MapLayout(np.arange(3), np.zeros((2, 2)), np.zeros((3, 4)), 3)
    with pytest.raises(ValueError, match="unique"):
        MapLayout(np.array([1, 1]), np.zeros((2, 2)), np.zeros((2, 4)), 2)
    with pytest.raises(ValueError, match="2-D array"):
        fit_layout(np.arange(3), np.zeros(3))
    with pytest.raises(ValueError, match="3 ids but 2 vectors"):
        fit_layout(np.arange(3), np.ones((2, 4)), params=LayoutParams())


def test_a_map_never_fitted_gets_a_real_layout_not_one_dot(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    """An album's first flush of >= 16 images waits at the centre for the first fit; that fit
    must not start from (and align back onto) those identical positions."""
    vectors, _, _ = planted
    ids = np.arange(300)
    waiting = MapLayout(ids, np.full((300, 2), 0.5), vectors[:300], 0)
    first = fit_layout(ids, vectors[:300], previous=waiting)
    assert first.xy.std(axis=0).min() > 0.05
    # Fitted once but collapsed (a map saved by an older version): also laid out afresh.
    collapsed = MapLayout(ids, np.full((300, 2), 0.5), vectors[:300], 300)
    assert fit_layout(ids, vectors[:300], previous=collapsed).xy.std(axis=0).min() > 0.05
    assert collapsed.collapsed() and not fitted.collapsed()
