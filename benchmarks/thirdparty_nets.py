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


# A second set, for an independent check (`predict_eval.py --independent`): added 2026-11-29 after the
# predictor's design, their errors measured before any change was made for them. Six were first checked
# on 2026-11-29 03:10 UTC (ConvNeXt-V2-atto to MobileNet-V2 x1.4) and led to the batch-statistics norm,
# GroupNorm and clone kinds and to transformers in the calibration networks; the other 14 first ran at 04:11
# and led to the layout copies and the reduce/unary kinds.
INDEPENDENT: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "hf_convnextv2_atto": (_hf("ConvNextV2ForImageClassification", "ConvNextV2Config", depths=[2, 2, 6, 2],
                               hidden_sizes=[40, 80, 160, 320]), 224),
    "hf_poolformer_s12": (_hf("PoolFormerForImageClassification", "PoolFormerConfig"), 224),
    "hf_dinov2_small": (_hf("Dinov2ForImageClassification", "Dinov2Config", hidden_size=384, num_hidden_layers=12,
                            num_attention_heads=6, image_size=224, patch_size=14), 224),
    "hf_bit_r50": (_hf("BitForImageClassification", "BitConfig"), 224),
    "hf_deit_tiny": (_hf("DeiTForImageClassification", "DeiTConfig", hidden_size=192, num_hidden_layers=12,
                         num_attention_heads=3, intermediate_size=768), 224),
    "hf_mobilenet_v2_w1.4": (_hf("MobileNetV2ForImageClassification", "MobileNetV2Config", depth_multiplier=1.4), 224),
    "hf_mobilevitv2": (_hf("MobileViTV2ForImageClassification", "MobileViTV2Config"), 256),
    "hf_pvt_v2_b0": (_hf("PvtV2ForImageClassification", "PvtV2Config"), 224),
    "hf_segformer_b0": (_hf("SegformerForImageClassification", "SegformerConfig"), 224),
    "hf_focalnet_tiny": (_hf("FocalNetForImageClassification", "FocalNetConfig"), 224),
    "hf_cvt_13": (_hf("CvtForImageClassification", "CvtConfig"), 224),
    "hf_swinv2_tiny": (_hf("Swinv2ForImageClassification", "Swinv2Config"), 256),
    "hf_beit_small": (_hf("BeitForImageClassification", "BeitConfig", hidden_size=384, num_hidden_layers=12,
                          num_attention_heads=6, intermediate_size=1536), 224),
    "hf_convnextv2_nano": (_hf("ConvNextV2ForImageClassification", "ConvNextV2Config", depths=[2, 2, 8, 2],
                               hidden_sizes=[80, 160, 320, 640]), 224),
    "hf_resnet34": (_hf("ResNetForImageClassification", "ResNetConfig", depths=[3, 4, 6, 3], layer_type="basic",
                        hidden_sizes=[64, 128, 256, 512]), 224),
    "hf_efficientnet_b1": (_hf("EfficientNetForImageClassification", "EfficientNetConfig", width_coefficient=1.0,
                               depth_coefficient=1.1, image_size=240, hidden_dim=1280), 240),
    "hf_mobilenet_v1_w0.5_r192": (_hf("MobileNetV1ForImageClassification", "MobileNetV1Config", depth_multiplier=0.5,
                                      image_size=192), 192),
    "hf_hiera_tiny": (_hf("HieraForImageClassification", "HieraConfig"), 224),
    "hf_regnet_x_1.6gf": (_hf("RegNetForImageClassification", "RegNetConfig", layer_type="x", groups_width=24,
                              hidden_sizes=[72, 168, 408, 912], depths=[2, 4, 10, 2]), 224),
    "hf_ijepa_small": (_hf("IJepaForImageClassification", "IJepaConfig", hidden_size=384, num_hidden_layers=12,
                           num_attention_heads=6, intermediate_size=1536, patch_size=16), 224),
}


# Nine more, first run on 2026-11-29 at 19:1x UTC, after the 20 above, with the profile then shipped (9 of 9
# within 10%, median 4.3%, all under): they found cross-attention MultiheadAttention read from the query's
# shape (SigLIP's pooling head) and GELU's tanh form timed as the exact one (SigLIP's MLPs).
SPOT_CHECK: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "hf_swiftformer_xs": (_hf("SwiftFormerForImageClassification", "SwiftFormerConfig", depths=[3, 3, 6, 4],
                              embed_dims=[48, 56, 112, 220]), 224),
    "hf_data2vec_vision_s": (_hf("Data2VecVisionForImageClassification", "Data2VecVisionConfig", hidden_size=384,
                                 num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                                 use_mean_pooling=True), 224),
    "hf_vit_msn_s": (_hf("ViTMSNForImageClassification", "ViTMSNConfig", hidden_size=384, num_hidden_layers=12,
                         num_attention_heads=6, intermediate_size=1536, num_labels=1000), 224),
    "hf_clip_vit_b32": (_hf("CLIPForImageClassification", "CLIPConfig", num_labels=1000,
                            vision_config=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                               intermediate_size=3072, patch_size=32, image_size=224)), 224),
    # the text config's vocabulary only silences transformers' check of its token ids (no text tower is built)
    "hf_siglip_s16": (_hf("SiglipForImageClassification", "SiglipConfig", num_labels=1000,
                          text_config=dict(vocab_size=49408),
                          vision_config=dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                             intermediate_size=1536, patch_size=16, image_size=224)), 224),
    "hf_dinov2_reg_s": (_hf("Dinov2WithRegistersForImageClassification", "Dinov2WithRegistersConfig",
                            hidden_size=384, num_hidden_layers=12, num_attention_heads=6, patch_size=14,
                            image_size=224, num_labels=1000), 224),
    "hf_textnet_base": (_hf("TextNetForImageClassification", "TextNetConfig"), 224),
    "hf_pvt_tiny": (_hf("PvtForImageClassification", "PvtConfig"), 224),
    "hf_hgnetv2_b0": (_hf("HGNetV2ForImageClassification", "HGNetV2Config"), 224),
}

def available() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True
