"""Every option shared by two or more commands, declared once (name, metavar, help)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FORMAT_HELP = "table (rich, for terminals), json (with schema_version), csv or markdown."


class PageFormat(str, Enum):
    """The formats of a command that can also write an HTML page."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"


PAGE_FORMAT_HELP = ("table (rich, for terminals), json (with schema_version), csv, markdown or html (one "
                    "self-contained offline page: give -o report.html, or pipe it).")


MODEL_HELP = ("A bundled model (see `flopcount list`), path/to/file.py:factory, package.module:factory, or "
              "hf:NAME (a bundled config such as llama-2-7b, a config.json or model directory, a hub id), "
              "torchvision:NAME, timm:NAME (built from their configs, without weights).")
ModelArgument = Annotated[str, typer.Argument(
    metavar="MODEL", help=MODEL_HELP)]
OptionalModelArgument = Annotated[Optional[str], typer.Argument(
    metavar="MODEL", help=MODEL_HELP)]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)]
WidthOption = Annotated[Optional[int], typer.Option(
    "--width", min=20, metavar="COLUMNS", help="Console width for tables (default: the terminal's).")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")]
InputSizeOption = Annotated[Optional[list[str]], typer.Option(
    "--input-size", "-i", metavar="SHAPE",
    help="Input shape like 1x3x224x224 (':int64' for token ids); repeat for several inputs.")]
KwargsOption = Annotated[Optional[str], typer.Option(
    "--kwargs", metavar="JSON", help="JSON object of keyword arguments for the factory.")]
DeviceOption = Annotated[Optional[str], typer.Option(
    "--device", metavar="TORCH_DEVICE",
    help="torch device to build and analyse on (default: meta for bundled models, cpu for yours).")]
ProfileOption = Annotated[Optional[str], typer.Option(
    "--profile", metavar="NAME|PATH",
    help="Hardware profile: a name among the bundled device profiles (cpu_measured, phone, h100) or a .toml path.")]
LatencyProfileOption = Annotated[str, typer.Option(
    "--profile", metavar="NAME|PATH",
    help="Latency profile: a name (yours from `flopcount calibrate`, or the shipped cpu_measured) or a .json path.")]


class HostSpeed(str, Enum):
    calibrated = "calibrated"
    now = "now"


HostSpeedOption = Annotated[HostSpeed, typer.Option(
    "--host-speed", case_sensitive=False,
    help="calibrated: predict the machine as it ran while the profile was calibrated. now: on that same "
         "machine, re-time 100 of the profile's kernels first (2-3 s) and scale the prediction by how much "
         "faster or slower they run now; a shared host's speed moves by 10% within an hour, and the kernels "
         "track a whole model's speed to a few percent.")]
TopOption = Annotated[Optional[int], typer.Option("--top", min=1, metavar="K", help="Show only the first K rows.")]
ThreadsOption = Annotated[int, typer.Option(
    "--threads", min=1, metavar="N",
    help="Intra-op CPU threads for timing (1: steady timings, the paper's ARM setting).")]
RepeatsOption = Annotated[int, typer.Option("--repeats", min=1, metavar="N", help="Timed forwards per measurement.")]
MeasureOption = Annotated[bool, typer.Option(
    "--measure", help="Also time every layer on this CPU (adds measured columns).")]
FlopsPerMacOption = Annotated[int, typer.Option(
    "--flops-per-mac", min=1, max=2, metavar="1|2",
    help="1: FLOPs = multiply-adds. 2: every op's FLOPs doubled, as torch's FlopCounterMode counts conv, linear "
         "and matmul; ops without multiply-adds (ReLU, softmax, pooling, norms, element-wise) double too, so "
         "with 2 only the paper total is comparable to other tools.")]
PageFormatOption = Annotated[PageFormat, typer.Option("--format", "-f", help=PAGE_FORMAT_HELP)]
OutputOption = Annotated[Optional[Path], typer.Option(
    "--output", "-o", metavar="PATH", help="Write the result to this file instead of stdout.")]
BaselineOption = Annotated[Optional[str], typer.Option(
    "--baseline", metavar="MODEL|FILE.json[#ID]",
    help="-f html: a before/after view against another model (same input), a saved report (analyze -f json) "
         "or a budget baseline entry (configs/budgets.baseline.json#mobilenet_v2).")]
NamedInputOption = Annotated[Optional[list[str]], typer.Option(
    "--input", metavar="NAME=SHAPE",
    help="A keyword input of the forward, e.g. input_ids=1x2048:int64; repeat for several. With --input-size "
         "too, the positional shapes fill the forward's first parameters.")]
SeqLenOption = Annotated[Optional[int], typer.Option(
    "--seq-len", min=1, metavar="N",
    help="Tokens of the default inputs of hf: models (input_ids; decoder_input_ids too for an encoder-decoder). "
         "Default 128.")]


class Phase(str, Enum):
    prefill = "prefill"
    decode = "decode"


class WeightDtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"
    int4 = "int4"


PhaseOption = Annotated[Optional[list[Phase]], typer.Option(
    "--phase", help="hf: models: the cost of a prefill (the --seq-len prompt) or of one decode token against "
                    "--context cached ones, instead of the per-layer table; repeat for both.")]
ContextOption = Annotated[Optional[int], typer.Option(
    "--context", min=0, metavar="L", help="Tokens already in the KV cache for --phase decode (default: --seq-len).")]
WeightDtypeOption = Annotated[WeightDtype, typer.Option(
    "--dtype", help="Storage of weights and KV cache for --phase (bytes moved, memory, fit).")]
ProfilesOption = Annotated[Optional[list[str]], typer.Option(
    "--profile", metavar="NAME|PATH",
    help="With --phase: a device profile (cpu_measured, phone, h100, or a .toml path) to bound prefill time and "
         "decode tokens/s and check that weights + KV cache fit; repeat for several.")]
ExpandOption = Annotated[bool, typer.Option(
    "--expand", "--all-layers",
    help="Show every layer call; by default a block repeated identically (the 32 layers of an LLM) is shown once "
         "with its count.")]


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


class Amp(str, Enum):
    bf16 = "bf16"
    fp16 = "fp16"


TrainOption = Annotated[bool, typer.Option(
    "--train", help="Analyse one training step on meta: forward + backward + optimizer step (FLOPs and memory).")]
OptimizerOption = Annotated[Optimizer, typer.Option(
    "--optimizer", help="Optimizer of --train: its state is none (sgd), 1x (momentum) or 2x (adam, adamw) the parameters.")]
AmpOption = Annotated[Optional[Amp], typer.Option(
    "--amp", help="Mixed precision for --train: half weights and activations, fp32 master weights in the optimizer.")]


def analysis_options(train: bool, optimizer: Optimizer, amp: Amp | None) -> dict:
    """``analyze`` keywords for --train/--optimizer/--amp: one training step, or live memory of the forward."""
    from flopcount.errors import UsageError

    if not train and (amp is not None or optimizer is not Optimizer.adamw):
        raise UsageError("--optimizer and --amp describe a training step: add --train")
    return {"train": True, "optimizer": optimizer.value, "amp": amp and amp.value} if train else {"memory": True}
