"""Lightning checkpoints written atomically, so a crash or a full disk never leaves half a file.

Lightning's own save goes through an fsspec transaction: a temporary file in the system's temp
folder, then ``shutil.move``, which across file systems copies into the target in place and
never fsyncs (lightning 2.6, fabric ``_atomic_save``). This writes beside the target instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from pipeline.atomic import atomic_writer


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves replace the file only once fully written and synced.

    ``on_saved(path)`` is called after each save (the run records the file's checksum).
    """

    def __init__(self, on_saved: Callable[[Path], None] | None = None) -> None:
        super().__init__()
        self.on_saved = on_saved

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        with atomic_writer(Path(path)) as handle:
            torch.save(checkpoint, handle)
        if self.on_saved is not None:
            self.on_saved(Path(path))
