"""Utilities under every layer: atomic file writes, safe checkpoints, the distributed-training helpers."""
