"""photomapd: an always-on, local-first semantic gallery for InvokeAI outputs."""

__version__ = "0.1.0"
