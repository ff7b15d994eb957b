"""The int8 ONNX encoder (the default): exported locally from the packaged model, close to the
torch encoder (the option), deterministic per text, kept in its own collection, and free of
torch at run time."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from retrieval.assistant import Assistant
from retrieval.errors import IndexUnavailable, ModelUnavailable
from retrieval.index.embedding import Embedder, model_dir
from retrieval.index.onnx_encoder import MODEL_FILE, OnnxInt8Encoder, export_dir
from retrieval.index.store import Index, open_client
from retrieval.settings import Settings

from tests.conftest import CORPUS, ROOT

SENTENCES = ["Kataib Hezbollah said it would not hand over its weapons.",
             "The prime minister met militia leaders in Baghdad on Tuesday.",
             "Parliament debated the law on the Popular Mobilization Forces.",
             "Rain is expected in the north of the country this weekend."]


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("models")
    Embedder(encoder="onnx-int8", cache_dir=cache)      # exports once for the session
    return cache


@pytest.fixture(scope="session")
def int8(int8_cache) -> Embedder:
    return Embedder(encoder="onnx-int8", cache_dir=int8_cache)


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(encoder="torch")


def test_export_is_written_once_in_a_folder_keyed_by_the_model(int8_cache, int8):
    target = export_dir(model_dir(int8.model_name), int8_cache)
    assert [p.name for p in int8_cache.iterdir()] == [target.name]
    written = (target / MODEL_FILE).stat().st_mtime_ns
    Embedder(encoder="onnx-int8", cache_dir=int8_cache)
    assert (target / MODEL_FILE).stat().st_mtime_ns == written
    assert sorted(p.name for p in target.iterdir()) == ["1_Pooling", MODEL_FILE, "modules.json",
                                                         "sentence_bert_config.json", "tokenizer.json"]
    assert int8.identity == "sentence-transformers/all-MiniLM-L6-v2 (onnx-int8)"


def test_the_quantized_weights_are_unsigned_so_every_cpu_sums_them_exactly(int8_cache, int8):
    """Signed int8 weights against u8 activations saturate on CPUs without VNNI, so the same
    text got another vector on another machine; u8 x u8 products are summed exactly."""
    import onnx

    model = onnx.load(str(export_dir(model_dir(int8.model_name), int8_cache) / MODEL_FILE))
    weights = {i.name: i.data_type for i in model.graph.initializer}
    products = [n for n in model.graph.node if n.op_type == "MatMulInteger"]
    assert len(products) == 36      # 6 layers x (query, key, value, attention output, feed-forward in, out)
    assert {weights.get(n.input[1]) for n in products} == {onnx.TensorProto.UINT8}


def test_vectors_are_close_to_the_torch_encoder_and_rank_alike(int8, torch_embedder):
    a, b = np.array(int8.embed_documents(SENTENCES)), np.array(torch_embedder.embed_documents(SENTENCES))
    assert a.shape == b.shape == (4, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.97
    query = "Will the militias give up their arms?"
    assert np.argsort(a @ np.array(int8.embed_query(query))).tolist() == \
        np.argsort(b @ np.array(torch_embedder.embed_query(query))).tolist()


def test_a_texts_vector_does_not_depend_on_its_batch(int8):
    alone = np.array([int8.embed_query(s) for s in SENTENCES])
    together = np.array(int8.embed_documents(SENTENCES))
    assert np.array_equal(alone, together)
    assert int8.embed_documents([]) == []


def test_unsupported_model_pipelines_are_refused_before_loading(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(model_dir("sentence-transformers/all-MiniLM-L6-v2"), model)
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    (model / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode_max_tokens": True}))
    with pytest.raises(ModelUnavailable, match="supports Transformer -> Pooling"):
        OnnxInt8Encoder(model)
    with pytest.raises(ModelUnavailable, match="Unknown encoder 'onnx-fp16'"):
        Embedder(encoder="onnx-fp16")


def test_each_encoder_has_its_own_collection_and_an_index_refuses_another_model(tmp_path, int8, int8_cache,
                                                                                torch_embedder):
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=CORPUS, encoder="onnx-int8", model_cache_dir=int8_cache)
    fast = Assistant(settings, embedder=int8)
    fast.ingest()
    answer = fast.ask("What did Khamenei say about the PMF?")
    assert not answer.abstained
    for quote in answer.quotes:
        assert (CORPUS / quote.source).read_text(encoding="utf-8")[quote.start:quote.end] == quote.text
    client = open_client(settings)
    assert sorted(c.name for c in client.list_collections()) == ["articles-onnx-int8-v3", "articles-onnx-int8-v3-articles",
                                                                  "articles-onnx-int8-v3-changes"]
    plain = Assistant(settings.model_copy(update={"encoder": "torch"}), embedder=torch_embedder)
    assert plain.index.chunks.count() == 0            # the torch collection starts empty: no mixed vectors
    with pytest.raises(IndexUnavailable, match="holds vectors of 'sentence-transformers/all-MiniLM-L6-v2 "
                                               r"\(onnx-int8\)', not of 'another-model'"):
        Index(client, "articles-onnx-int8-v3", "another-model")


def test_an_index_written_by_the_earlier_export_is_left_alone_and_the_corpus_indexed_afresh(tmp_path, int8,
                                                                                           int8_cache):
    """Export format 2 (signed weights) wrote ``articles-onnx-int8``; its vectors must not meet the new ones."""
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=CORPUS, encoder="onnx-int8", model_cache_dir=int8_cache)
    old = Index(open_client(settings), "articles-onnx-int8", int8.identity)
    old.chunks.add(ids=["old"], embeddings=[[0.0] * 383 + [1.0]], documents=["a chunk of the earlier export"])
    upgraded = Assistant(settings, embedder=int8)
    upgraded.ingest()
    assert upgraded.index.chunks.name == "articles-onnx-int8-v3"
    assert upgraded.index.chunks.count() == len(upgraded.snapshot.chunks) > 0
    assert "old" not in upgraded.index.chunks.get(include=[])["ids"]
    assert old.chunks.get(include=[])["ids"] == ["old"]


def test_a_process_answering_with_the_default_encoder_never_imports_torch(tmp_path, int8_cache):
    """With the default settings, answering from a built index needs neither torch nor
    sentence-transformers. (Ingesting new articles does import torch: spaCy's thinc imports it
    whenever it is installed.)"""
    code = ("import sys; from retrieval import ask; a = ask('What did Khamenei say about the PMF?'); "
            "print(a.abstained, len(a.quotes), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    env = dict(os.environ, QA_MODEL_CACHE_DIR=str(int8_cache), QA_INDEX_DIR=str(tmp_path / "index"),
               QA_CORPUS_DIR=str(CORPUS), HF_HUB_OFFLINE="1")
    env.pop("QA_ENCODER", None)
    built = subprocess.run([sys.executable, "app.py", "ingest"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-4:] == ["False", "2", "False", "False"]


def test_the_export_leaves_the_root_logger_as_it_was():
    import logging

    from retrieval.index.onnx_encoder import _root_logger_untouched

    root = logging.getLogger()
    level, saved = root.level, root.handlers[:]
    root.handlers[:] = []            # as in the CLI: no handler, so logging.warning would call basicConfig
    try:
        with _root_logger_untouched():
            logging.warning("advice from a library")
            assert root.level == logging.ERROR
        assert (root.level, root.handlers) == (level, [])
    finally:
        root.handlers[:] = saved
