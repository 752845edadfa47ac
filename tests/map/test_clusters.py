from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from photomapd.map.clusters import (
    NOISE,
    cluster_points,
    describe_clusters,
    distinctive_words,
    min_cluster_size_for,
    prompt_words,
)
from photomapd.map.layout import MapLayout
from photomapd.map.semantic_map import SemanticMap
from tests.map.synthetic import SUBJECTS, more_points, prompts_for


def test_clustering_recovers_planted_clusters(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, labels, _ = planted
    found = cluster_points(fitted.xy)
    assert adjusted_rand_score(labels, found) >= 0.9
    assert (found == NOISE).mean() < 0.05
    # Cluster 0 is the largest: stable numbering for colours and the API.
    sizes = [int((found == c).sum()) for c in range(found.max() + 1)]
    assert sizes == sorted(sizes, reverse=True)


def test_large_maps_cluster_on_a_sample_and_label_every_point() -> None:
    rng = np.random.default_rng(1)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    centres = 0.5 + 0.35 * np.column_stack([np.cos(angles), np.sin(angles)])
    planted = rng.integers(0, 8, 30_000)
    xy = centres[planted] + rng.normal(0, 0.01, (30_000, 2))
    found = cluster_points(xy)
    assert adjusted_rand_score(planted, found) >= 0.9


def test_strength_trades_many_small_clusters_for_few_large_ones(fitted: MapLayout) -> None:
    assert min_cluster_size_for(10_000, 0.0) < min_cluster_size_for(10_000, 0.5)
    assert min_cluster_size_for(10_000, 0.5) < min_cluster_size_for(10_000, 1.0)
    assert min_cluster_size_for(10_000, 7.0) == min_cluster_size_for(10_000, 1.0)  # clamped
    # At 0.95 no planted subject reaches the minimum size (they lie far apart on this map): the
    # largest groups there are still show, never a map of only noise.
    counts = [len(set(cluster_points(fitted.xy, s).tolist()) - {NOISE}) for s in (0.3, 0.95)]
    assert counts[0] > counts[1] >= 1


def test_prompt_words_drop_stop_words_weights_and_lora_tags() -> None:
    words = prompt_words("masterpiece, a (red:1.3) Castle on the hill, <lora:add_detail:0.5>, 8k")
    assert words == {"red", "castle", "hill"}
    assert prompt_words(None) == set() and prompt_words("") == set()


def test_labels_come_from_each_clusters_distinctive_words(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, labels, _ = planted
    found = cluster_points(fitted.xy)
    prompts = prompts_for(labels)
    infos = describe_clusters(fitted.ids, fitted.xy, found, prompts)
    assert len(infos) == len(set(found.tolist()) - {NOISE})
    for info in infos:
        members = found == info.cluster
        planted_subject = SUBJECTS[np.bincount(labels[members]).argmax()]
        assert info.words[0] == planted_subject
        # Words every prompt shares ("style", "cinematic", "lighting") are not distinctive.
        assert not {"style", "cinematic", "lighting", "masterpiece"} & set(info.words)
        assert info.label.startswith(planted_subject)
        assert info.size == int(members.sum())
        assert members[list(fitted.ids).index(info.representative_id)]


def test_representative_is_the_member_nearest_the_centroid() -> None:
    xy = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.9]])
    labels = np.array([0, 0, 0, NOISE])
    (info,) = describe_clusters(np.array([10, 11, 12, 13]), xy, labels)
    assert info.representative_id == 11
    assert info.size == 3 and info.label == "Cluster 1" and info.words == ()
    assert info.centroid == pytest.approx((0.2, 0.2))


def test_distinctive_words_needs_one_prompt_per_point() -> None:
    with pytest.raises(ValueError, match="2 prompts for 3 points"):
        distinctive_words(np.zeros(3, dtype=np.int32), ["a", "b"])


def test_semantic_map_keeps_labels_aligned_through_add_remove_and_recluster(
    fitted: MapLayout, planted: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, labels, centres = planted
    semantic = SemanticMap(
        fitted.snapshot(), prompts=dict(enumerate(prompts_for(labels))), version=1
    )
    semantic.recluster()
    assert semantic.version == 2 and semantic.clusters
    new_vectors, new_labels = more_points(centres, 20, seed=11)
    new_ids = np.arange(50_000, 50_020)
    semantic.add(new_ids, new_vectors, prompts_for(new_labels))
    points = semantic.points()
    assert len(points) == len(fitted) + 20 and np.all(np.diff(points.ids) > 0)
    # A new point joins the cluster its planted siblings are in.
    for image_id, planted_label in zip(new_ids, new_labels, strict=True):
        siblings = semantic.labels[: len(fitted)][labels == planted_label]
        assert (
            semantic.labels[list(semantic.layout.ids).index(image_id)]
            == np.bincount(siblings[siblings >= 0]).argmax()
        )
    assert semantic.remove(new_ids[:10]) == 10
    assert len(semantic.labels) == len(semantic.layout) == len(fitted) + 10
    assert semantic.points() is semantic.points()  # cached until the next change
    members = semantic.members(0)
    assert len(members) == int((semantic.labels == 0).sum())
