"""Building the model :mod:`qa.embedding.onnx_int8` runs: the packaged model, quantized.

The first use builds the model once from local weights (nothing is downloaded)
and caches it in ``cache_dir/<model-name>-onnx-int8-<key>/``, where ``cache_dir``
is the user's model cache (see :mod:`qa.model_cache`) and ``<key>`` a hash of the
source model's files and of the build recipe:

1. export the Hugging Face transformer to ONNX with ``torch.onnx.export``
   (dynamic batch and sequence axes, output ``last_hidden_state``);
2. optionally fuse attention, GELU and layer norms with ONNX Runtime's
   transformer optimizer (off by default: measured slower, see QuantRecipe);
3. quantize the weights of the matrix products to int8 per output channel
   with ``onnxruntime.quantization.quantize_dynamic``.

Pooling and L2 normalization follow the model's sentence-transformers config
and run in numpy, so a build needs torch and transformers but inference only
needs onnxruntime, tokenizers and numpy. A ``build.json`` next to the model
records the full fingerprint and the model file's size, time and SHA-256; a
build whose file no longer matches (damaged, truncated) is made again. Builds
take a lock beside the folder and are renamed into place when complete, so
processes that start at once build the model once and never read half of it.

Why not sentence-transformers' own ONNX export and quantization:
docs/decisions/embedding-backend.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from qa.config import DEFAULT_MODEL
from qa.embedding.base import resolve_model_path
from qa.errors import ConfigError, MissingDependencyError
from qa.model_cache import file_record, matches_record, source_sha256

log = logging.getLogger(__name__)

Precision = Literal["int8", "fp32"]

# Bump when the build steps change in a way that alters the produced model.
_BUILD_VERSION = 2
_OPSET = 17
_MANIFEST = "build.json"
_MODEL_FILE = "model.onnx"
_OUTPUT = "last_hidden_state"
# sentence-transformers' pooling modes this backend implements, in the order it
# concatenates them; legacy configs spell them as "pooling_mode_<key>" booleans.
_POOLING_MODES = {"cls": "cls_token", "max": "max_tokens", "mean": "mean_tokens",
                  "mean_sqrt_len_tokens": "mean_sqrt_len_tokens"}
_ST_MODULES = {"transformer", "pooling", "normalize"}  # last part of a modules.json type


@dataclass(frozen=True)
class QuantRecipe:
    """How the int8 model is built; part of the cache fingerprint.

    The defaults were chosen by measurement on SciFact (see
    ``python -m qa_measure.embed_speed``): per-channel QInt8 weights keep the cosine
    to fp32 near 0.995 at no cost in speed, while per-tensor weights drop it to
    about 0.95; QUInt8 weights are as accurate but twice as slow (no VNNI path
    for unsigned weights). Fusing the graph offline with ONNX Runtime's BERT
    optimizer (``optimize``) works, but the fused QAttention ran 10-20% slower
    than the plain graph, which ONNX Runtime fuses partly on its own at load.

    Attributes:
        weight_type: "QInt8" (signed) or "QUInt8" (unsigned) weights.
        per_channel: one scale per output column instead of one per matrix.
        optimize: fuse the graph with ONNX Runtime's transformer optimizer first.
            Off by default: measured slower.
        keep_fp32: regular expression of node names left unquantized ("" for none).
    """

    weight_type: Literal["QInt8", "QUInt8"] = "QInt8"
    per_channel: bool = True
    optimize: bool = False
    keep_fp32: str = ""


@dataclass(frozen=True)
class _ModelInfo:
    """What the build and the pooling need to know about a sentence-transformers folder."""

    path: Path
    max_seq_length: int
    pooling: tuple[str, ...]
    hidden_size: int
    num_heads: int
    model_type: str


def _local_model_dir(model: str) -> Path:
    """The local folder holding ``model``'s files; never downloads."""
    path = Path(resolve_model_path(model)).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        hub_name = model if "/" in model else f"sentence-transformers/{model}"
        return Path(snapshot_download(hub_name, local_files_only=True))
    except Exception as exc:
        raise ConfigError(
            f"embedding model {model!r} is neither a local folder nor in the Hugging Face "
            "cache; set QA_EMBED_MODEL to a local sentence-transformers folder, or unset it "
            "for the packaged default"
        ) from exc


