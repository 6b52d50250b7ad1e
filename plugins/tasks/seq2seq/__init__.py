"""Sequence to sequence: translation and summarisation (readers of parallel data)."""
