"""Resolve what the user named: a bundled model, `path/to/file.py:factory` or `package.module:factory`.

Every model is built on ``meta`` unless a device is asked for: a LLaMA-7B-shaped factory costs nothing
there. ``LoadedModel.analyze`` passes ``analyze`` a way to build the model again on a real device, for
the forwards that need data.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from flopcount.errors import ForwardError, ModelBuildError, ModelLoadError, UsageError
from flopcount.inputs import InputSpec


@dataclass
class LoadedModel:
    model: Any
    name: str
    default_inputs: list[InputSpec] | None  # None: the user must give --input-size
    device: str  # where the model was built
    requested_device: str | None = None  # the device the user asked for; None: meta, with a fallback
    build: Callable[[Any], Any] | None = None  # build(device) -> the same model, in eval mode, there
    # keyword inputs this kind of model needs for a sequence length (hf: models), else None
    named_defaults: Callable[[int], dict[str, InputSpec]] | None = None
    meta_only: bool = False  # built from a config without weights: never materialised on a real device

    def __post_init__(self) -> None:
        if self.meta_only:
            self.requested_device = "meta"  # no fallback to cpu: that would allocate every weight

    def analyze(self, input_size: Any = None, **options: Any):
        """``analysis.analyze`` of this model on the device asked for, with the fallback to a real
        device (a rebuild on cpu) when its forward needs data. A mapping of names to InputSpecs is
        passed as keyword inputs."""
        from flopcount.analysis import analyze
        from flopcount.inputs import make_tensor

        options.setdefault("name", self.name)
        keywords = {}
        if isinstance(input_size, Mapping):
            keywords = {"inputs": {name: make_tensor(spec, self.device) for name, spec in input_size.items()}}
            input_size = None
        try:
            return analyze(self.model, input_size, device=self.requested_device, materialize=self.build, **keywords,
                           **options)
        except ForwardError as error:
            raise meta_only_error(self.name, error) if self.meta_only else error


def meta_only_error(name: str, error: Exception) -> Exception:
    """The error of a model built only on meta whose forward read an input's values, with what to do."""
    if "needs data" not in str(error):
        return error
    cause = str(error.__cause__ or error).strip().splitlines()[0]
    return ForwardError(f"{name} is built from its config, on meta only, and its forward reads the values of an "
                        f"input ({cause}): leave such inputs out (an all-ones attention_mask costs what no mask "
                        "costs)")


def resolve_device(text: Any) -> "torch.device":
    """The torch.device named by ``text`` ('cpu', 'meta', 'cuda', 'cuda:1', 'mps', or a torch.device),
    refusing in words one that does not exist or is not available here."""
    import torch

    if isinstance(text, torch.device):
        device = text
    else:
        try:
            device = torch.device(str(text).strip())
        except (RuntimeError, ValueError):
            raise UsageError(f"unknown device '{text}': use cpu, meta, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{text}' asked for, but no CUDA device is available to this torch "
                             f"({torch.__version__}); use --device cpu or meta")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device '{text}' asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"device '{text}' asked for, but MPS is not available here; use --device cpu or meta")
    elif device.type not in ("cpu", "meta", "cuda", "mps"):
        raise UsageError(f"device '{text}' is not supported: use cpu, meta, cuda, cuda:N or mps")
    return device


def parse_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--kwargs is not valid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(value, dict):
        raise UsageError("--kwargs must be a JSON object, e.g. '{\"width_mult\": 0.5}'")
    return value


def is_user_reference(name: str) -> bool:
    return ":" in name


