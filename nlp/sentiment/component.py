"""spaCy component ``feedback_sentiment_v1``: rule scorer + optional model on top.

The model is either an encoder head (``nlp.sentiment.encoder_head``: MiniLM sentence vectors
plus the rule prior; the packaged ``encoder-v1`` is the pipeline's default, adapted heads come
from ``nlp train``) or the older rule-feature adapted model (``nlp.training.AdaptedModel``).

``nlp.to_disk`` saves the component's data in its directory: ``cfg.json`` (rules and
model version, lexicon digest), ``lexicons/`` (the lexicon files it scores with) and, if
adapted, ``model/`` (the model's files as trained). ``from_disk`` restores them, so a saved
pipeline gives the same results wherever it is loaded; the config keeps the settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from nlp.sentiment.encoder_head import ENCODER_CHARS, EXPLAIN_TOP, KIND, EncoderHead
from nlp.sentiment.resources import (
    LEXICON_FILES,
    lexicon_digest,
    load_resources,
    resources_from_files,
)
from nlp.sentiment.saved_model import read_files, read_meta
from nlp.sentiment.scorer import RULES_VERSION, Analysis, Scorer, ScorerConfig
from nlp.sentiment.serialize import cache_msgpack_hooks
from nlp.sentiment.tokenizer import TOKENS_KEY, FastTokenizer, words_and_spaces

MAX_WORD_CHARS = 40  # a "word" in an explanation (a run of 1 MB of x is one word)
_RESULT = "sentiment_result"
_CHUNK = 64

# The whole result lives in one user_data entry (set once per doc, msgpack-friendly so
# docs survive pickling and nlp.pipe(n_process=2)); the public attributes are getters.
_DEFAULTS: dict[str, Any] = {
    "score": 0.0,
    "label": "neutral",
    "frustrated": False,
    "explanation": [],
    "language": "und",
    "version": "",
    "scored": False,
    "reason": "not_processed",
}


# Where spaCy's ``doc._.sentiment_result`` keeps its value (Underscore's user_data key).
# Reading and writing it directly skips building an Underscore proxy per access, which
# costs more than a whole short text's scoring; a test checks the two stay the same.
_KEY = ("._.", _RESULT, None, None)


def _field(doc: Doc, key: str) -> Any:
    res = doc.user_data.get(_KEY)
    if res is None:
        default = _DEFAULTS[key]
        return list(default) if isinstance(default, list) else default
    return res[key]


def _typed_field(key: str, cast: Callable[[Any], Any], doc: Doc) -> Any:
    return cast(_field(doc, key))


# public attribute, result key, type
_FIELDS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("sentiment", "score", float),
    ("sentiment_label", "label", str),
    ("frustrated", "frustrated", bool),
    ("explanation", "explanation", list),
    ("language", "language", str),
    ("sentiment_model_version", "version", str),
    ("scored", "scored", bool),
    ("sentiment_reason", "reason", str),
)
# partials of a module function survive pickling
_GETTERS: dict[str, Callable[[Doc], Any]] = {
    attr: partial(_typed_field, key, cast) for attr, key, cast in _FIELDS
}


def sentiment_fields(doc: Doc) -> dict[str, Any]:
    """Every public sentiment attribute of ``doc`` at once, by attribute name, with the same
    values as ``doc._.<name>`` (one user_data read instead of one Underscore proxy each)."""
    return {attr: getter(doc) for attr, getter in _GETTERS.items()}


def pipe_fields(nlp: Language, texts: Iterable[str]) -> Iterator[dict[str, Any]]:
    """``sentiment_fields`` of each text scored by ``nlp``, in order. A pipeline of our
    tokenizer and the rule scorer alone builds no Docs: the scorer reads only the tokenizer's
    words, and a Doc (a lexeme per token) cost a third of scoring's CPU. Any other pipeline
    (a model, more components) goes through ``nlp.pipe``."""
    names = nlp.pipe_names
    component = nlp.get_pipe(names[0]) if len(names) == 1 else None
    if (
        isinstance(component, SentimentComponent)
        and component.model is None
        and isinstance(nlp.tokenizer, FastTokenizer)
    ):
        return component.rule_fields(nlp, texts)
    return (sentiment_fields(doc) for doc in nlp.pipe(texts))


def register_extensions() -> None:
    if not Doc.has_extension(_RESULT):
        Doc.set_extension(_RESULT, default=None)
    for name, getter in _GETTERS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)


register_extensions()
# nlp.pipe(n_process>1) serializes every doc; see serialize.py
cache_msgpack_hooks()


def _text_and_tokens(doc: Doc) -> tuple[str, list[str] | None]:
    stash = doc.user_data.pop(TOKENS_KEY, None)
    if stash is not None and len(stash[1]) == len(doc):  # untouched since tokenization
        return stash[0], stash[1]
    return doc.text, None


def _model_from_files(files: dict[str, bytes], where: str) -> Any:
    if "meta.json" not in files:
        raise FileNotFoundError(f"no sentiment model in {where} (meta.json missing)")
    if read_meta(files).get("kind") == KIND:
        return EncoderHead.from_files(files, where)
    from nlp.training import AdaptedModel  # training pulls scipy: lazy

    return AdaptedModel.from_files(files, where)


def _encoder_words(ws: Any) -> list[dict[str, Any]]:
    """The words that moved the encoder's decision most: each word's share of the
    positive-minus-negative logit (see nlp.encoders.minilm), summed over repeats."""
    if ws is None:
        return []
    totals: dict[str, float] = {}
    for word, share in zip(ws.words, ws.shares, strict=True):
        if any(ch.isalnum() for ch in word) or not word.isascii():  # words and emoji
            key = word.lower()[:MAX_WORD_CHARS]
            totals[key] = totals.get(key, 0.0) + float(share[2] - share[0])
    top = sorted(totals.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:EXPLAIN_TOP]
    return [{"token": w, "weight": round(v, 3), "source": "encoder"} for w, v in top if v]


class SentimentComponent:
    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        config: ScorerConfig,
        lexicon_dir: str | None,
        model_path: str | None,
        rules_version: str,
        encoder_cache: str | None = None,
    ) -> None:
        self.name = name
        self.encoder_cache = encoder_cache
        self._encoder: Any = None
        self.rules_version = rules_version
        self.model: Any = None
        self.version = rules_version
        self._cfg = config
        self._scorer: Scorer | None = None
        self._load_error: FileNotFoundError | None = None
        try:
            self._scorer = Scorer(load_resources(lexicon_dir), config)
            if model_path:
                self.load_model(Path(model_path))
        except FileNotFoundError as exc:
            # spacy.load of a saved pipeline moved off this machine: from_disk brings the
            # lexicons and model; anything else raises this on first use
            self._load_error = exc

    @property
    def scorer(self) -> Scorer:
        if self._load_error is not None:
            raise self._load_error
        assert self._scorer is not None
        return self._scorer

    def load_model(self, path: Path) -> None:
        """Use the model in ``path``: an encoder head or an adapted rule-feature model."""
        path = Path(path)
        names = [n for n in ("meta.json", "head.npz", "model.npz") if (path / n).is_file()]
        self._set_model(_model_from_files(read_files(path, names), str(path)))

    def _set_model(self, model: Any) -> None:
        self.model = model
        self.version = model.version if model is not None else self.rules_version

    # -- serialization (nlp.to_disk/from_disk/to_bytes/from_bytes) -------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "scorer": RULES_VERSION,  # the rules of the code that saved it
            "model_version": self.version,
            "lexicon_sha256": self.scorer.res.digest,
            "adapted": self.model is not None,
        }

    def _restore(
        self, state: dict[str, Any], lexicons: dict[str, bytes], model: dict[str, bytes] | None
    ) -> None:
        if lexicon_digest(lexicons) != state.get("lexicon_sha256"):
            raise ValueError("saved sentiment lexicons do not match their recorded digest")
        if state.get("scorer") != RULES_VERSION:
            # other scoring rules would give other results under the saved version label
            raise ValueError(
                f"pipeline saved with sentiment rules {state.get('scorer')!r}; this "
                f"install scores with {RULES_VERSION!r}: save it again with this version"
            )
        digest = state["lexicon_sha256"]
        if self._scorer is None or self._scorer.res.digest != digest:
            # other lexicons than the config's (or those are missing here): the saved ones
            packaged = load_resources()
            res = (
                packaged
                if packaged.digest == digest
                else resources_from_files(lexicons, "saved pipeline")
            )
            self._scorer = Scorer(res, self._cfg)
        if model:
            self._set_model(_model_from_files(model, "saved pipeline"))
        else:
            self._set_model(None)
        self._load_error = None
        if self.version != state.get("model_version"):
            raise ValueError(
                f"saved sentiment model version {state.get('model_version')!r}, "
                f"loaded {self.version!r}"
            )

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        (path / "lexicons").mkdir(parents=True, exist_ok=True)
        (path / "cfg.json").write_text(json.dumps(self._state(), indent=2), encoding="utf-8")
        for name in LEXICON_FILES:
            (path / "lexicons" / name).write_bytes(self.scorer.res.files[name])
        if self.model is not None:
            (path / "model").mkdir(exist_ok=True)
            for name, data in self.model.files.items():
                (path / "model" / name).write_bytes(data)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> SentimentComponent:
        path = Path(path)
        state = json.loads((path / "cfg.json").read_text(encoding="utf-8"))
        lexicons = {n: (path / "lexicons" / n).read_bytes() for n in LEXICON_FILES}
        model = None
        if state.get("adapted"):
            model = {p.name: p.read_bytes() for p in sorted((path / "model").iterdir())}
        self._restore(state, lexicons, model)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        msg: dict[str, Any] = {"cfg": self._state(), "lexicons": dict(self.scorer.res.files)}
        if self.model is not None:
            msg["model"] = dict(self.model.files)
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> SentimentComponent:
        msg = srsly.msgpack_loads(data)
        self._restore(msg["cfg"], msg["lexicons"], msg.get("model"))
        return self

    @property
    def uses_encoder(self) -> bool:
        return getattr(self.model, "kind", None) == KIND

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from nlp.encoders.minilm import MiniLMEncoder  # optional extra: lazy

            self._encoder = MiniLMEncoder(self.encoder_cache)
        return self._encoder

    def analyze_text(self, text: str, tokens: list[str] | None = None) -> dict[str, Any]:
        a = self.scorer.analyze(text, tokens)
        if getattr(self.model, "kind", None) == KIND:
            self._apply_encoder([text], [a])
        elif self.model is not None and a.language in ("en", "und") and a.scored:
            self.model.apply(a, self.scorer.cfg)
        return self._payload(a)

    def _apply_encoder(self, texts: list[str], analyses: list[Analysis]) -> None:
        """The encoder head on a batch: English (or undetermined) texts the rules scored."""
        from nlp.training import apply_proba

        todo = [i for i, a in enumerate(analyses) if a.language in ("en", "und") and a.scored]
        if not todo:
            return
        head = self.model
        # the encoder reads 256 word pieces at most: no need to tokenize a whole 1 MB text
        emb, shares = self.encoder.encode_detailed(
            [texts[i][:ENCODER_CHARS] for i in todo], project=head.emb_coef
        )
        todo_analyses = [analyses[i] for i in todo]
        probs = head.predict(emb, todo_analyses)
        for a, p, ws in zip(todo_analyses, probs, shares or [], strict=True):
            apply_proba(a, p, self.scorer.cfg, head.version)
            a.explanation.extend(_encoder_words(ws))

    def _payload(self, a: Analysis) -> dict[str, Any]:
        return {
            "score": a.score,
            "label": a.label,
            "frustrated": a.frustrated,
            "explanation": a.explanation,
            "language": a.language,
            "version": self.version,
            "scored": a.scored,
            "reason": a.reason,
        }

    def __call__(self, doc: Doc) -> Doc:
        text, tokens = _text_and_tokens(doc)
        doc.user_data[_KEY] = self.analyze_text(text, tokens)
        return doc

    def rule_fields(self, nlp: Language, texts: Iterable[str]) -> Iterator[dict[str, Any]]:
        """What ``pipe`` with the rules alone gives ``sentiment_fields`` of, without the Docs
        (see ``pipe_fields``): the same scorer call on the same words."""
        analyze, payload = self.scorer.analyze, self._payload
        for text in texts:
            if len(text) > nlp.max_length:
                nlp.make_doc(text)  # raises spaCy's own error, as nlp.pipe would
            a = analyze(text, words_and_spaces(text)[0])
            res = payload(a)
            yield {attr: cast(res[key]) for attr, key, cast in _FIELDS}

    def pipe(self, stream: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        if self.model is None:
            analyze, payload = self.scorer.analyze, self._payload
            # Small chunks: tokenizing a few dozen texts in a row, then scoring them in a
            # row, keeps each one's code and data hot (measured ~15% faster than
            # alternating per doc); still lazy enough for streaming use.
            for batch in minibatch(stream, size=min(batch_size, _CHUNK)):
                for doc in batch:
                    user_data = doc.user_data
                    stash = user_data.pop(TOKENS_KEY, None)
                    if stash is not None and len(stash[1]) == len(doc):
                        a = analyze(stash[0], stash[1])
                    else:
                        a = analyze(doc.text)
                    user_data[_KEY] = payload(a)
                yield from batch
            return
        from nlp.training import apply_proba

        if getattr(self.model, "kind", None) == KIND:
            # encoder: one encoder call per batch (the encoder buckets it by length)
            for batch in minibatch(stream, size=batch_size):
                pairs = [_text_and_tokens(d) for d in batch]
                analyses = [self.scorer.analyze(t, toks) for t, toks in pairs]
                self._apply_encoder([t for t, _ in pairs], analyses)
                for doc, a in zip(batch, analyses, strict=True):
                    doc.user_data[_KEY] = self._payload(a)
                    yield doc
            return
        # adapted model: one sparse matrix product per batch instead of one per doc
        for batch in minibatch(stream, size=batch_size):
            analyses = [self.scorer.analyze(*_text_and_tokens(d)) for d in batch]
            todo = [i for i, a in enumerate(analyses) if a.language in ("en", "und") and a.scored]
            if todo:
                probs = self.model.proba([analyses[i] for i in todo])
                for i, p in zip(todo, probs, strict=True):
                    apply_proba(analyses[i], p, self.scorer.cfg, self.model.version)
            for doc, a in zip(batch, analyses, strict=True):
                doc.user_data[_KEY] = self._payload(a)
                yield doc


@Language.factory(
    "feedback_sentiment_v1",
    default_config={
        "neutral_band": 0.05,
        "strong_threshold": 0.6,
        "frustration_threshold": -0.35,
        "question_damping": 0.6,
        "howto_damping": 0.1,
        "negativity_weight": 1.5,
        "max_chars": 50_000,
        "lexicon_dir": None,
        "model_path": None,
        "rules_version": RULES_VERSION,
        "encoder_cache": None,
    },
    assigns=[f"doc._.{_RESULT}"],
)
def make_sentiment(
    nlp: Language,
    name: str,
    neutral_band: float,
    strong_threshold: float,
    frustration_threshold: float,
    question_damping: float,
    howto_damping: float,
    negativity_weight: float,
    max_chars: int,
    lexicon_dir: str | None,
    model_path: str | None,
    rules_version: str,
    encoder_cache: str | None,
) -> SentimentComponent:
    config = ScorerConfig(
        neutral_band=neutral_band,
        strong_threshold=strong_threshold,
        frustration_threshold=frustration_threshold,
        question_damping=question_damping,
        howto_damping=howto_damping,
        negativity_weight=negativity_weight,
        max_chars=max_chars,
    )
    return SentimentComponent(
        nlp,
        name,
        config=config,
        lexicon_dir=lexicon_dir,
        model_path=model_path,
        rules_version=rules_version,
        encoder_cache=encoder_cache,
    )
