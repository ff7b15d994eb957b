"""An int8 ONNX copy of a sentence-transformers model, run with ONNX Runtime.

The copy is exported once, locally, from the model's own files (torch exporter, then ONNX
Runtime's dynamic int8 quantization of the MatMul weights, per channel; the word embeddings
stay float: quantizing them too cost 1 point of MRR in the eval); no download. The weights are
unsigned (u8, like the activations): with signed weights, CPUs without VNNI (AVX2 only, most
laptops before 2021 among them) saturate int16 sums inside the int8 dot products, so vectors,
retrieval and answers differed by machine; u8 x u8 products are summed exactly everywhere. Once it exists,
encoding needs neither torch nor sentence-transformers, so a process using it also starts
without importing them. Only Transformer -> Pooling (mean, CLS or max) [-> Normalize]
pipelines are supported; any other raises ``ModelUnavailable``."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from retrieval.errors import ModelUnavailable

FORMAT = "3"                       # bump when the export recipe changes, to re-export (3: u8 weights)
MODEL_FILE = "model_int8.onnx"
_COPIED = ("tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")


def export_dir(source: Path, cache_dir: Path) -> Path:
    """Where the int8 copy of the model in ``source`` lives: keyed by its weights and config."""
    digest = hashlib.sha256(FORMAT.encode())
    for name in ("config.json", "modules.json", "1_Pooling/config.json", "model.safetensors", "pytorch_model.bin"):
        path = source / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return cache_dir / f"{source.name}-int8-{digest.hexdigest()[:16]}"


def export_int8(source: Path, target: Path) -> Path:
    """Export ``source`` to ONNX and quantize it to int8 in ``target`` (written atomically)."""
    if (target / MODEL_FILE).exists():
        return target
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ModelUnavailable(f"Exporting the int8 encoder needs torch, sentence-transformers, onnx and "
                               f"onnxruntime ({err}); run: pip install -r requirements.txt") from None
    _check_pipeline(source)
    model = SentenceTransformer(str(source), device="cpu")
    transformer = model[0].auto_model.eval()
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in model.tokenizer.model_input_names]
    sample = model.tokenizer(["an example sentence", "another one"], return_tensors="pt", padding=True)

    class LastHidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs):
            return self.transformer(**dict(zip(names, inputs))).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHidden(), tuple(sample[n] for n in names), str(work / "model.onnx"),
                              input_names=names, output_names=["last_hidden_state"], opset_version=17,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                              dynamo=False)
        with _root_logger_untouched():
            quantize_dynamic(str(work / "model.onnx"), str(work / MODEL_FILE), weight_type=QuantType.QUInt8,
                             per_channel=True, op_types_to_quantize=["MatMul"])
        (work / "model.onnx").unlink()
        for name in _COPIED:
            if (source / name).exists():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, work / name)
        os.chmod(work, 0o755)
        try:
            os.rename(work, target)
        except OSError:            # another process finished the same export first
            if not (target / MODEL_FILE).exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


@contextmanager
def _root_logger_untouched():
    """The quantizer logs advice through ``logging.warning``, which also installs a root handler
    (``basicConfig``) that would print every library's debug records afterwards: silence it and
    put the root logger back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def _check_pipeline(model_dir: Path) -> tuple[str, bool, int]:
    """(pooling mode, normalize?, max tokens) of a Transformer -> Pooling [-> Normalize] model."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        max_tokens = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    except (OSError, KeyError, ValueError) as err:
        raise ModelUnavailable(f"{model_dir} is not a sentence-transformers model the int8 encoder supports ({err}).") from None
    modes = [m for m in ("mean_tokens", "cls_token", "max_tokens") if pooling.get(f"pooling_mode_{m}")]
    extra = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k[13:] not in modes]
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]) or len(modes) != 1 or extra:
        raise ModelUnavailable(f"The int8 encoder supports Transformer -> Pooling (one of mean, CLS, max) "
                               f"[-> Normalize] models; {model_dir} has {modules} with {pooling}.")
    return modes[0], modules[2:] == ["Normalize"], int(max_tokens)


class OnnxInt8Encoder:
    """Encodes like the sentence-transformers model it was exported from (within int8 rounding)."""

    def __init__(self, model_dir: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.pooling, self.normalize, max_tokens = _check_pipeline(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # No busy-waiting between runs: the rest of a question (BM25, scoring) needs the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """One text per run, whatever ``batch_size``: dynamic quantization scales activations over
        the whole batch, so in a padded batch a text's vector would depend on its batch mates
        (cosine down to 0.96 against the same text alone). Unbatched, on CPU, is no slower."""
        return np.stack([self._pool(self._hidden(text)[0]) for text in texts]) if texts else np.empty((0, 0), np.float32)

    def encode_with_tokens(self, texts: list[str], batch_size: int = 1) -> list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """Each text's vector and its token vectors with their character spans, from one run."""
        found = []
        for text in texts:
            hidden, offsets = self._hidden(text)
            found.append((self._pool(hidden), (hidden, offsets)))
        return found

    def _hidden(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        encoding = self.tokenizer.encode(text)
        feed = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                "token_type_ids": encoding.type_ids}
        hidden = self.session.run(None, {name: np.array([feed[name]], dtype=np.int64) for name in self.inputs})[0][0]
        return hidden, np.asarray(encoding.offsets)

    def _pool(self, hidden: np.ndarray) -> np.ndarray:
        if self.pooling == "cls_token":
            pooled = hidden[0]
        elif self.pooling == "max_tokens":
            pooled = hidden.max(axis=0)
        else:
            pooled = hidden.mean(axis=0)
        if self.normalize:
            pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return pooled.astype(np.float32)
