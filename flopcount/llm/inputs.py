"""Keyword inputs: parse ``name=spec`` (``input_ids=1x2048:int64``) and the default inputs of a model kind."""

from __future__ import annotations

import re

from flopcount.errors import InputSpecError
from flopcount.inputs import InputSpec, parse_input_spec

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TEXT, ENCODER_DECODER, VISION, SPEECH = "text", "encoder-decoder", "vision", "speech"


def parse_named_input(text: str) -> tuple[str, InputSpec]:
    """``'input_ids=1x2048:int64'`` -> ``('input_ids', InputSpec((1, 2048), 'int64'))``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name):
        raise InputSpecError(f"malformed named input '{text}': expected name=shape, e.g. input_ids=1x2048:int64")
    return name, parse_input_spec(spec)


def parse_named_inputs(texts: list[str]) -> dict[str, InputSpec]:
    named: dict[str, InputSpec] = {}
    for text in texts:
        name, spec = parse_named_input(text)
        if name in named:
            raise InputSpecError(f"input '{name}' given twice")
        named[name] = spec
    return named


def model_kind(config) -> str:
    """text, encoder-decoder, vision or speech, from the config's own fields."""
    if getattr(config, "num_mel_bins", None):
        return SPEECH
    if getattr(config, "is_encoder_decoder", False):
        return ENCODER_DECODER
    if getattr(config, "image_size", None) and getattr(config, "num_channels", None):
        return VISION
    return TEXT


def default_inputs(config, seq_len: int = 128, batch: int = 1) -> dict[str, InputSpec]:
    """What a forward of this kind of model needs: token ids of ``seq_len`` for text (decoder ids too for
    an encoder-decoder), pixel_values at the config's image size, log-mel input_features for speech."""
    if seq_len <= 0 or batch <= 0:
        raise InputSpecError("sequence length and batch must be > 0")
    kind = model_kind(config)
    if kind == VISION:
        size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
        return {"pixel_values": InputSpec((batch, config.num_channels, size, size))}
    if kind == SPEECH:
        frames = 2 * config.max_source_positions  # the encoder's two convolutions halve the frames once
        decoder_len = min(seq_len, getattr(config, "max_target_positions", seq_len))
        return {"input_features": InputSpec((batch, config.num_mel_bins, frames)),
                "decoder_input_ids": InputSpec((batch, decoder_len), "int64")}
    ids = InputSpec((batch, seq_len), "int64")
    if kind == ENCODER_DECODER:
        return {"input_ids": ids, "decoder_input_ids": ids}
    return {"input_ids": ids}

