"""The model cache: one build per machine and user, shared, safe at once, rebuilt if damaged.

The concurrency tests start real processes: two build the real int8 model into
one empty cache at the same time, two join fake GGUF parts at the same time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.llm import gguf
from qa.model_cache import file_record, matches_record, source_sha256

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process whose model cache is the user cache under tmp."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), **extra}
    env.pop("QA_MODEL_DIR", None)
    return env


# --- where the cache is ---------------------------------------------------------------------


def test_the_user_cache_is_the_default_for_every_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QA_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    one = Settings.from_env(data_dir=tmp_path / "one")
    two = Settings.from_env(data_dir=tmp_path / "two")
    assert one.models_dir == two.models_dir == tmp_path / "xdg" / "qa"
    assert gguf.local_model_path(one) == gguf.local_model_path(two)


def test_without_xdg_the_cache_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QA_MODEL_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore it
    assert Settings.from_env().models_dir == tmp_path / ".cache" / "qa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Settings.from_env().models_dir == tmp_path / ".cache" / "qa"


def test_qa_model_dir_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("QA_MODEL_DIR", str(tmp_path / "mine"))
    assert Settings.from_env().models_dir == tmp_path / "mine"


def test_the_gguf_name_carries_its_pinned_hash(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path)
    path = gguf.local_model_path(settings)
    assert path.parent == tmp_path and gguf.GGUF_SHA256[:12] in path.name
    assert gguf.local_model_path(settings, "f" * 64) != path  # another model, another file


# --- records and source hashes ------------------------------------------------------------


def test_a_record_catches_damage_of_any_kind(tmp_path: Path) -> None:
    file = tmp_path / "model.bin"
    file.write_bytes(b"weights" * 1000)
    record = file_record(file)
    assert matches_record(file, record)
    shutil.copy(file, tmp_path / "copy.bin")  # a copy: new time, same bytes
    assert matches_record(tmp_path / "copy.bin", record)
    file.write_bytes(b"weights" * 999)  # truncated
    assert not matches_record(file, record)
    file.write_bytes(b"Weights" + b"weights" * 999)  # same size, other bytes
    assert not matches_record(file, record)
    file.unlink()
    assert not matches_record(file, record)


def test_source_hashes_are_remembered_and_follow_changes(tmp_path: Path) -> None:
    weights = tmp_path / "src" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"a" * 4096)
    cache = tmp_path / "cache"
    first = source_sha256(weights, cache)
    assert first == hashlib.sha256(b"a" * 4096).hexdigest()
    assert len(json.loads((cache / ".source-hashes.json").read_text())) == 1
    weights.write_bytes(b"b" * 4096)  # a reinstall: new time, new content
    assert source_sha256(weights, cache) == hashlib.sha256(b"b" * 4096).hexdigest()
    memo = json.loads((cache / ".source-hashes.json").read_text())
    assert list(memo.values()) == [hashlib.sha256(b"b" * 4096).hexdigest()]  # old entry gone


# --- the real int8 build, by two processes at once -------------------------------------------

BUILD_SCRIPT = """
import json, sys
from qa.config import Settings
from qa.embedding import get_embedder
e = get_embedder(Settings.from_env())
print(json.dumps({"built": e.built, "folder": str(e.folder),
                  "vector": [round(float(x), 6) for x in e.embed_query("moon landing")[:8]]}))
"""


@pytest.mark.slow
def test_two_processes_build_once_and_data_dirs_share_the_build(tmp_path: Path) -> None:
    started = [
        subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=child_env(tmp_path, QA_DATA_DIR=str(tmp_path / name)))
        for name in ("data-a", "data-b")
    ]
    outputs = []
    for proc in started:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    assert sorted(o["built"] for o in outputs) == [False, True]  # one built, one waited
    folder = Path(outputs[0]["folder"])
    assert outputs[1]["folder"] == str(folder)
    assert folder.parent == tmp_path / "xdg" / "qa"
    assert outputs[0]["vector"] == outputs[1]["vector"]
    leftovers = [p.name for p in folder.parent.iterdir()
                 if p != folder and not p.name.endswith(".lock") and p.name != ".source-hashes.json"]
    assert leftovers == []
    manifest = (folder / "build.json").stat().st_mtime_ns

    # A third data directory: `qa ingest` uses the same build and builds nothing.
    done = subprocess.run([sys.executable, "-m", "qa", "ingest", str(SEEDS), "--no-progress"],
                          capture_output=True, text=True, timeout=600,
                          env=child_env(tmp_path, QA_DATA_DIR=str(tmp_path / "data-c")))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "added" in done.stdout
    assert (folder / "build.json").stat().st_mtime_ns == manifest
    assert [p.name for p in folder.parent.iterdir() if p.is_dir()] == [folder.name]


# --- damage -------------------------------------------------------------------------------


@pytest.fixture
def cache_copy(embedder: Any, tmp_path: Path) -> Path:
    """A private cache holding a copy of the session's int8 build."""
    cache = tmp_path / "cache"
    shutil.copytree(embedder.folder, cache / embedder.folder.name)
    return cache


