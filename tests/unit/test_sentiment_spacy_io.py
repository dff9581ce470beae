"""The sentiment pipeline used as spaCy is used: saved with ``to_disk``, loaded with plain
``spacy.load``, and run with ``nlp.pipe(n_process=2)`` (issue 15, part 4)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import catalogue
import pytest
import spacy
import srsly
from sentiment_support import EXTENSIONS as PUBLIC_EXTENSIONS
from spacy.language import Language
from spacy.tokens import Doc, Span

from demo.generator import generate
from nlp import load_pipeline
from nlp.pipeline import pipeline_config
from nlp.training import train

# Fixed texts: support language, praise, questions, other languages, emoji/emoticons,
# URLs, e-mail addresses, HTML, odd whitespace, empty.
TEXTS = [
    "Love it! Works perfectly 👍",
    "Still waiting for my refund!! This is the third time I'm asking.",
    "How do I export the report to CSV?",
    "You charged me twice this month, cancel my account.",
    "Das Produkt ist schlecht und der Support antwortet nicht",
    "",
    " leading space,  two spaces\tand a tab\n\nnew paragraph :(",
    "<p>Great, another outage.</p> &amp; nobody answers",
    "Mail me at jo@example.com or see https://status.example.com/incidents",
    "not bad at all :) yet the sync is sooooo slow",
    "😡😡 worst update ever",
    "It’s fine I guess",
]
EXTENSIONS = (*PUBLIC_EXTENSIONS, "scored", "sentiment_reason")


def results(nlp: Language, texts: list[str], **kwargs: Any) -> list[tuple[Any, ...]]:
    return [
        (d.text, [t.text for t in d], *(getattr(d._, e) for e in EXTENSIONS))
        for d in nlp.pipe(texts, **kwargs)
    ]


def as_json(rows: list[tuple[Any, ...]]) -> list[Any]:
    return json.loads(json.dumps(rows))


def demo_texts(n: int) -> list[str]:
    data = generate(seed=5, tickets=80)
    texts = [t.description for t in data.tickets] + [c.body for c in data.comments]
    texts += [r.body for r in data.reviews] + [n.text for n in data.notes]
    return (TEXTS + texts)[:n]


def test_default_pipeline_round_trips_through_spacy_load(nlp: Language, tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "p")
    cfg = (tmp_path / "p" / "config.cfg").read_text()
    assert '@tokenizers = "feedback_tokenizer_v1"' in cfg
    assert 'factory = "feedback_sentiment_v1"' in cfg
    loaded = spacy.load(tmp_path / "p")
    assert loaded.pipe_names == nlp.pipe_names
    assert loaded.max_length == nlp.max_length > 1_000_000
    assert type(loaded.tokenizer) is type(nlp.tokenizer)
    assert results(loaded, TEXTS) == results(nlp, TEXTS)
    # and once more from the reloaded pipeline's own to_disk/to_bytes
    loaded.to_disk(tmp_path / "q")
    assert results(spacy.load(tmp_path / "q"), TEXTS) == results(nlp, TEXTS)
    clone = spacy.blank("en", config=pipeline_config())
    clone.add_pipe("feedback_sentiment_v1")
    clone.from_bytes(loaded.to_bytes())
    assert results(clone, TEXTS) == results(nlp, TEXTS)


def test_spacy_load_in_fresh_process_finds_everything_by_entry_points(
    nlp: Language, tmp_path: Path
) -> None:
    nlp.to_disk(tmp_path / "p")
    code = (
        "import json, sys, spacy\n"
        "assert not [m for m in sys.modules if m == 'nlp' or m.startswith('nlp.')]\n"
        f"p = spacy.load({str(tmp_path / 'p')!r})\n"
        f"ext = {EXTENSIONS!r}\n"
        f"texts = {TEXTS!r}\n"
        "rows = [(d.text, [t.text for t in d], *(getattr(d._, e) for e in ext))"
        " for d in p.pipe(texts)]\n"
        "print(json.dumps(rows))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert json.loads(out.stdout) == as_json(results(nlp, TEXTS))


def test_adapted_model_is_saved_inside_the_pipeline(tmp_path: Path) -> None:
    texts = ["this app is sick", "sick update, love it", "the export is broken"] * 20
    texts += ["how do I export to csv?", "still waiting for my refund"] * 20
    labels = (["positive", "positive", "negative"] * 20) + (["neutral", "negative"] * 20)
    info = train(texts, labels, tmp_path / "model", seed=0, base="rules")
    adapted = load_pipeline(tmp_path / "model")
    expected = results(adapted, [*TEXTS, "this app is sick"])
    assert expected[-1][EXTENSIONS.index("sentiment_model_version") + 2] == info.version
    adapted.to_disk(tmp_path / "p")
    shutil.rmtree(tmp_path / "model")  # the saved pipeline needs nothing outside itself
    assert str(tmp_path) not in (tmp_path / "p" / "config.cfg").read_text()
    loaded = spacy.load(tmp_path / "p")
    assert results(loaded, [*TEXTS, "this app is sick"]) == expected


def test_lexicons_come_from_the_config_and_travel_with_the_pipeline(tmp_path: Path) -> None:
    from nlp.sentiment.resources import LEXICON_DIR

    lex = tmp_path / "lexicons"
    shutil.copytree(LEXICON_DIR, lex)
    general = lex / "en_general.tsv"
    general.write_text(general.read_text(encoding="utf-8") + "zorbly\t3.0\n", encoding="utf-8")
    custom = spacy.blank("en", config=pipeline_config())
    custom.add_pipe("feedback_sentiment_v1", config={"lexicon_dir": str(lex)})
    assert custom("zorbly")._.sentiment > 0  # the config's lexicon, not the packaged one
    assert load_pipeline(sentiment_model="rules")("zorbly")._.sentiment == 0
    expected = results(custom, [*TEXTS, "zorbly", "what a zorbly day"])
    custom.to_disk(tmp_path / "p")
    shutil.rmtree(lex)  # the config still names it; the saved copy is what counts
    loaded = spacy.load(tmp_path / "p")
    assert results(loaded, [*TEXTS, "zorbly", "what a zorbly day"]) == expected


def test_saved_pipeline_from_other_rules_refuses_to_load(nlp: Language, tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "p")
    cfg_path = tmp_path / "p" / "feedback_sentiment_v1" / "cfg.json"
    state = json.loads(cfg_path.read_text())
    state["scorer"] = "rules-v0"
    cfg_path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="rules-v0"):
        spacy.load(tmp_path / "p")


def test_n_process_2_gives_the_results_of_one_process(nlp: Language) -> None:
    texts = demo_texts(200)
    assert len(texts) == 200
    single = results(nlp, texts)
    assert results(nlp, texts, n_process=2, batch_size=16) == single


def test_doc_bytes_are_light_and_lossless(nlp: Language) -> None:
    docs = list(nlp.pipe(demo_texts(200)))
    fresh = spacy.blank("en").vocab  # a receiver that has seen none of these strings
    for doc in docs:
        light, full = doc.to_bytes(), Doc.to_bytes(doc)
        assert len(light) < len(full) or not len(doc)  # an empty doc: spaCy's format
        a, b = Doc(fresh).from_bytes(light), Doc(fresh).from_bytes(full)
        assert a.to_json() == b.to_json()
        assert (
            a.user_data == b.user_data
            and a.to_array("NORM").tolist() == b.to_array("NORM").tolist()
        )
        assert [t.norm_ for t in a] == [t.norm_ for t in doc]


def test_annotated_docs_keep_everything_through_bytes(nlp: Language) -> None:
    fresh = spacy.blank("en").vocab
    doc = nlp("Still waiting for Acme support in Berlin")
    doc[0].norm_ = "zzz-custom-norm"  # a norm whose string the receiver lacks
    plain = Doc(fresh).from_bytes(doc.to_bytes())
    assert plain[0].norm_ == "zzz-custom-norm"
    assert plain._.sentiment == doc._.sentiment
    doc[1].tag_ = "VBG"
    doc[2].lemma_ = "for"
    doc.ents = [Span(doc, 3, 4, label="ORG")]
    doc.spans["x"] = [doc[5:7]]
    doc.cats = {"complaint": 1.0}
    clone = Doc(fresh).from_bytes(doc.to_bytes())
    assert clone.to_json() == doc.to_json()
    assert [(s.text, s.label_) for s in clone.spans["x"]] == [("in Berlin", "")]
    assert clone[0].norm_ == "zzz-custom-norm" and clone.cats == {"complaint": 1.0}


def test_msgpack_hooks_are_looked_up_once_and_new_ones_still_seen(nlp: Language) -> None:
    from srsly.msgpack import msgpack_encoders

    calls = 0
    original = catalogue.Registry.get_entry_points

    def counting(self: catalogue.Registry) -> Any:
        nonlocal calls
        calls += 1
        return original(self)

    catalogue.Registry.get_entry_points = counting  # type: ignore[method-assign]
    try:
        data = nlp("Still waiting for my refund!!").to_bytes()
        for _ in range(50):
            Doc(nlp.vocab).from_bytes(data)
        assert calls <= 2  # not three scans per doc

        class Point:
            def __init__(self, x: int) -> None:
                self.x = x

        def encode_point(obj: Any, chain: Any = None) -> Any:
            if isinstance(obj, Point):
                return {"point": obj.x}
            return obj if chain is None else chain(obj)

        msgpack_encoders.register("test_point", func=encode_point)
        try:
            assert srsly.msgpack_loads(srsly.msgpack_dumps(Point(3))) == {"point": 3}
            doc = nlp("fine")
            doc.user_data["p"] = Point(4)
            assert Doc(nlp.vocab).from_bytes(doc.to_bytes()).user_data["p"] == {"point": 4}
        finally:
            catalogue._remove(("srsly", "msgpack_encoders", "test_point"))
    finally:
        catalogue.Registry.get_entry_points = original  # type: ignore[method-assign]
