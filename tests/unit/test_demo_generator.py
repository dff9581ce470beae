"""The demo generator: determinism, time window, integrity, text ground truth, sizes."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from demo.generator import (
    KIND_LABELS,
    LOOKALIKE_TYPES,
    PII_TYPES,
    TONES,
    DemoDataset,
    DemoTicket,
    generate,
    pii_samples,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
WINDOW = timedelta(days=120)
STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}
RECURRING_FAQ_TOPICS = {"charged_twice", "android_upload_crash", "webhook_retries"}


@pytest.fixture(scope="module")
def ds() -> DemoDataset:
    return generate(seed=7, tickets=2000, now=NOW)


@pytest.fixture(scope="module")
def ds5k() -> DemoDataset:
    return generate(seed=42, tickets=5000, now=NOW)


# ------------------------------------------------------------------------------ independent checks


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    lengths = {"DE": 22, "GB": 22, "FR": 27}
    if lengths.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(ssn: str) -> bool:
    parts = re.fullmatch(r"(\d{3})[- ](\d{2})[- ](\d{4})", ssn)
    if not parts:
        return False
    area, group, serial = (int(p) for p in parts.groups())
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


def text_of(record: object) -> str:
    if isinstance(record, DemoTicket):
        return f"{record.subject}\n{record.description}"
    if hasattr(record, "body") and hasattr(record, "title"):
        return f"{record.title}\n{record.body}"  # type: ignore[attr-defined]
    if hasattr(record, "body"):
        return record.body  # type: ignore[attr-defined]
    return record.text  # type: ignore[attr-defined]


def text_records(ds: DemoDataset) -> list:
    return [*ds.tickets, *ds.reviews, *ds.notes]


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_and_now_give_identical_dataset(ds: DemoDataset) -> None:
    assert generate(seed=7, tickets=2000, now=NOW) == ds


def test_different_seed_gives_different_dataset() -> None:
    a = generate(seed=1, tickets=300, now=NOW)
    b = generate(seed=2, tickets=300, now=NOW)
    assert a != b
    assert [t.description for t in a.tickets] != [t.description for t in b.tickets]


def test_default_now_is_today_at_midnight_utc() -> None:
    before = datetime.now(UTC).date()
    small = generate(tickets=0)
    after = datetime.now(UTC).date()
    assert small.now.tzinfo is not None and small.now.utcoffset() == timedelta(0)
    assert small.now.date() in (before, after)
    assert (small.now.hour, small.now.minute, small.now.second, small.now.microsecond) == (
        0,
        0,
        0,
        0,
    )


def test_now_must_be_timezone_aware_and_is_converted_to_utc() -> None:
    with pytest.raises(ValueError):
        generate(tickets=10, now=datetime(2025, 6, 1))
    cest = timezone(timedelta(hours=2))
    shifted = generate(tickets=10, now=datetime(2025, 6, 1, 2, tzinfo=cest))
    assert shifted.now == NOW and shifted.now.tzinfo == UTC


def test_records_are_frozen(ds: DemoDataset) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.tickets[0].status = "open"  # type: ignore[misc]


# ------------------------------------------------------------------------------------ timestamps


def _all_records(ds: DemoDataset) -> list:
    return [
        *ds.accounts,
        *ds.contacts,
        *ds.tickets,
        *ds.comments,
        *ds.status_changes,
        *ds.satisfaction_ratings,
        *ds.reviews,
        *ds.notes,
        *ds.faq_articles,
    ]


def test_all_timestamps_are_aware_utc_and_inside_the_window(ds: DemoDataset) -> None:
    start = NOW - WINDOW
    checked = 0
    for record in _all_records(ds):
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, datetime):
                assert value.tzinfo is not None, (record, f.name)
                assert value.utcoffset() == timedelta(0), (record, f.name)
                assert start <= value <= NOW, (record, f.name, value)
                checked += 1
    assert checked > 20_000


def test_updated_at_is_never_before_created_at(ds: DemoDataset) -> None:
    for record in _all_records(ds):
        created = getattr(record, "created_at", None) or getattr(record, "published_at", None)
        updated = getattr(record, "updated_at", None)
        if created is not None and updated is not None:
            assert updated >= created, record
    for account in ds.accounts:
        if account.churned_at is not None:
            assert account.created_at < account.churned_at <= account.updated_at


# ---------------------------------------------------------------------------------- integrity


def test_source_ids_are_unique_per_table(ds: DemoDataset) -> None:
    for name in ds.counts():
        records = getattr(ds, name)
        keys = [(getattr(r, "source", ""), r.source_id) for r in records]
        assert len(keys) == len(set(keys)), name


def test_id_formats(ds: DemoDataset) -> None:
    assert all(re.fullmatch(r"acc-\d{5}", a.source_id) for a in ds.accounts)
    assert all(re.fullmatch(r"crm-\d{6}", c.source_id) for c in ds.contacts)
    assert all(t.source_id.isdigit() for t in ds.tickets)
    # Zendesk ids grow with creation time.
    ordered = sorted(ds.tickets, key=lambda t: int(t.source_id))
    assert [t.created_at for t in ordered] == sorted(t.created_at for t in ds.tickets)
    assert all(
        t.assignee_source_id is None or re.fullmatch(r"agent-\d{2}", t.assignee_source_id)
        for t in ds.tickets
    )


def test_references_resolve(ds: DemoDataset) -> None:
    accounts = {a.source_id: a for a in ds.accounts}
    contacts = {c.source_id: c for c in ds.contacts}
    tickets = {t.source_id: t for t in ds.tickets}
    for c in ds.contacts:
        assert c.account_source_id in accounts
        assert c.created_at >= accounts[c.account_source_id].created_at
    for t in ds.tickets:
        requester = contacts[t.requester_source_id]
        assert t.account_source_id == requester.account_source_id
        assert requester.created_at <= t.created_at
    for c in ds.comments:
        assert c.ticket_source_id in tickets
        assert c.created_at >= tickets[c.ticket_source_id].created_at
    for s in ds.status_changes:
        assert s.ticket_source_id in tickets
    for r in ds.satisfaction_ratings:
        ticket = tickets[r.ticket_source_id]
        assert ticket.status in ("solved", "closed")
        assert r.requester_source_id == ticket.requester_source_id
    for r in ds.reviews:
        assert r.contact_source_id is None or r.contact_source_id in contacts
    for n in ds.notes:
        assert n.contact_source_id is None or n.contact_source_id in contacts
        assert n.account_source_id is None or n.account_source_id in accounts


# ------------------------------------------------------------------------ conversations & status


def _by_ticket(records) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for r in records:
        grouped[r.ticket_source_id].append(r)
    for items in grouped.values():
        items.sort(key=lambda r: (r.created_at, int(r.source_id)))
    return grouped


def test_status_histories_are_consistent_and_some_tickets_reopen(ds: DemoDataset) -> None:
    history = _by_ticket(ds.status_changes)
    comments = _by_ticket(ds.comments)
    reopened = resolved_again = ever_solved = 0
    for t in ds.tickets:
        assert t.status in STATUSES
        events = history[t.source_id]
        assert events[0].previous_status is None and events[0].status == "new"
        assert events[0].created_at == t.created_at
        for prev, cur in itertools.pairwise(events):
            assert cur.previous_status == prev.status
            assert cur.status != cur.previous_status
        assert events[-1].status == t.status
        assert t.updated_at >= events[-1].created_at
        assert t.updated_at >= comments[t.source_id][-1].created_at
        statuses = [e.status for e in events]
        if "solved" in statuses:
            ever_solved += 1
        pairs = [(e.previous_status, e.status) for e in events]
        if ("solved", "open") in pairs:
            reopened += 1
            if "solved" in statuses[statuses.index("open", statuses.index("solved")) :]:
                resolved_again += 1
        if "closed" in statuses:
            assert statuses[-1] == "closed" and statuses[-2] == "solved"
    assert resolved_again > 0
    assert 0.03 <= reopened / ever_solved <= 0.15
    assert {t.status for t in ds.tickets} >= {"closed", "solved"}


def test_open_work_exists_near_now() -> None:
    recent = generate(seed=3, tickets=2000, now=NOW)
    assert {"new", "open", "pending", "hold"} & {t.status for t in recent.tickets}
    assert any(t.assignee_source_id is None for t in recent.tickets if t.status == "new")


def test_comments_start_with_the_description_and_follow_realistically(ds: DemoDataset) -> None:
    comments = _by_ticket(ds.comments)
    per_ticket = []
    for t in ds.tickets:
        thread = comments[t.source_id]
        first = thread[0]
        assert first.body == t.description
        assert first.author_role == "end_user" and first.author_source_id == t.requester_source_id
        assert first.created_at == t.created_at
        for c in thread[1:]:
            assert c.author_role in ("end_user", "agent", "system")
            if c.author_role == "agent":
                assert c.author_source_id == t.assignee_source_id
        per_ticket.append(len(thread))
    roles = Counter(c.author_role for c in ds.comments)
    assert roles["agent"] and roles["end_user"] and roles["system"]
    assert any(not c.is_public for c in ds.comments)
    assert all(c.author_role == "agent" for c in ds.comments if not c.is_public)
    assert 2.0 <= sum(per_ticket) / len(per_ticket) <= 6.0
    # Agents answer anywhere from minutes to days after the customer writes.
    first_reply = []
    for t in ds.tickets:
        replies = [c for c in comments[t.source_id] if c.author_role == "agent" and c.is_public]
        if replies:
            first_reply.append((replies[0].created_at - t.created_at).total_seconds())
    assert min(first_reply) < 3600 and max(first_reply) > 86400


def test_satisfaction_ratings(ds: DemoDataset) -> None:
    done = [t for t in ds.tickets if t.status in ("solved", "closed")]
    ratings = ds.satisfaction_ratings
    assert 0.3 <= len(ratings) / len(done) <= 0.5
    assert {r.score for r in ratings} == {"good", "bad", "offered"}
    last_solved = {}
    for s in ds.status_changes:
        if s.status == "solved":
            last_solved[s.ticket_source_id] = s.created_at
    tone = {t.source_id: t.tone for t in ds.tickets}
    by_tone: dict[str, Counter[str]] = defaultdict(Counter)
    for r in ratings:
        assert r.created_at >= last_solved[r.ticket_source_id]
        if r.score == "offered":
            assert r.comment is None and r.reason is None
        if r.reason is not None:
            assert r.score == "bad"
        by_tone[tone[r.ticket_source_id]][r.score] += 1

    def bad_rate(t: str) -> float:
        c = by_tone[t]
        return c["bad"] / (c["bad"] + c["good"])

    assert bad_rate("angry") > 2 * bad_rate("neutral")


# ------------------------------------------------------------------------------ text ground truth


def test_every_text_kind_is_present_at_2000_tickets(ds: DemoDataset) -> None:
    present = set().union(*(r.text_kinds for r in text_records(ds)))
    assert present == set(KIND_LABELS)
    ticket_kinds = set().union(*(t.text_kinds for t in ds.tickets))
    assert ticket_kinds == set(KIND_LABELS)


def test_text_kinds_match_the_texts(ds: DemoDataset) -> None:
    emoji = ("😡", "🙏", "👍", "🎉", "🙄", "😅", "❤️", "🔥")
    for r in text_records(ds):
        text = text_of(r)
        assert r.tone in TONES and r.tone in r.text_kinds
        assert len(set(TONES) & r.text_kinds) == 1
        assert ("emoji" in r.text_kinds) == any(e in text for e in emoji)
        assert ("pii" in r.text_kinds) == bool(r.pii_values)
        assert ("pii_lookalike" in r.text_kinds) == bool(r.lookalike_values)
        if "html" in r.text_kinds:
            assert "<p>" in text
        else:
            assert "<p>" not in text
    for t in [*ds.tickets, *ds.reviews]:
        assert ("non_english" in t.text_kinds) == (t.language != "en")
    html = [t.description for t in ds.tickets if "html" in t.text_kinds]
    assert any("&" in h and re.search(r"&(amp|nbsp|#x27|quot|gt);", h) for h in html)
    assert any("<br>" in h for h in html)


def test_tones_have_their_markers(ds: DemoDataset) -> None:
    angry = " ".join(t.description for t in ds.tickets if t.tone == "angry")
    assert "!!!" in angry and re.search(r"\b[A-Z]{4,} [A-Z]{3,}\b", angry)
    assert re.search(r"third time|still waiting|refund|cancel", angry, re.IGNORECASE)
    sarcastic = " ".join(text_of(r) for r in text_records(ds) if r.tone == "sarcastic")
    assert "Just what I needed" in sarcastic and "🙄" in sarcastic
    mixed = " ".join(t.description for t in ds.tickets if t.tone == "mixed")
    assert re.search(r"\b(but|however|although)\b", mixed)
    languages = Counter(t.language for t in ds.tickets)
    assert set(languages) == {"en", "es", "de", "fr", "pt"}
    german = next(t.description for t in ds.tickets if t.language == "de")
    assert re.search(r"\b(ich|wir|die|der|das|und)\b", german, re.IGNORECASE)


def test_recurring_questions_are_phrased_many_ways(ds5k: DemoDataset) -> None:
    by_topic: dict[str, set[str]] = defaultdict(set)
    for t in ds5k.tickets:
        by_topic[t.topic].add(t.subject.lower())
    assert len(by_topic) >= 8
    assert sum(len(s) >= 5 for s in by_topic.values()) >= 8
    descriptions = [t.description for t in ds5k.tickets]
    assert len(set(descriptions)) / len(descriptions) > 0.95


def test_pii_types_present_and_values_are_in_the_texts(ds: DemoDataset) -> None:
    seen: Counter[str] = Counter()
    for r in text_records(ds):
        text = text_of(r)
        assert r.pii_types == frozenset(kind for kind, _ in r.pii_values)
        for kind, value in r.pii_values:
            assert kind in PII_TYPES
            assert value in text, (kind, value)
            seen[kind] += 1
    for c in ds.comments:
        for _, value in c.pii_values:
            assert value in c.body
    assert set(seen) == set(PII_TYPES)
    share = sum(bool(r.pii_values) for r in text_records(ds)) / len(text_records(ds))
    assert 0.05 <= share <= 0.18


def test_pii_values_are_valid_of_their_kind(ds: DemoDataset) -> None:
    values = pii_samples(ds)
    assert all(values[k] for k in PII_TYPES)
    for card in values["CREDIT_CARD"]:
        assert re.fullmatch(r"[\d -]+", card) and len(re.sub(r"\D", "", card)) in (15, 16)
        assert luhn_valid(card), card
    assert any(" " in c for c in values["CREDIT_CARD"]) and any(
        "-" in c for c in values["CREDIT_CARD"]
    )
    for ssn in values["US_SSN"]:
        assert ssn_valid(ssn), ssn
    for iban in values["IBAN_CODE"]:
        assert iban_valid(iban), iban
    assert {i[:2] for i in values["IBAN_CODE"]} == {"DE", "GB", "FR"}
    versions = {ipaddress.ip_address(ip).version for ip in values["IP_ADDRESS"]}
    assert versions == {4, 6}
    for email in values["EMAIL_ADDRESS"]:
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z.]+", email), email


def test_phone_numbers_are_real_numbers() -> None:
    phonenumbers = pytest.importorskip("phonenumbers")
    values = pii_samples(generate(seed=11, tickets=3000, now=NOW))["PHONE_NUMBER"]
    assert any(v.startswith("(") for v in values)
    assert {p[:3] for p in values} >= {"+44", "+49"}
    for value in values:
        number = phonenumbers.parse(value, "US")
        assert phonenumbers.is_valid_number(number), value


def test_lookalikes_are_not_pii(ds: DemoDataset) -> None:
    kinds: Counter[str] = Counter()
    pii_values = {v for r in text_records(ds) for _, v in r.pii_values}
    for r in text_records(ds):
        text = text_of(r)
        for kind, value in r.lookalike_values:
            assert kind in LOOKALIKE_TYPES
            assert value in text
            assert value not in pii_values
            kinds[kind] += 1
            if kind == "NON_LUHN_16_DIGITS":
                assert len(re.sub(r"\D", "", value)) == 16 and not luhn_valid(value), value
            elif kind == "ORDER_NUMBER":
                assert re.fullmatch(r"#[A-Z]-\d{7}", value)
            elif kind == "VERSION":
                assert re.fullmatch(r"v?\d+\.\d+\.\d+", value)
            elif kind == "TRACKING_NUMBER":
                assert re.fullmatch(r"1Z[0-9A-Z]{16}", value)
            elif kind == "INVOICE_NUMBER":
                assert re.fullmatch(r"INV-\d{4}-\d{6}", value)
    assert set(kinds) == set(LOOKALIKE_TYPES)
    assert any(
        re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}", v)
        for r in text_records(ds)
        for k, v in r.lookalike_values
        if k == "PRICE"
    )


def test_pii_samples_without_a_dataset() -> None:
    samples = pii_samples()
    assert set(samples) == set(PII_TYPES)
    assert all(len(v) >= 3 for v in samples.values())
    assert all(luhn_valid(c) for c in samples["CREDIT_CARD"])
    assert all(iban_valid(i) for i in samples["IBAN_CODE"])
    assert pii_samples() == samples


# -------------------------------------------------------------------------- contacts & accounts


def test_contacts_have_duplicates_invalid_emails_and_missing_consent(ds5k: DemoDataset) -> None:
    email_validator = pytest.importorskip("email_validator")
    contacts = ds5k.contacts
    groups: dict[str, list[str]] = defaultdict(list)
    for c in contacts:
        groups[c.email.strip().lower()].append(c.email)
    shared = [raw for raws in groups.values() if len(raws) > 1 for raw in raws]
    assert 0.03 <= len(shared) / len(contacts) <= 0.10
    for raws in groups.values():
        if len(raws) > 1:
            # Written differently: only case or surrounding whitespace tells them apart.
            assert len(set(raws)) == len(raws)
    assert any(raw != raw.strip() for raw in shared)
    assert any(raw.strip() != raw.strip().lower() for raw in shared)

    def invalid(email: str) -> bool:
        try:
            email_validator.validate_email(email.strip(), check_deliverability=False)
        except email_validator.EmailNotValidError:
            return True
        return False

    bad = [c.email for c in contacts if invalid(c.email)]
    assert 0.02 <= len(bad) / len(contacts) <= 0.07
    assert any("@" not in e for e in bad) and any(".." in e for e in bad)
    assert any(" " in e.strip() for e in bad)
    assert any("@" in e and "." not in e.split("@", 1)[1] for e in bad)
    no_improvement = sum(not c.consent_improvement for c in contacts) / len(contacts)
    no_contact = sum(not c.consent_contact for c in contacts) / len(contacts)
    assert 0.10 <= no_improvement <= 0.20
    assert 0.02 <= no_contact <= 0.09
    assert {c.language for c in contacts} == {"en", "es", "de", "fr", "pt"}


def test_accounts(ds5k: DemoDataset) -> None:
    accounts = ds5k.accounts
    assert {a.tier for a in accounts} == {"free", "pro", "enterprise"}
    assert len({a.name for a in accounts}) == len(accounts)
    churned = sum(a.churned_at is not None for a in accounts) / len(accounts)
    assert 0.05 <= churned <= 0.16
    for a in accounts:
        assert isinstance(a.arr, Decimal) and a.arr == a.arr.quantize(Decimal("0.01"))
        assert (a.arr == 0) == (a.tier == "free")
    mean = {tier: sum(a.arr for a in accounts if a.tier == tier) for tier in ("pro", "enterprise")}
    assert mean["enterprise"] > mean["pro"]


# --------------------------------------------------------------------------- topics, FAQ, notes


def test_several_topics_are_faq_candidates_and_some_are_rare(ds5k: DemoDataset) -> None:
    recent = Counter(t.topic for t in ds5k.tickets if t.created_at >= NOW - timedelta(days=60))
    assert sum(n >= 30 for n in recent.values()) >= 3
    assert sum(n >= 40 for n in recent.values()) >= 5
    assert sum(n < 40 for n in recent.values()) >= 3
    faq = [t for t in ds5k.tickets if "faq_question" in t.text_kinds]
    assert 0.2 <= len(faq) / len(ds5k.tickets) <= 0.8
    assert all("?" in t.description or t.language == "en" for t in faq)


def test_faq_articles_cover_some_topics_and_some_are_recent(ds5k: DemoDataset) -> None:
    articles = ds5k.faq_articles
    assert 8 <= len(articles) <= 12
    published = [a for a in articles if a.published_at is not None]
    assert any(a.published_at is None for a in articles)
    assert sum(a.published_at >= NOW - timedelta(days=60) for a in published) >= 2
    covered = {a.topic_key for a in published}
    ticket_topics = {t.topic for t in ds5k.tickets}
    assert covered & ticket_topics
    assert ticket_topics - covered >= RECURRING_FAQ_TOPICS


def test_notes_share_themes_across_departments(ds: DemoDataset) -> None:
    departments: dict[str, set[str]] = defaultdict(set)
    for n in ds.notes:
        assert n.source in ("gong", "salesforce", "survey", "cs_platform")
        assert n.department in ("sales", "cs", "support", "marketing", "product")
        assert n.kind in (
            "sales_call",
            "cs_note",
            "survey_answer",
            "marketing_feedback",
            "product_feedback",
        )
        if n.kind == "survey_answer":
            assert n.rating is not None and 1 <= n.rating <= 10
        else:
            assert n.rating is None
        departments[n.topic].add(n.department)
    assert departments["export_slow"] >= {"sales", "product"}
    assert sum(len(d) >= 2 for d in departments.values()) >= 3
    assert {n.department for n in ds.notes} == {"sales", "cs", "support", "marketing", "product"}
    assert any(n.contact_email for n in ds.notes)


def test_reviews(ds: DemoDataset) -> None:
    stars: dict[str, list[int]] = defaultdict(list)
    for r in ds.reviews:
        assert r.source == "app_store" and 1 <= r.rating <= 5
        assert re.fullmatch(r"[A-Z]{3}", r.territory)
        assert r.reviewer_nickname and r.title and r.body
        stars[r.tone].append(r.rating)

    def mean(t: str) -> float:
        return sum(stars[t]) / len(stars[t])

    assert mean("angry") < mean("mixed") < mean("happy")
    assert mean("happy") >= 4
    assert any(r.contact_source_id for r in ds.reviews)


# --------------------------------------------------------------------------------------- sizes


def test_sizes_scale_with_tickets(ds: DemoDataset, ds5k: DemoDataset) -> None:
    for data, n in ((ds, 2000), (ds5k, 5000)):
        counts = data.counts()
        assert counts["tickets"] == n
        assert counts["accounts"] == pytest.approx(n / 25, rel=0.05)
        assert counts["contacts"] == pytest.approx(n / 3, rel=0.05)
        assert counts["reviews"] == pytest.approx(n / 5, rel=0.05)
        assert counts["notes"] == pytest.approx(n / 5, rel=0.05)
        assert 2 * n <= counts["comments"] <= 6 * n
        assert set(counts) == {
            "accounts",
            "contacts",
            "tickets",
            "comments",
            "status_changes",
            "satisfaction_ratings",
            "reviews",
            "notes",
            "faq_articles",
        }
    tiny = generate(seed=1, tickets=10, now=NOW).counts()
    assert tiny["accounts"] == 5 and tiny["contacts"] == 20 and tiny["tickets"] == 10
