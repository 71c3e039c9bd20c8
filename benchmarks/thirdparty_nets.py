"""Third-party networks for benchmarks/predict_eval.py: Hugging Face transformers' vision models.

Nobody here wrote them: their code is transformers' own (TF-style 'same' padding done by F.pad, nn.Conv2d
subclasses, ceil_mode pooling, window attention with rolls and masks), so they check the predictor on code
that was never shaped to it. Built from configs in code with random weights (nothing is downloaded), in
eval, returning the logits. Needs ``pip install transformers`` (the ``hf`` extra); without it the group is
skipped.

The weights are drawn at Kaiming's fan-in scale and norm layers start as torch builds them, not as
transformers' own initialiser draws them (normal, std 0.02): with that, activations shrink at every layer, and in EfficientNet-B0 and MobileViT-S they reach denormal
floats (below 1.2e-38; 8% and 3% of all activations), which x86 computes up to 5x slower. EfficientNet-B0
measured 27.9 ms so and 23.2 ms with denormals flushed (2026-11-29). That is a property of those random
weights, not of the network: trained networks keep their activations of order one, as this scale does.
"""

from __future__ import annotations

from typing import Callable

from torch import nn


class PixelsToLogits(nn.Module):
    """``model(pixel_values=x).logits`` as a plain ``forward(x)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).logits


def _scale_preserving_weights(model: nn.Module) -> None:
    """Conv and linear weights at Kaiming's fan-in scale for ReLU-like activations, biases zero (seeded); norm
    layers as torch builds them (scale 1, shift 0, running statistics 0 and 1)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
                module.reset_parameters()


def _hf(model_class: str, config_class: str, **config) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import transformers

        model = getattr(transformers, model_class)(getattr(transformers, config_class)(**config))
        _scale_preserving_weights(model)
        return PixelsToLogits(model).eval()

    return build


THIRD_PARTY: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "hf_resnet50": (_hf("ResNetForImageClassification", "ResNetConfig"), 224),
    "hf_resnet18": (_hf("ResNetForImageClassification", "ResNetConfig", depths=[2, 2, 2, 2], layer_type="basic",
                        hidden_sizes=[64, 128, 256, 512]), 224),
    "hf_mobilenet_v1": (_hf("MobileNetV1ForImageClassification", "MobileNetV1Config"), 224),
    "hf_mobilenet_v2": (_hf("MobileNetV2ForImageClassification", "MobileNetV2Config"), 224),
    "hf_mobilenet_v2_w0.5_r160": (_hf("MobileNetV2ForImageClassification", "MobileNetV2Config", depth_multiplier=0.5,
                                      image_size=160), 160),
    "hf_efficientnet_b0": (_hf("EfficientNetForImageClassification", "EfficientNetConfig", width_coefficient=1.0,
                               depth_coefficient=1.0, image_size=224, hidden_dim=1280), 224),
    "hf_regnet_y": (_hf("RegNetForImageClassification", "RegNetConfig"), 224),
    "hf_regnet_x_small": (_hf("RegNetForImageClassification", "RegNetConfig", layer_type="x", groups_width=8,
                              hidden_sizes=[24, 56, 152, 368], depths=[1, 1, 4, 7]), 224),
    "hf_convnext_tiny": (_hf("ConvNextForImageClassification", "ConvNextConfig"), 224),
    "hf_vit_small": (_hf("ViTForImageClassification", "ViTConfig", hidden_size=384, num_hidden_layers=12,
                         num_attention_heads=6, intermediate_size=1536), 224),
    "hf_mobilevit_s": (_hf("MobileViTForImageClassification", "MobileViTConfig"), 256),
    "hf_levit": (_hf("LevitForImageClassification", "LevitConfig"), 224),
    "hf_swin_tiny": (_hf("SwinForImageClassification", "SwinConfig"), 224),
}


def available() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True
