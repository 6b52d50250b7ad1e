"""Long-memory benchmarks: the adding and copy-memory problems (``task.problem``)."""

from plugins.tasks.long_range.task import LongRangeNetwork, LongRangeOptions, LongRangeTask

__all__ = ["LongRangeNetwork", "LongRangeOptions", "LongRangeTask"]
