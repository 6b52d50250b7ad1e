"""Lightning checkpoints written atomically, so a crash or a full disk never leaves half a file.

Lightning's own save goes through an fsspec transaction: a temporary file in the system's temp
folder, then ``shutil.move``, which across file systems copies into the target in place and
never fsyncs (lightning 2.6, fabric ``_atomic_save``). This writes beside the target instead.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from pipeline.atomic import atomic_writer


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves replace the file only once fully written and synced.

    ``on_saving(path, sha256)`` is told the new content's checksum before the file is replaced
    (the run records it beside the previous one, so a kill at any point leaves a file that one
    of the two vouches for).
    """

    def __init__(self, on_saving: Callable[[Path, str], None] | None = None) -> None:
        super().__init__()
        self.on_saving = on_saving

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buffer = io.BytesIO()  # serialised first: its checksum is recorded before the replace
        torch.save(checkpoint, buffer)
        content = buffer.getbuffer()
        if self.on_saving is not None:
            self.on_saving(Path(path), hashlib.sha256(content).hexdigest())
        with atomic_writer(Path(path)) as handle:
            handle.write(content)
