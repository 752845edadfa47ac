"""The CLIP model: loading, the worker process it runs in, its life cycle, files and history."""
