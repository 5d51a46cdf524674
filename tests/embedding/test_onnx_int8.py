"""The onnx-int8 embedder: fidelity to fp32, batching, caching, token counts."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL, Settings
from qa.embedding import SentenceTransformerEmbedder, get_embedder, resolve_model_path
from qa.embedding.onnx_build import _pooling_modes
from qa.embedding.onnx_int8 import OnnxEmbedder
from qa.errors import ConfigError

SENTENCES = [
    "",
    "Hello world.",
    "What does dynamic quantization do to a transformer's weights?",
    "Vitamin D supplementation reduces the risk of fractures in older adults.",
    "Le Conseil a adopté la directive relative à l'efficacité énergétique.",
    "def embed(texts: list[str]) -> np.ndarray:  # returns one row per text",
    "Aspirin, 81 mg/day; p < 0.001; 95% CI 0.72-0.91; n = 12,345 participants.",
    " ".join(["The moon landing in 1969 was watched by millions of people."] * 40),
]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="session")
def onnx_cache(model_dir: Path) -> Path:
    """The tests' model cache (QA_MODEL_DIR), shared with every other test and session."""
    return model_dir


@pytest.fixture(scope="session")
def onnx(onnx_cache: Path) -> OnnxEmbedder:
    """The int8 embedder, built once into the tests' model cache."""
    return OnnxEmbedder(DEFAULT_MODEL, cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def fp32() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL)


def forbid_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached ONNX model should have been reused")

    monkeypatch.setattr("qa.embedding.onnx_build.export_transformer", fail)
    monkeypatch.setattr("qa.embedding.onnx_build.build_onnx_model", fail)


@pytest.mark.slow
def test_vectors_are_normalized_float32_of_dim_384(onnx: OnnxEmbedder) -> None:
    vectors = onnx.embed_documents(SENTENCES)

    assert (onnx.dim, onnx.max_tokens) == (384, 254)
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.embed_query("Hello world.").shape == (384,)
    assert onnx.embed_documents([]).shape == (0, 384)


@pytest.mark.slow
def test_close_to_fp32_sentence_transformers(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder
) -> None:
    # The last sentence is ~520 word pieces: both backends must truncate alike. The
    # empty text is left out: [CLS][SEP] alone is the worst case for int8 (0.97-0.98).
    texts = [t for t in SENTENCES if t]
    cos = cosine(onnx.embed_documents(texts), fp32.embed_documents(texts))

    assert cos.min() > 0.98, cos


@pytest.mark.slow
def test_query_ranking_matches_fp32(onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder) -> None:
    docs = SENTENCES[1:]
    query = "Does taking vitamin D prevent broken bones in elderly people?"

    def ranking(embedder: Any) -> list[int]:
        scores = embedder.embed_documents(docs) @ embedder.embed_query(query)
        return list(np.argsort(-scores))

    assert ranking(onnx)[:2] == ranking(fp32)[:2]


@pytest.fixture(scope="session")
def onnx_fp32(onnx_cache: Path) -> OnnxEmbedder:
    """The unquantized ONNX build: batching must not change its vectors at all."""
    return OnnxEmbedder(DEFAULT_MODEL, cache_dir=onnx_cache, precision="fp32")


# Lengths out of order, with duplicates, so batches mix lengths and need padding.
MIXED = SENTENCES[::-1] + SENTENCES[1:4]


@pytest.mark.slow
def test_default_gives_each_text_the_same_vector_however_submitted(
    onnx: OnnxEmbedder,
) -> None:
    together = onnx.embed_documents(MIXED)
    alone = np.stack([onnx.embed_query(t) for t in MIXED])

    np.testing.assert_allclose(together, alone, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(("batch_size", "max_batch_tokens"), [(3, 4096), (32, 4096), (32, 60)])
def test_padded_length_buckets_match_single_texts_in_fp32(
    onnx_fp32: OnnxEmbedder, fp32: SentenceTransformerEmbedder, batch_size: int,
    max_batch_tokens: int,
) -> None:
    batched = OnnxEmbedder(DEFAULT_MODEL, cache_dir=onnx_fp32.folder.parent, precision="fp32",
                           batch_size=batch_size, max_batch_tokens=max_batch_tokens)
    together = batched.embed_documents(MIXED)
    alone = np.stack([onnx_fp32.embed_query(t) for t in MIXED])

    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert cosine(together, fp32.embed_documents(MIXED)).min() > 0.9999


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [3, 32])
def test_int8_length_buckets_keep_input_order(onnx_cache: Path, batch_size: int) -> None:
    embedder = OnnxEmbedder(DEFAULT_MODEL, cache_dir=onnx_cache, batch_size=batch_size,
                            max_batch_tokens=4096)

    together = embedder.embed_documents(MIXED)
    alone = np.stack([embedder.embed_query(t) for t in MIXED])

    # In int8 a batch shares one activation scale, so batch mates shift a vector
    # a little (cosine ~0.97-0.99); a mix-up of rows would show far lower.
    assert cosine(together, alone).min() > 0.95
    nearest = np.argmax(together @ alone.T, axis=1)
    assert [MIXED[j] for j in nearest] == MIXED


