"""The single typed settings object. Every value can be set from the environment."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of the assistant; environment variables are prefixed with ``QA_``
    (``QA_CORPUS_DIR``, ``QA_INDEX_DIR`` ...), except ``CHROMA_HOST``/``CHROMA_PORT``."""

    model_config = SettingsConfigDict(env_prefix="QA_", frozen=True, populate_by_name=True)

    corpus_dir: Path = PROJECT_DIR / "corpus"
    index_dir: Path = PROJECT_DIR / "index"
    collection: str = "articles"
    # A Chroma server instead of the local persistent store (past one machine).
    chroma_host: str | None = Field(default=None, validation_alias=AliasChoices("CHROMA_HOST", "QA_CHROMA_HOST"))
    chroma_port: int = Field(default=8000, validation_alias=AliasChoices("CHROMA_PORT", "QA_CHROMA_PORT"))

    embed_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_batch_size: int = 32
    # "onnx-int8" (the default): an int8 ONNX copy of the model, exported once into
    # model_cache_dir; about 2x faster questions, 3x faster start-up without torch, and out of
    # domain as good as "torch" (sentence-transformers itself). Each encoder has its own
    # collections in the index.
    encoder: Literal["torch", "onnx-int8"] = "onnx-int8"
    model_cache_dir: Path = PROJECT_DIR / "models"
    aliases_file: Path = PROJECT_DIR / "retrieval" / "text" / "aliases.json"

    # Dense search: "exact" over the vectors the instance maps, or "graph": the index's HNSW graph with
    # this ef_search (the server's, with CHROMA_HOST), so an instance need not read every vector.
    # "auto": the graph on a Chroma server, exact on a local index. See README, "Dense search".
    dense_search: Literal["auto", "exact", "graph"] = "auto"
    hnsw_ef_search: int = Field(default=400, ge=1)

    chunk_chars: int = 600          # target chunk size; chunks break at sentence ends
    candidates: int = 30            # per retriever (dense and BM25) before fusion
    retrieve_k: int = 8             # fused chunks handed to the answerer
    max_quotes: int = 4
    # The learned answer scorer (``python -m training`` writes it) and the probability a sentence
    # needs to be quoted; by default the model's own threshold, chosen on held-out articles.
    answer_model: Path = PROJECT_DIR / "retrieval" / "answer" / "answer_model.json"
    answer_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    quote_chars: int = 600          # quoted characters in one answer at most (the first quote always fits)
    max_question_chars: int = 1000
    max_file_bytes: int = 50 * 1024 * 1024

    # Optional generative answers: "ollama:<model>", "openai:<model>" (with llm_base_url) or "gguf:<path>".
    llm: str | None = None
    llm_base_url: str | None = None
    llm_timeout: float = 60.0
    # The key an OpenAI-compatible server asks for (local servers usually need none).
    llm_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("QA_LLM_API_KEY", "OPENAI_API_KEY"))

    # Gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured too; the QA_ names win.
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("QA_HOST", "GRADIO_SERVER_NAME"))
    port: int = Field(default=7860, validation_alias=AliasChoices("QA_PORT", "GRADIO_SERVER_PORT"))
    # Optional login for the web UI (needed before serving beyond this machine).
    auth_user: str | None = None
    auth_password: SecretStr | None = None
    # Or the password in a file (one line; e.g. a mounted secret): never on the command line.
    auth_password_file: Path | None = None
    # Failed logins: each answered after a delay; past auth_max_failures within auth_window seconds,
    # that client address is refused (HTTP 429) until the window has passed.
    auth_max_failures: int = Field(default=5, ge=1)
    auth_window: float = Field(default=300.0, gt=0)
    auth_failure_delay: float = Field(default=1.0, ge=0)
