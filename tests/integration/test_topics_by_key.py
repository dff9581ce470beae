"""A topics run reads keys, then texts by key (issue 20's memory goal): the keys come in the
order Python sorts them (the pool's order, so the clustering is unchanged), the texts come back
in the order asked for, and the lemma caches are not kept between runs."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from support.db import set_consent

from feedbackloop import items
from feedbackloop.config import Settings
from feedbackloop.topics import assign_topics
from nlp.topics import text as topic_text

# Ids whose order differs between byte order and a linguistic collation (case, accents,
# punctuation): the keys must come back as `sorted()` orders them.
IDS = ["b-2", "B_1", "a 3", "A-4", "é5", "e6", "Z7", "z_8", "10", "9", "ä", "Ω"]


def _notes(engine: Engine, ids: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw.contacts (source, source_id, updated_at) "
                "VALUES ('crm', 'c', now())"
            )
        )
        set_consent(conn, "c", "improvement", True)
        conn.execute(
            text(
                "INSERT INTO raw.notes (source, source_id, updated_at, department, kind, text, "
                "contact_source_id) VALUES ('survey', :id, now(), 'cs', 'cs_note', :x, 'c')"
            ),
            [{"id": i, "x": f"note {i}: the refund for my order never came"} for i in ids],
        )


def test_keys_come_sorted_as_python_sorts_them_and_texts_in_the_order_asked(
    engine: Engine,
) -> None:
    _notes(engine, IDS)
    with engine.connect() as conn:
        keys = items.consented_keys(conn, public_reviews=False)
        texts = items.consented_texts(conn, public_reviews=False)
        assert keys == sorted(texts)
        assert [k[2] for k in keys] == sorted(IDS)
        backwards = keys[::-1]
        assert items.texts_by_key(conn, backwards) == [texts[k] for k in backwards]
        # twice in one transaction: the key table is emptied between look-ups
        assert items.texts_by_key(conn, keys[:3]) == [texts[k] for k in keys[:3]]
        assert items.texts_by_key(conn, []) == []
        with pytest.raises(LookupError, match="1 of 2 items"):
            items.texts_by_key(conn, [keys[0], ("note", "survey", "no-such-note")])


def test_a_run_does_not_keep_the_lemma_table(engine: Engine, settings: Settings) -> None:
    _notes(engine, [f"n{i}" for i in range(30)])
    topic_text.lemmas("warm the cache")
    report = assign_topics(engine, settings)
    assert report.considered == 30
    assert topic_text._lemma_table.cache_info().currsize == 0
    assert not topic_text._lemmas