@pytest.mark.slow
def test_concurrent_calls_give_the_same_vectors(onnx: OnnxEmbedder) -> None:
    expected = onnx.embed_documents(SENTENCES)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(onnx.embed_documents(SENTENCES))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.slow
def test_second_construction_reuses_the_cache(
    onnx: OnnxEmbedder, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_file = onnx.folder / "model.onnx"
    mtime = model_file.stat().st_mtime_ns
    forbid_builds(monkeypatch)

    again = OnnxEmbedder(DEFAULT_MODEL, cache_dir=onnx_cache)

    assert model_file.stat().st_mtime_ns == mtime
    np.testing.assert_allclose(
        again.embed_documents(SENTENCES[:3]), onnx.embed_documents(SENTENCES[:3]), atol=1e-6
    )
    assert not again.built
    # Nothing left of a build: no temporary or replaced folders beside the model.
    assert [p.name for p in onnx_cache.iterdir()
            if p.name.startswith(f".{onnx.folder.name}.") and not p.name.endswith(".lock")] == []


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["fingerprint", "manifest", "model"])
def test_stale_or_broken_cache_is_rebuilt(
    onnx: OnnxEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cache = tmp_path / "models"
    folder = cache / onnx.folder.name
    shutil.copytree(onnx.folder, folder)
    manifest = folder / "build.json"
    if damage == "fingerprint":  # e.g. built from other weights or by an older recipe
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps(data | {"fingerprint": "0" * 64}))
    elif damage == "manifest":
        manifest.unlink()
    else:
        (folder / "model.onnx").unlink()
    leftover = cache / f".{folder.name}.build-killed"  # from a build that was killed
    leftover.mkdir()
    builds: list[str] = []

    def fake_build(info: Any, target: Path, fingerprint: str, *args: Any) -> None:
        builds.append(fingerprint)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(onnx.folder, target)
        data = json.loads((target / "build.json").read_text())
        (target / "build.json").write_text(json.dumps(data | {"fingerprint": fingerprint}))

    monkeypatch.setattr("qa.embedding.onnx_build.build_onnx_model", fake_build)

    OnnxEmbedder(DEFAULT_MODEL, cache_dir=cache)
    assert len(builds) == 1
    assert not leftover.exists()
    OnnxEmbedder(DEFAULT_MODEL, cache_dir=cache)  # now fresh: no second build
    assert len(builds) == 1


@pytest.mark.slow
def test_count_tokens_agrees_with_the_tokenizer(onnx: OnnxEmbedder) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(resolve_model_path(DEFAULT_MODEL)) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # tokenizer.json pads to 128 by default
    expected = [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in SENTENCES]

    assert onnx.count_tokens(SENTENCES) == expected
    assert expected[0] == 0 and expected[-1] > 256  # counts are not truncated


@pytest.mark.slow
def test_get_embedder_uses_the_model_dir(
    onnx: OnnxEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models",
                        embed_backend="onnx-int8")
    shutil.copytree(onnx.folder, tmp_path / "models" / onnx.folder.name)
    forbid_builds(monkeypatch)

    embedder = get_embedder(settings)

    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.folder.parent == tmp_path / "models"
    assert not (settings.data_dir / "models").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size=0"),
    ({"max_batch_tokens": 0}, "max_batch_tokens=0"),
    ({"precision": "int4"}, "precision='int4'"),
])
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OnnxEmbedder(DEFAULT_MODEL, cache_dir=tmp_path, **kwargs)


def test_unknown_model_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="QA_EMBED_MODEL"):
        OnnxEmbedder("no-such-model-xyz", cache_dir=tmp_path)


@pytest.mark.parametrize(("config", "modes"), [
    ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, ("mean",)),
    ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": True}, ("cls", "mean")),
    ({"pooling_mode": "cls"}, ("cls",)),
    ({"pooling_mode": ["mean", "max"]}, ("mean", "max")),
    ({}, ("mean",)),
])
def test_pooling_modes_read_old_and_new_configs(
    config: dict[str, Any], modes: tuple[str, ...]
) -> None:
    assert _pooling_modes("m", config) == modes


@pytest.mark.parametrize("config", [
    {"pooling_mode": "lasttoken"}, {"pooling_mode_weightedmean_tokens": True},
])
def test_unsupported_pooling_points_to_the_torch_backend(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="QA_EMBED_BACKEND=torch"):
        _pooling_modes("m", config)