def _read_json(file: Path) -> dict[str, Any]:
    if not file.exists():
        return {}
    data = json.loads(file.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {"items": data}


def _model_info(model: str) -> _ModelInfo:
    """Read the transformer, pooling and length settings of ``model``."""
    path = _local_model_dir(model)
    config = _read_json(path / "config.json")
    if not config:
        raise ConfigError(f"{path} has no config.json; is {model!r} a transformers model?")
    modules = _read_json(path / "modules.json").get("items", [])
    pooling_dir = "1_Pooling"
    for module in modules:
        kind = str(module.get("type", ""))
        short = kind.rsplit(".", 1)[-1].lower()
        if short not in _ST_MODULES:
            raise ConfigError(f"model {model!r} has a {kind} module the onnx-int8 backend "
                              "cannot run; use QA_EMBED_BACKEND=torch")
        if short == "pooling":
            pooling_dir = module.get("path", pooling_dir)
    pooling = _pooling_modes(model, _read_json(path / pooling_dir / "config.json"))
    max_len = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    if not max_len:
        tok_max = _read_json(path / "tokenizer_config.json").get("model_max_length", 512)
        max_len = min(int(tok_max), int(config.get("max_position_embeddings", 512)))
    return _ModelInfo(path=path, max_seq_length=int(max_len), pooling=pooling,
                      hidden_size=int(config.get("hidden_size", 0)),
                      num_heads=int(config.get("num_attention_heads", 0)),
                      model_type=str(config.get("model_type", "")))


def _pooling_modes(model: str, config: dict[str, Any]) -> tuple[str, ...]:
    """The pooling modes of a sentence-transformers Pooling config, old or new style."""
    if "pooling_mode" in config:
        raw = config["pooling_mode"]
        modes = [raw] if isinstance(raw, str) else list(raw)
    else:
        modes = [
            key.removeprefix("pooling_mode_") for key, on in config.items()
            if key.startswith("pooling_mode_") and on
        ]
        legacy = {old: new for new, old in _POOLING_MODES.items()}
        modes = sorted(
            (legacy.get(k, k) for k in modes),
            key=lambda m: list(_POOLING_MODES).index(m) if m in _POOLING_MODES else 99,
        )
    unsupported = [m for m in modes if m not in _POOLING_MODES]
    if unsupported:
        raise ConfigError(f"model {model!r} pools with {', '.join(unsupported)}, which the "
                          "onnx-int8 backend does not implement; use QA_EMBED_BACKEND=torch")
    # New-style lists are concatenated in their own order, legacy flags in ours.
    return tuple(modes) or ("mean",)


_WEIGHTS = {".safetensors", ".bin", ".pt", ".h5", ".onnx", ".msgpack"}


def _fingerprint(info: _ModelInfo, precision: Precision, recipe: QuantRecipe,
                 cache_dir: Path) -> str:
    """A hash of the source model's files and of the build recipe.

    Every file is hashed by content, so the same model installed anywhere maps
    to the same build. Weight files are hashed once and remembered in
    ``cache_dir`` by path, size and time (:func:`qa.model_cache.source_sha256`),
    so a start reads no 90 MB file.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(
        {"build": _BUILD_VERSION, "opset": _OPSET, "precision": precision,
         "recipe": asdict(recipe) if precision == "int8" else None},
        sort_keys=True,
    ).encode())
    for file in sorted(info.path.rglob("*")):
        if not file.is_file() or file.name.startswith(".") or file.suffix == ".md":
            continue
        rel = file.relative_to(info.path).as_posix()
        if file.suffix in _WEIGHTS or file.stat().st_size >= 5_000_000:
            digest.update(f"{rel}:{source_sha256(file, cache_dir)}".encode())
        else:
            digest.update(rel.encode() + file.read_bytes())
    return digest.hexdigest()


def _slug(model: str) -> str:
    name = Path(model.rstrip("/")).name or DEFAULT_MODEL
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _is_fresh(folder: Path, fingerprint: str) -> bool:
    """Whether ``folder`` holds a complete, undamaged build with this fingerprint."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != fingerprint:
        return False
    record = manifest.get("model")
    if not isinstance(record, dict):
        return False
    if not matches_record(folder / _MODEL_FILE, record):
        log.warning("%s does not match its build record; building it again",
                    folder / _MODEL_FILE)
        return False
    return True


class _DropBelow(logging.Filter):
    """Drops records under ``level`` logged from files under ``prefix``."""

    def __init__(self, prefix: str, level: int) -> None:
        super().__init__()
        self.prefix = prefix
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or not record.pathname.startswith(self.prefix)


@contextlib.contextmanager
def _quiet_onnxruntime_tools() -> Iterator[None]:
    """Silence the optimizer's and quantizer's chatter while a build runs.

    The quantizer logs dozens of lines per model on the root logger and the
    transformer optimizer on loggers named after its bare modules ("fusion_base",
    "onnx_model", ...); none of it is actionable for a qa user.
    """
    import onnxruntime

    package = Path(onnxruntime.__file__).parent
    root_filter = _DropBelow(str(package), logging.ERROR)
    logging.getLogger().addFilter(root_filter)
    named = [logging.getLogger(f.stem) for f in (package / "transformers").glob("*.py")]
    levels = [logger.level for logger in named]
    for logger in named:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(root_filter)
        for logger, level in zip(named, levels, strict=True):
            logger.setLevel(level)


def export_transformer(info: _ModelInfo, out_file: Path) -> None:
    """Export the model's transformer to ONNX with dynamic batch and sequence axes."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - core dependencies
        raise MissingDependencyError("torch", "core", "Building the ONNX model") from exc

    from transformers.utils import logging as hf_logging

    # No "Loading weights" progress bar in a library call; restored afterwards.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        # Eager attention traces to plain MatMul/Softmax, which ORT optimizes well.
        model = AutoModel.from_pretrained(str(info.path), attn_implementation="eager").eval()
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    import inspect

    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # One padded row, so the traced graph keeps the general masking path.
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    dummy = (ids, mask, torch.zeros_like(ids))[: len(names)]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, _OUTPUT]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        torch.onnx.export(
            _LastHidden(model), dummy, str(out_file), input_names=names,
            output_names=[_OUTPUT], dynamic_axes=axes, opset_version=_OPSET,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )


def optimize_graph(info: _ModelInfo, src: Path, dst: Path) -> bool:
    """Fuse attention and layer norms with ONNX Runtime's BERT optimizer.

    Returns:
        True if ``dst`` was written, False if the model is not BERT-like or the
        optimizer failed (the caller then uses ``src`` as is).
    """
    if info.model_type != "bert":  # the only fusion pattern verified here
        return False
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(src), model_type="bert", num_heads=info.num_heads,
            hidden_size=info.hidden_size, opt_level=0, use_gpu=False,
        )
        optimized.save_model_to_file(str(dst))
        fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
        log.info("fused operators: %s", fused)
        return True
    except Exception as exc:  # the optimizer is best effort; an unfused model still works
        log.warning("ONNX graph optimization failed (%s); quantizing the unfused graph", exc)
        return False


def quantize_graph(src: Path, dst: Path, recipe: QuantRecipe) -> None:
    """Quantize the weights of MatMul and fused Attention nodes to int8 (dynamic)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude: list[str] = []
    if recipe.keep_fp32:
        pattern = re.compile(recipe.keep_fp32)
        graph = onnx.load(str(src), load_external_data=False).graph
        exclude = [n.name for n in graph.node if pattern.search(n.name)]
    # Embedding lookups (Gather) stay fp32: a table lookup gains no speed from int8,
    # only a smaller file (58 MB instead of 23 MB for all-MiniLM-L6-v2).
    quantize_dynamic(
        str(src), str(dst),
        weight_type=QuantType.QInt8 if recipe.weight_type == "QInt8" else QuantType.QUInt8,
        per_channel=recipe.per_channel, op_types_to_quantize=["MatMul", "Attention"],
        nodes_to_exclude=exclude, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def build_onnx_model(
    info: _ModelInfo, target: Path, fingerprint: str, precision: Precision, recipe: QuantRecipe
) -> None:
    """Build the ONNX model into ``target``, atomically replacing a stale build."""
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        work.chmod(0o755)  # mkdtemp makes it private to the builder
        exported = work / "exported.onnx"
        export_transformer(info, exported)
        current = exported
        with _quiet_onnxruntime_tools():
            if recipe.optimize and optimize_graph(info, exported, work / "optimized.onnx"):
                current = work / "optimized.onnx"
            if precision == "int8":
                quantize_graph(current, work / _MODEL_FILE, recipe)
            else:
                current.rename(work / _MODEL_FILE)
        for leftover in work.glob("*.onnx"):
            if leftover.name != _MODEL_FILE:
                leftover.unlink()
        import onnxruntime

        (work / _MANIFEST).write_text(json.dumps({
            "fingerprint": fingerprint, "model": file_record(work / _MODEL_FILE),
            "source": str(info.path), "precision": precision, "recipe": asdict(recipe),
            "onnxruntime": onnxruntime.__version__,
            "build_seconds": round(time.perf_counter() - started, 1),
        }, indent=2))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        work.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("built %s in %.1fs", target, time.perf_counter() - started)
