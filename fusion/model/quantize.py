"""Dynamic int8 quantisation of a prediction-only tagger's encoder (a faster CPU path).

Every `nn.Linear` of the encoder gets int8 weights, and its activations are quantised on the fly
(`torch.ao.quantization.quantize_dynamic`); the AIF module and the classifier stay float32, so
the gate and the scores are computed as before. Attentions still come out. Only for inference:
a quantised tagger cannot be trained or saved. `bench/quantize.py` measures what it changes
(F1 on the stored runs' sentences, and speed) against the float32 tagger in the same run.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def quantize_tagger(tagger):
    """The tagger with an int8 encoder, in place (returns it). LoRA adapters are merged first:
    quantising the dense layer under a peft wrapper would break the wrapper."""
    if not tagger.merged:
        tagger.merge_adapters()
    with warnings.catch_warnings():  # the eager API is deprecated in favour of torchao, not removed
        warnings.simplefilter("ignore")
        tagger.encoder = torch.ao.quantization.quantize_dynamic(tagger.encoder, {nn.Linear},
                                                                dtype=torch.qint8)
    tagger.quantized = True
    return tagger
