"""Lightning checkpoints written atomically, so a crash or a full disk never leaves half a file.

Lightning's own save goes through an fsspec transaction: a temporary file in the system's temp
folder, then ``shutil.move``, which across file systems copies into the target in place and
never fsyncs (lightning 2.6, fabric ``_atomic_save``). This writes beside the target instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from pipeline.atomic import atomic_writer


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves replace the file only once fully written and synced."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        with atomic_writer(Path(path)) as handle:
            torch.save(checkpoint, handle)
