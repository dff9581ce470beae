"""`insert_unnest`, the one-statement batch writer behind scores and actions, on a table of its
own: values of each type arrive intact, ids follow the order of the rows, conflicts do what the
clause says."""

from __future__ import annotations

from sqlalchemy import Engine, text

from feedbackloop.db.bulk import insert_unnest

COLUMNS = {"k": "text", "x": "float8", "ok": "boolean", "doc": "jsonb", "note": "text"}


def test_a_batch_keeps_types_order_and_conflict_rules(engine: Engine) -> None:
    rows = [
        {"k": f"k{i}", "x": i / 2, "ok": i % 2 == 0, "doc": {"i": i, "tags": ["a"]}, "note": None}
        for i in (3, 1, 2)
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE bulk_t (id bigserial PRIMARY KEY, k text UNIQUE, "
                "x float8, ok boolean, doc jsonb, note text) ON COMMIT DROP"
            )
        )
        first = dict(
            insert_unnest(
                conn,
                "bulk_t",
                COLUMNS,
                rows,
                ordered=True,
                on_conflict="(k) DO NOTHING",
                returning="k, id",
            ).all()
        )
        # Ids follow the order of the rows, not the order of the keys.
        assert sorted(first, key=first.__getitem__) == ["k3", "k1", "k2"]

        again = insert_unnest(
            conn,
            "bulk_t",
            COLUMNS,
            [rows[0], {**rows[1], "k": "k9"}],
            on_conflict="(k) DO NOTHING",
            returning="k",
        )
        assert again.scalars().all() == ["k9"]  # the row already there is skipped

        insert_unnest(
            conn,
            "bulk_t",
            COLUMNS,
            [{**rows[2], "x": 7.5, "doc": {"new": True}}],
            on_conflict="(k) DO UPDATE SET x = EXCLUDED.x, doc = EXCLUDED.doc",
        )
        stored = conn.execute(text("SELECT k, x, ok, doc, note FROM bulk_t ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [
        ("k3", 1.5, False, {"i": 3, "tags": ["a"]}, None),
        ("k1", 0.5, False, {"i": 1, "tags": ["a"]}, None),
        ("k2", 7.5, True, {"new": True}, None),
        ("k9", 0.5, False, {"i": 1, "tags": ["a"]}, None),
    ]


def test_json_values_arrive_intact_whatever_their_characters(engine: Engine) -> None:
    # jsonb columns travel as one JSON array the server splits: quotes, backslashes, unicode,
    # JSON null and scalars must come back as they were, row by row, in order.
    docs = [
        {"q": 'say "hi"', "path": "C:\\tmp\\x", "emoji": "\U0001f600 caf\u00e9", "n": None},
        None,
        [1, 2.5, "three", {"nested": ['"', "\\"]}],
        "a plain string with a , and a }",
        0.30000000000000004,
        {},
    ]
    rows = [
        {"k": f"j{i}", "x": 0.0, "ok": True, "doc": d, "note": '"n"'} for i, d in enumerate(docs)
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE bulk_j (id bigserial PRIMARY KEY, k text UNIQUE, "
                "x float8, ok boolean, doc jsonb, note text) ON COMMIT DROP"
            )
        )
        insert_unnest(conn, "bulk_j", COLUMNS, rows, ordered=True)
        stored = conn.execute(
            text("SELECT k, doc, jsonb_typeof(doc), note FROM bulk_j ORDER BY id")
        ).all()
    assert [r.k for r in stored] == [r["k"] for r in rows]
    assert [r.doc for r in stored] == docs
    # None is JSON null (as json.dumps(None) always was), not SQL NULL
    assert stored[1][2] == "null"
    assert {r.note for r in stored} == {'"n"'}
