"""A cell plugin whose import fails, as one with a missing dependency would."""

raise ImportError("test_broken_cell needs the missing package 'nonexistent_dep'")
