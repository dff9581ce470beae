"""spaCy component ``feedback_pii_masker_v1``: PII detection on ``doc.text``.

Runs :func:`nlp.pii.find_pii` (regexes + validators for the six pattern
types, context rules + a Faker-derived name gazetteer for PERSON; no model, no tokens needed;
works in ``spacy.blank("en")``), so the component and the library mask exactly the same
spans (one implementation, one ``MASKER_VERSION``), and exposes the result three ways:

- ``doc._.pii_entities``: list of ``{"type", "start", "end"}`` dicts, character offsets into
  ``doc.text`` (plain data, so it survives ``Doc.to_bytes``/pickle and ``n_process>1``);
- ``doc._.masked_text``: ``doc.text`` with each entity replaced by ``<TYPE>``;
- ``doc.spans[spans_key]`` (default ``"pii"``): one Span per entity, label = type, widened to
  token boundaries (``alignment_mode="expand"``).

Import this module (or install the package's ``spacy_factories`` entry point) to register
the factory.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.pii import find_pii, mask

__all__ = ["FACTORY_NAME", "PiiMasker", "make_pii_masker"]

FACTORY_NAME = "feedback_pii_masker_v1"


def _masked_text_getter(doc: Doc) -> str:
    # A module-level function, not a lambda: extension getters must be importable by name
    # for docs and pipelines to pickle (n_process > 1 under the spawn start method).
    entities = doc._.pii_entities
    if entities is None:  # the component has not run on this doc: mask now, never leak
        return mask(doc.text)
    text = doc.text
    parts: list[str] = []
    pos = 0
    for ent in sorted(entities, key=lambda e: e["start"]):
        parts.append(text[pos : ent["start"]])
        parts.append(f"<{ent['type']}>")
        pos = ent["end"]
    parts.append(text[pos:])
    return "".join(parts)


if not Doc.has_extension("pii_entities"):
    Doc.set_extension("pii_entities", default=None)
if not Doc.has_extension("masked_text"):
    Doc.set_extension("masked_text", getter=_masked_text_getter)


class PiiMasker:
    """Pipeline component; stateless, so it has nothing to serialize."""

    def __init__(self, nlp: Language, name: str = FACTORY_NAME, spans_key: str = "pii") -> None:
        self.name = name
        self.spans_key = spans_key

    def __call__(self, doc: Doc) -> Doc:
        entities = find_pii(doc.text)
        doc._.pii_entities = [{"type": e.type, "start": e.start, "end": e.end} for e in entities]
        spans: list[Span] = []
        for e in entities:
            span = doc.char_span(e.start, e.end, label=e.type, alignment_mode="expand")
            if span is not None:
                spans.append(span)
        doc.spans[self.spans_key] = spans
        return doc


@Language.factory(FACTORY_NAME, default_config={"spans_key": "pii"})
def make_pii_masker(nlp: Language, name: str, spans_key: str) -> PiiMasker:
    return PiiMasker(nlp, name=name, spans_key=spans_key)