def count_builds(monkeypatch: pytest.MonkeyPatch, good: Path) -> list[str]:
    """Replace the build by a copy of ``good`` and record each call."""
    builds: list[str] = []

    def fake_build(info: Any, target: Path, fingerprint: str, *args: Any) -> None:
        builds.append(fingerprint)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(good, target)

    monkeypatch.setattr("qa.embedding.onnx_build.build_onnx_model", fake_build)
    return builds


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "bytes changed", "header broken, time kept"])
def test_a_damaged_build_is_made_again(
    embedder: Any, cache_copy: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    from qa.embedding.onnx_int8 import OnnxEmbedder

    model = cache_copy / embedder.folder.name / "model.onnx"
    data = bytearray(model.read_bytes())
    st = model.stat()
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif damage == "bytes changed":
        data[len(data) // 3: len(data) // 3 + 4096] = b"\xff" * 4096
        model.write_bytes(bytes(data))
    else:  # size and time as recorded: only loading the model can tell
        data[:64] = b"\xff" * 64
        model.write_bytes(bytes(data))
        os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    builds = count_builds(monkeypatch, embedder.folder)

    again = OnnxEmbedder(embedder.name, cache_dir=cache_copy)

    assert len(builds) == 1 and again.built
    assert again.folder == model.parent
    assert model.read_bytes() == (embedder.folder / "model.onnx").read_bytes()
    vector = again.embed_query("moon landing")
    assert abs(float((vector * embedder.embed_query("moon landing")).sum()) - 1) < 1e-5


@pytest.mark.slow
def test_an_intact_build_is_trusted_without_a_build(
    embedder: Any, cache_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.embedding.onnx_int8 import OnnxEmbedder

    builds = count_builds(monkeypatch, embedder.folder)
    again = OnnxEmbedder(embedder.name, cache_dir=cache_copy)
    assert builds == [] and not again.built


# --- the GGUF, joined by two processes at once ------------------------------------------------

JOIN_SCRIPT = """
import logging, sys, time
from pathlib import Path
from qa.llm import gguf
logging.basicConfig(level=logging.INFO, format="%(message)s")
dest, sha, go, *parts = sys.argv[1:]
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
def slow_parts():
    time.sleep(0.5)  # as reading 22 packages takes a while
    return [Path(p) for p in parts]
print(gguf.ensure_model_file(Path(dest), slow_parts, sha))
"""


def test_two_processes_join_the_gguf_once(tmp_path: Path) -> None:
    blocks = [os.urandom(3 << 20) for _ in range(3)]
    parts = []
    for i, block in enumerate(blocks):
        parts.append(tmp_path / f"part{i}")
        parts[-1].write_bytes(block)
    sha = hashlib.sha256(b"".join(blocks)).hexdigest()
    dest, go = tmp_path / "cache" / "model.gguf", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", JOIN_SCRIPT, str(dest), sha, str(go),
                               *map(str, parts)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    logs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == str(dest)
        logs.append(err)

    assert sum("Assembling" in log for log in logs) == 1
    assert dest.read_bytes() == b"".join(blocks)
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        ".model.gguf.lock", "model.gguf", "model.gguf.verified"]


def test_a_damaged_gguf_is_joined_again(tmp_path: Path) -> None:
    parts = [tmp_path / "a", tmp_path / "b"]
    parts[0].write_bytes(b"GGUF" + b"x" * 5000)
    parts[1].write_bytes(b"y" * 3000)
    whole = parts[0].read_bytes() + parts[1].read_bytes()
    sha = hashlib.sha256(whole).hexdigest()
    dest = tmp_path / "cache" / "m.gguf"
    calls: list[float] = []

    def counted() -> list[Path]:
        calls.append(time.monotonic())
        return parts

    gguf.ensure_model_file(dest, counted, sha)
    gguf.ensure_model_file(dest, counted, sha)
    assert len(calls) == 1
    dest.write_bytes(whole[:-10])  # truncated, e.g. a full disk
    assert gguf.ensure_model_file(dest, counted, sha).read_bytes() == whole
    assert len(calls) == 2
