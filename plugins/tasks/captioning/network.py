"""The captioning network: an image encoder plugin read by the shared attention decoder.

    images (B, 3, S, S) uint8 --[0, 1], the encoder's normalize--> float (B, 3, S, S)
    --image encoder--> grid (B, N, F), pooled (B, P) --> Memory(values=grid, mask all True,
    summary=pooled) --AttentionDecoder (teacher-forced)--> logits (B, T, V)

The decoder's initial state is a bridge from the pooled vector (Vinyals et al. 2015 fed the
image once, at the start); with ``task.attention`` bahdanau or luong every word also attends
over the N grid cells (Xu et al. 2015, "Show, attend and tell"), which is what the attention
maps of the reports show. Decoding (greedy, beam search) is :mod:`pipeline.decoding`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from pipeline.config import ConfigError
from pipeline.decoding import AttentionDecoder, Memory
from pipeline.interfaces import ImageEncoder
from pipeline.plugins import default_registry
from pipeline.tokenizers import PAD_ID

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config


class CaptioningNetwork(nn.Module):
    """Image encoder -> :class:`~pipeline.decoding.Memory` -> attention decoder -> logits."""

    def __init__(self, encoder: ImageEncoder, decoder: AttentionDecoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def memory(self, images: Tensor) -> Memory:
        """uint8 images (B, 3, S, S) -> Memory over their N grid cells."""
        pixels = self.encoder.normalize(images.float() / 255.0)
        grid, pooled = self.encoder(pixels)  # (B, N, F), (B, P)
        mask = torch.ones(grid.shape[:2], dtype=torch.bool, device=grid.device)  # (B, N)
        return Memory(values=grid, mask=mask, summary=pooled)

    def forward(
        self, images: Tensor, inputs: Tensor, image_index: Tensor, teacher_forcing: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits of C captions of B images.

        images (B, 3, S, S) uint8; inputs (C, T) start token first; image_index (C,) the
        image of each caption -> logits (C, T, V), attention (C, T, N). Each image is encoded
        once.
        """
        memory = self.memory(images).select(image_index)
        logits, attention = self.decoder(inputs, memory, teacher_forcing)
        return logits, attention


def build_captioner(components: Components, cfg: Config, vocab_size: int) -> CaptioningNetwork:
    """The network of the configured image encoder, cell and decoder options."""
    options, model = cfg.task.options, cfg.model
    encoder = components.image_encoder(options.image_encoder, options.image_encoder_options)
    dot = options.attention == "luong" and options.attention_score == "dot"
    if dot and encoder.feature_size != model.hidden_size:
        raise ConfigError(
            [
                f"task.attention_score=dot needs model.hidden_size == the image features' size "
                f"({encoder.feature_size} from task.image_encoder={options.image_encoder}), got "
                f"{model.hidden_size}; set task.attention_score=general or model.hidden_size"
            ]
        )
    decoder = AttentionDecoder(
        components.cell_factory,
        components.embedding(vocab_size, padding_idx=PAD_ID),
        model.hidden_size,
        model.num_layers,
        encoder.feature_size,
        encoder.pooled_size,
        attention=options.attention,
        attention_score=options.attention_score,
        dropout=model.dropout,
        tie_embeddings=options.tie_embeddings,
        runner="eager" if model.runner == "eager" else "compiled",
    )
    return CaptioningNetwork(encoder, decoder)


def encoder_image_size(name: str, options: Mapping[str, Any]) -> int:
    """The image side S that the image encoder ``name`` with ``options`` reads.

    Built without its weights file (``weights=None``): only its geometry is needed.
    """
    encoder_class = default_registry("image_encoders").get(name)
    if "weights" in options:
        options = {**options, "weights": None}
    return int(encoder_class(**options).image_size)
