"""Image captioning: images in, Spanish or English captions out.

An image-encoder plugin (``task.image_encoder``: small_cnn, resnet18/34/50 or a plugin's)
turns each image into a grid of feature vectors and a pooled vector; the shared attention
decoder of :mod:`pipeline.decoding` writes the caption word by word, attending over the grid
(``task.attention``); greedy search for validation, beam search for test and predict. Logged:
teacher-forced loss and perplexity, BLEU-1..4 against all references.

Modules, in reading order:

- :mod:`.shapes`: the generated Spanish shapes data set (held-out colour-shape pairs in test);
- :mod:`.readers`: captioned images from Flickr8k/30k, COCO, CSV/JSON lines or a dataset;
- :mod:`.images`: images decoded, resized and cached; bad images;
- :mod:`.data`: token ids, references and batches;
- :mod:`.network`: image encoder -> Memory -> attention decoder;
- :mod:`.generation`: greedy and beam search over it;
- :mod:`.metrics`: loss, ppl, BLEU-1..4 (DDP-exact);
- :mod:`.reports`: captions.png and attention maps of test images;
- :mod:`.options`: ``task.*`` and predict options;
- :mod:`.task`: :class:`CaptioningTask`, the ``captioning`` entry point.
"""

from plugins.tasks.captioning.options import CaptioningOptions, CaptioningPredictOptions
from plugins.tasks.captioning.task import CaptioningTask

__all__ = ["CaptioningOptions", "CaptioningPredictOptions", "CaptioningTask"]
