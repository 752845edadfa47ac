"""Synthetic CLIP-like embeddings: unit vectors around planted cluster centres."""

from __future__ import annotations

import numpy as np

SUBJECTS = (
    "castle",
    "dragon",
    "forest",
    "robot",
    "ocean",
    "desert",
    "kitten",
    "spaceship",
    "mountain",
    "samurai",
    "garden",
    "city",
)


def planted_clusters(
    n: int, k: int = 12, dim: int = 512, spread: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, planted labels, centres). Noise of norm ~`spread` around unit centres: with
    spread 1.0 a point is about as close to its centre as two random CLIP images are."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, k, n)
    return _around(centres, labels, spread, rng), labels, centres


def more_points(
    centres: np.ndarray, n: int, spread: float = 1.0, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(centres), n)
    return _around(centres, labels, spread, rng), labels


def _around(
    centres: np.ndarray, labels: np.ndarray, spread: float, rng: np.random.Generator
) -> np.ndarray:
    dim = centres.shape[1]
    noise = rng.standard_normal((len(labels), dim)).astype(np.float32) * (spread / np.sqrt(dim))
    vectors = centres[labels] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def prompts_for(labels: np.ndarray, seed: int = 0) -> list[str]:
    """Prompts sharing boilerplate, each with its planted cluster's subject word."""
    rng = np.random.default_rng(seed)
    styles = ["oil painting", "photo", "watercolor", "digital art"]
    return [
        f"masterpiece, best quality, a {SUBJECTS[label % len(SUBJECTS)]} in the style of "
        f"{styles[rng.integers(0, len(styles))]}, cinematic lighting, (highly detailed:1.2) "
        f"<lora:detail_tweaker:0.6>"
        for label in labels
    ]
