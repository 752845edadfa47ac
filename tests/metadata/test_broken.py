"""The corpus' broken files: a clear warning, never an exception, and whatever is readable."""

from __future__ import annotations

from pathlib import Path

from photomapd.metadata import parse_bytes, read_metadata


def test_empty_file_is_reported(corpus: Path) -> None:
    metadata = read_metadata(corpus / "broken" / "empty-file.png")
    assert metadata.summary["generator"] is None
    assert metadata.image_format is None
    assert metadata.warnings == ["empty file (0 bytes)"]


def test_truncated_inside_metadata_gives_no_fields_and_says_why(corpus: Path) -> None:
    metadata = read_metadata(corpus / "broken" / "truncated-in-metadata.png")
    assert metadata.summary["generator"] is None
    assert metadata.summary["positive_prompt"] is None
    assert any("truncated inside a tEXt chunk" in warning for warning in metadata.warnings)


def test_truncated_in_pixels_still_reads_the_metadata(corpus: Path) -> None:
    metadata = read_metadata(corpus / "broken" / "truncated-mid-idat.png")
    assert metadata.summary["model"]["name"] == "SkunkMix-P7-5m3-ws"
    assert metadata.summary["seed"] == 1542798571
    assert metadata.warnings == []  # header-only: the damage is after what we read


def test_crc_mismatch_is_read_tolerantly_and_flagged(corpus: Path) -> None:
    metadata = read_metadata(corpus / "broken" / "crc-mismatch.png")
    assert metadata.summary["model"]["name"] == "JuggernautXL"
    assert any("bad CRC" in warning for warning in metadata.warnings)


def test_missing_file_is_a_warning(tmp_path: Path) -> None:
    metadata = read_metadata(tmp_path / "nope.png")
    assert metadata.summary["generator"] is None
    assert "cannot read" in metadata.warnings[0]


def test_unknown_format_is_a_warning() -> None:
    metadata = parse_bytes(b"GIF89a" + b"\0" * 40)
    assert metadata.warnings == ["not a PNG, JPEG or WebP file; no metadata read"]