def load_factory(reference: str):
    """The callable named by 'path/to/file.py:factory' or 'package.module:factory'."""
    target, _, attr = reference.rpartition(":")
    if not target or not attr:
        raise ModelLoadError(f"'{reference}' is not of the form path/to/file.py:factory or package.module:factory")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise ModelLoadError(f"no such file: {target}")
        module_name = f"_flopcount_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise ModelLoadError(f"importing {target} failed: {type(error).__name__}: {_first_line(error)}") from error
    else:
        module = _import_from_cwd(target)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ModelLoadError(f"'{target}' has no callable named '{attr}'")
    return factory


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _import_from_cwd(target: str):
    """``importlib.import_module`` with the current directory first on the path, as ``python -m`` has it
    (the installed console script does not), so ``mypkg.models:factory`` works from the project root."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        if error.name and (target == error.name or target.startswith(error.name + ".")):
            raise ModelLoadError(f"cannot import module '{target}': no module named '{error.name}' "
                                 f"(looked in {cwd} and the installed packages)") from error
        raise ModelLoadError(f"importing module '{target}' failed: {type(error).__name__}: {_first_line(error)}") from error
    except Exception as error:  # the user's package raised while importing
        raise ModelLoadError(f"importing module '{target}' failed: {type(error).__name__}: {_first_line(error)}") from error
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def load_model(name: str, kwargs: dict[str, Any] | None = None, device: str | None = None) -> LoadedModel:
    """Build the named model in eval mode, on ``meta`` unless a device is given (user factories too:
    nothing of the size of the weights is allocated)."""
    import torch

    kwargs = kwargs or {}
    from flopcount.llm.loading import is_prefixed, load_prefixed

    if is_prefixed(name):  # hf:, torchvision:, timm: build through their own libraries, on meta
        return load_prefixed(name, kwargs, device)
    if is_user_reference(name):
        factory = load_factory(name)
        defaults = None
    else:
        from flopcount.zoo import get_spec

        spec = get_spec(name)
        factory = lambda **kw: spec.build(**kw)  # noqa: E731
        defaults = [InputSpec(spec.input_size)]
    build_device = resolve_device(device) if device is not None else torch.device("meta")

    def build(where: Any) -> torch.nn.Module:
        with torch.device(where):
            model = factory(**kwargs)
        if not isinstance(model, torch.nn.Module):
            raise ModelBuildError(f"{name} returned {type(model).__name__}, not a torch.nn.Module")
        return model.eval()

    try:
        model = build(build_device)
    except ModelBuildError:
        raise
    except Exception as error:
        hint = "; it cannot be built on meta: use --device cpu" if device is None else ""
        raise ModelBuildError(f"building {name} on {build_device} failed: {type(error).__name__}: "
                              f"{_first_line(error)}{hint}") from error
    return LoadedModel(model, name, defaults, str(build_device), device, build)


SEQ_LEN_WITH_SHAPES = ("--seq-len sets the default inputs of hf: models; with --input-size or --input, give the "
                       "sequence length in the shapes")


def resolve_inputs(loaded: LoadedModel, input_size: list[str] | None, named: list[str] | None = None,
                   seq_len: int | None = None) -> list[InputSpec] | dict[str, InputSpec]:
    """The inputs to analyse ``loaded`` on: positional specs (a list) or keyword ones (a dict).

    The given ones (see ``given_inputs``), else the model's defaults: a bundled model's input size, or
    the keyword inputs of an hf: model's kind for ``seq_len`` tokens.
    """
    if seq_len is not None and loaded.named_defaults is None:
        raise UsageError(f"--seq-len applies to hf: models; give {loaded.name} an --input-size")
    if seq_len is not None and (input_size or named):
        raise UsageError(SEQ_LEN_WITH_SHAPES)
    given = given_inputs(loaded.model, input_size, named)
    if given is not None:
        return given
    if loaded.named_defaults is not None:
        return loaded.named_defaults(seq_len or 128)
    if loaded.default_inputs is None:
        raise UsageError(f"{loaded.name}: give --input-size (e.g. --input-size 1x3x224x224)")
    return loaded.default_inputs


def given_inputs(model: Any, input_size: list[str] | None, named: list[str] | None,
                 keywords: bool = False) -> list[InputSpec] | dict[str, InputSpec] | None:
    """The inputs given on the command line, None if none: ``input_size`` shapes alone are positional
    (a list) unless ``keywords``; ``named`` ('input_ids=1x2048:int64') are keyword inputs, beside which
    the positional shapes take the names of the forward's first parameters."""
    from flopcount.inputs import parse_input_spec

    positional = [parse_input_spec(text) for text in input_size or []]
    if not named:
        return (bind_inputs(model, positional, {}) if keywords else positional) if positional else None
    from flopcount.llm.inputs import parse_named_inputs

    return bind_inputs(model, positional, parse_named_inputs(named))


def bind_inputs(model: Any, positional: list[InputSpec], named: dict[str, InputSpec]) -> dict[str, InputSpec]:
    """Positional and keyword inputs as keywords only, the positional ones named after the first
    parameters of ``model.forward`` (the analysis calls the forward with one or the other)."""
    import inspect

    from flopcount.errors import InputSpecError

    try:
        bound = inspect.signature(model.forward).bind_partial(*positional, **named)
    except TypeError as error:
        raise InputSpecError(f"--input-size and --input do not fit the forward of {type(model).__name__}: "
                             f"{error}") from None
    keywords: dict[str, InputSpec] = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            raise InputSpecError(f"the forward of {type(model).__name__} takes *{name}: give its inputs by "
                                 "position only (--input-size)")
        keywords.update(value if kind is inspect.Parameter.VAR_KEYWORD else {name: value})
    return keywords
