"""Intake: what the file system says changed (live watching and startup reconcile), as Change values."""
