"""Seeded, deterministic demo data: a B2B SaaS product's customer feedback.

`generate(seed, tickets, now)` builds accounts, CRM contacts, Zendesk-like tickets with comments,
status histories and satisfaction ratings, App Store reviews, notes from other departments and
help-center articles. Everything comes from `random.Random` instances derived from `seed`, so the
same seed and `now` give the same dataset on every machine.

The texts are the point: recurring questions phrased many ways, several tones, five languages,
emoji, HTML bodies, embedded PII and PII-looking values that are not PII. Every text record
carries its ground truth (`topic`, `tone`, `text_kinds`, `pii_types`, `pii_values`,
`lookalike_values`) for tests and benchmarks; loaders ignore those fields.

The product in the story is "Tallybird", a reporting and field-inspection tool with web, API
and mobile apps.
"""

from __future__ import annotations

import html
import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from itertools import accumulate
from typing import Any, TypeVar

import yaml

from nlp.pii import PATTERN_TYPES

__all__ = [
    "KIND_LABELS",
    "LOOKALIKE_TYPES",
    "PII_TYPES",
    "TONES",
    "DemoAccount",
    "DemoComment",
    "DemoContact",
    "DemoDataset",
    "DemoFaqArticle",
    "DemoNote",
    "DemoReview",
    "DemoSatisfactionRating",
    "DemoStatusChange",
    "DemoTicket",
    "generate",
    "pii_samples",
]

WINDOW_DAYS = 120
PRODUCT = "Tallybird"

TONES = ("angry", "happy", "neutral", "sarcastic", "mixed")
KIND_LABELS = (
    *TONES,
    "non_english",
    "emoji",
    "html",
    "pii",
    "pii_lookalike",
    "faq_question",
)
# The embedded PII is of the types the masker finds by pattern, so each must come out masked.
PII_TYPES = PATTERN_TYPES
LOOKALIKE_TYPES = (
    "ORDER_NUMBER",
    "DATE",
    "PRICE",
    "TRACKING_NUMBER",
    "VERSION",
    "INVOICE_NUMBER",
    "NON_LUHN_16_DIGITS",
)
EMOJI = ("😡", "🙏", "👍", "🎉", "🙄", "😅", "❤️", "🔥")

Pairs = tuple[tuple[str, str], ...]
T = TypeVar("T")


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class DemoAccount:
    source_id: str
    name: str
    tier: str
    arr: Decimal
    created_at: datetime
    updated_at: datetime
    churned_at: datetime | None


@dataclass(frozen=True, slots=True)
class DemoContact:
    source_id: str
    email: str
    name: str
    account_source_id: str
    language: str
    consent_contact: bool
    consent_improvement: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class _Written:
    """What every generated customer text carries: its times and the truth about its text
    (tone, kinds, the personal data planted in it and the look-alikes that are not)."""

    created_at: datetime
    updated_at: datetime
    tone: str
    text_kinds: frozenset[str]
    pii_types: frozenset[str]
    pii_values: Pairs = ()
    lookalike_values: Pairs = ()


@dataclass(frozen=True, slots=True)
class DemoTicket(_Written):
    source_id: str
    subject: str
    description: str
    status: str
    priority: str | None
    channel: str
    product_area: str
    language: str
    requester_source_id: str
    # None only while a ticket is still `new`: nobody has picked it up yet.
    assignee_source_id: str | None
    account_source_id: str
    tags: tuple[str, ...]
    topic: str


@dataclass(frozen=True, slots=True)
class DemoComment:
    source_id: str
    ticket_source_id: str
    author_source_id: str | None
    author_role: str
    is_public: bool
    body: str
    created_at: datetime
    pii_values: Pairs = ()


@dataclass(frozen=True, slots=True)
class DemoStatusChange:
    source_id: str
    ticket_source_id: str
    previous_status: str | None
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DemoSatisfactionRating:
    source_id: str
    ticket_source_id: str
    requester_source_id: str
    score: str
    comment: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DemoReview(_Written):
    source: str
    source_id: str
    product: str
    rating: int
    title: str
    body: str
    language: str
    territory: str
    reviewer_nickname: str
    contact_source_id: str | None


@dataclass(frozen=True, slots=True)
class DemoNote(_Written):
    source: str
    source_id: str
    department: str
    kind: str
    text: str
    contact_email: str | None
    contact_source_id: str | None
    account_source_id: str | None
    rating: int | None
    topic: str


@dataclass(frozen=True, slots=True)
class DemoFaqArticle:
    source_id: str
    title: str
    body: str
    topic_key: str
    published_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DemoDataset:
    seed: int
    now: datetime
    accounts: tuple[DemoAccount, ...]
    contacts: tuple[DemoContact, ...]
    tickets: tuple[DemoTicket, ...]
    comments: tuple[DemoComment, ...]
    status_changes: tuple[DemoStatusChange, ...]
    satisfaction_ratings: tuple[DemoSatisfactionRating, ...]
    reviews: tuple[DemoReview, ...]
    notes: tuple[DemoNote, ...]
    faq_articles: tuple[DemoFaqArticle, ...]

    def counts(self) -> dict[str, int]:
        return {
            f.name: len(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("seed", "now")
        }


# ------------------------------------------------------------------------ checksummed values


def _luhn_check_digit(partial: str) -> int:
    total = 0
    # Walking right to left, every other digit starting with the one next to the check digit
    # is doubled.
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(number[pos : pos + size])
        pos += size
    return sep.join(out)


def _card_number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        prefix, length = "4", 16
    elif r < 0.72:
        prefix, length = str(rng.randint(51, 55)), 16
    elif r < 0.82:
        prefix, length = str(rng.randint(2221, 2720)), 16
    elif r < 0.92:
        prefix, length = "6011", 16
    else:
        prefix, length = rng.choice(("34", "37")), 15
    partial = prefix + _digits(rng, length - 1 - len(prefix))
    number = partial + str(_luhn_check_digit(partial))
    sep = rng.choice((" ", " ", "-", "-", ""))
    sizes = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    return _group(number, sizes, sep) if sep else number


def _non_luhn_16(rng: random.Random) -> str:
    partial = rng.choice(("4", "5", "3", "6")) + _digits(rng, 14)
    wrong = (_luhn_check_digit(partial) + rng.randint(1, 9)) % 10
    return _group(partial + str(wrong), (4, 4, 4, 4), rng.choice((" ", "-")))


def _ssn(rng: random.Random) -> str:
    area = rng.randint(1, 899)
    while area == 666:
        area = rng.randint(1, 899)
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    sep = "-" if rng.random() < 0.85 else " "
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def _iban_number(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _iban(rng: random.Random, country: str | None = None) -> str:
    country = country or rng.choice(("DE", "GB", "FR"))
    if country == "DE":
        bban = _digits(rng, 8) + _digits(rng, 10)
    elif country == "GB":
        bank = rng.choice(("NWBK", "BARC", "LOYD", "HBUK", "MIDL", "MONZ"))
        bban = bank + _digits(rng, 6) + _digits(rng, 8)
    else:
        bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
        # French BBANs end in a national "clé RIB"; a real-looking IBAN needs it right too.
        rib = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
        bban = f"{bank}{branch}{account}{rib:02d}"
    iban = _iban_number(country, bban)
    if rng.random() < 0.6:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


_US_AREAS = (212, 312, 415, 512, 617, 646, 702, 206, 303, 404, 305, 718, 213, 919)


def _phone(rng: random.Random, lang: str) -> str:
    if lang == "de" or (lang == "en" and rng.random() < 0.1):
        if rng.random() < 0.4:
            return f"+49 {rng.choice(('151', '160', '171', '176'))} {_digits(rng, 8)}"
        city = rng.choice(("30", "40", "69", "89", "221"))
        return f"+49 {city} {rng.randint(1, 9)}{_digits(rng, rng.randint(5, 7))}"
    if lang == "fr":
        first = rng.choice(("1", "6", "7", "4"))
        lead = {"6": "1245678", "7": "345678"}.get(first, "123456789")
        pairs = " ".join(f"{rng.randint(10, 99)}" for _ in range(3))
        return f"+33 {first} {rng.choice(lead)}{rng.randrange(10)} {pairs}"
    if lang == "es":
        lead = rng.choice(("91", "93", "61", "62", "65"))
        rest = f"{rng.randint(1, 9)}{_digits(rng, 6)}"
        return f"+34 {lead}{rest[0]} {rest[1:4]} {rest[4:]}"
    if lang == "pt":
        return f"+55 {rng.choice(('11', '21', '31', '41'))} 9{_digits(rng, 4)}-{_digits(rng, 4)}"
    if rng.random() < 0.25:
        if rng.random() < 0.5:
            return f"+44 20 7946 0{_digits(rng, 3)}"
        # Only mobile blocks that are allocated; Ofcom's drama range would not validate.
        return f"+44 7{rng.choice('458')}{_digits(rng, 2)} {_digits(rng, 6)}"
    area = rng.choice(_US_AREAS)
    if rng.random() < 0.5:
        exchange, line = "555", f"01{_digits(rng, 2)}"
    else:
        exchange, line = (
            f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(1, 9)}",
            _digits(rng, 4),
        )
    fmt = rng.randrange(4)
    if fmt == 0:
        return f"({area}) {exchange}-{line}"
    if fmt == 1:
        return f"{area}-{exchange}-{line}"
    if fmt == 2:
        return f"+1 {area} {exchange} {line}"
    return f"{area}.{exchange}.{line}"


def _ipv4(rng: random.Random) -> str:
    first = rng.choice((23, 31, 45, 62, 81, 84, 91, 103, 131, 145, 177, 185, 188, 201, 212, 213))
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ipv6(rng: random.Random) -> str:
    prefix = rng.choice(("2a02:8108", "2001:16b8", "2600:1700", "2a01:cb00", "2804:14c"))
    groups = [f"{rng.randrange(1, 0x10000):x}" for _ in range(6)]
    if rng.random() < 0.4:
        return f"{prefix}:{groups[0]}:{groups[1]}::{groups[5]}"
    return f"{prefix}:" + ":".join(groups)


# ------------------------------------------------------------------------------------ lexicon

_COMPANY_EXTRA = ("", "", "", "Group", "Partners", "Solutions", "Systems", "Holdings", "Works")
_COMPETITORS = ("Plotline", "Dashwise", "Sumday", "Chartwell")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _ascii_slug(text: str) -> str:
    text = text.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


# -------------------------------------------------------------------------------- slot filling


class _Slots(dict[str, str]):
    """Template slots filled on first use, so a value repeated in one text stays the same."""

    __slots__ = ("draft",)

    def __init__(self, draft: _Draft) -> None:
        super().__init__()
        self.draft = draft

    def __missing__(self, key: str) -> str:
        value = _SLOT_FILLERS[key](self.draft)
        self[key] = value
        return value


class _Draft:
    """One text being written: its random source, language, moment and recorded ground truth."""

    __slots__ = ("lang", "look", "pii", "rng", "slots", "when")

    def __init__(
        self, rng: random.Random, lang: str, when: datetime, persona: dict[str, str]
    ) -> None:
        self.rng = rng
        self.lang = lang
        self.when = when
        self.pii: list[tuple[str, str]] = []
        self.look: list[tuple[str, str]] = []
        self.slots = _Slots(self)
        self.slots.update(persona)

    def fill(self, template: str) -> str:
        return template.format_map(self.slots)

    def pick(self, options: tuple[str, ...]) -> str:
        return self.fill(self.rng.choice(options))

    def record_pii(self, kind: str, value: str) -> str:
        self.pii.append((kind, value))
        return value

    def record_look(self, kind: str, value: str) -> str:
        self.look.append((kind, value))
        return value

    def protected(self, text: str) -> bool:
        return any(v in text for _, v in self.pii) or any(v in text for _, v in self.look)


def _price_usd(d: _Draft) -> str:
    amount = d.rng.choice((49, 99, 149, 249, 299, 499, 588, 1299, 2490, 4990, 11880, 24000))
    cents = d.rng.choice((0, 0, 0, 99, 50))
    value = f"${amount:,}.{cents:02d}" if d.rng.random() < 0.8 else f"${amount:,}"
    return d.record_look("PRICE", value)


def _price_local(d: _Draft) -> str:
    amount = d.rng.choice((49, 99, 149, 249, 299, 499, 1299, 2490))
    whole = f"{amount:,}".replace(",", ".")
    if d.lang == "pt":
        value = f"R$ {whole},00"
    elif d.lang == "fr":
        value = f"{amount:,},00 €".replace(",", " ", 1) if amount >= 1000 else f"{amount},00 €"
    elif d.lang == "en":
        return _price_usd(d)
    else:
        value = f"{whole},00 €"
    return d.record_look("PRICE", value)


def _date(d: _Draft) -> str:
    day = d.when - timedelta(days=d.rng.randint(1, 25))
    lang, r = d.lang, d.rng.random()
    month = _MONTHS[lang][day.month - 1]
    if lang == "en":
        if r < 0.35:
            value = f"{month} {day.day}"
        elif r < 0.6:
            value = f"{day.day} {month}"
        elif r < 0.8:
            value = day.strftime("%Y-%m-%d")
        else:
            value = day.strftime("%m/%d/%Y")
    elif lang == "de":
        value = f"{day.day}. {month}" if r < 0.4 else day.strftime("%d.%m.%Y")
    elif lang in ("es", "pt"):
        value = f"{day.day} de {month}" if r < 0.4 else day.strftime("%d/%m/%Y")
    else:
        value = f"{day.day} {month}" if r < 0.4 else day.strftime("%d/%m/%Y")
    return d.record_look("DATE", value)


def _version(d: _Draft) -> str:
    value = f"2.{d.rng.randint(9, 13)}.{d.rng.randint(0, 6)}"
    return d.record_look("VERSION", ("v" + value) if d.rng.random() < 0.7 else value)


def _tracking(d: _Draft) -> str:
    alnum = "ABCDEFGHJKLMNPRSTUVWXY0123456789"
    shipper = "".join(d.rng.choice(alnum) for _ in range(6))
    return d.record_look("TRACKING_NUMBER", f"1Z{shipper}{_digits(d.rng, 10)}")


def _email_pii(d: _Draft) -> str:
    rng = d.rng
    lang = d.lang
    first = _ascii_slug(rng.choice(_FIRST[lang]))
    last = _ascii_slug(rng.choice(_LAST[lang]))
    if rng.random() < 0.4 and "domain" in d.slots:
        value = f"{first}.{last}@{d.slots['domain']}"
    else:
        tail = str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
        local = rng.choice((f"{first}.{last}", f"{first}{last[0]}", f"{first}_{last}"))
        value = f"{local}{tail}@{rng.choice(_FREEMAIL[lang])}"
    return d.record_pii("EMAIL_ADDRESS", value)


def _clock(d: _Draft) -> str:
    h, m = d.rng.randint(7, 19), d.rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50))
    if d.lang == "en":
        return f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}"
    return f"{h}:{m:02d}"


_SLOT_FILLERS: dict[str, Callable[[_Draft], str]] = {
    "report": lambda d: d.rng.choice(_REPORTS),
    "rows": lambda d: f"{d.rng.randint(20, 900) * 1000:,}",
    "browser": lambda d: d.rng.choice(
        ("Chrome 124", "Firefox 125", "Safari 17", "Edge 123", "Chrome", "the latest Chrome")
    ),
    "desktop_os": lambda d: d.rng.choice(
        ("Windows 11", "macOS Sonoma", "macOS Ventura", "Windows 10", "Ubuntu 22.04")
    ),
    "mobile_os": lambda d: d.rng.choice(("iOS 17.4", "Android 14", "Android 13", "iOS 16.7")),
    "authenticator": lambda d: d.rng.choice(
        ("Google Authenticator", "Microsoft Authenticator", "Authy", "1Password")
    ),
    "android_device": lambda d: d.rng.choice(
        (
            "Pixel 8",
            "Pixel 7a",
            "Samsung Galaxy S23",
            "Samsung Galaxy A54",
            "OnePlus 11",
            "Xiaomi Redmi Note 12",
            "Motorola Edge 40",
        )
    ),
    "android_version": lambda d: d.rng.choice(("Android 14", "Android 14", "Android 13")),
    "app_version": _version,
    "invoice": lambda d: d.record_look(
        "INVOICE_NUMBER", f"INV-{d.when.year}-{d.rng.randint(1, 99999):06d}"
    ),
    "price": _price_usd,
    "price_local": _price_local,
    "date": _date,
    "order": lambda d: d.record_look(
        "ORDER_NUMBER", f"#{d.rng.choice('ABCDEFGHK')}-{d.rng.randint(1000000, 9999999)}"
    ),
    "tracking": _tracking,
    "ref16": lambda d: d.record_look("NON_LUHN_16_DIGITS", _non_luhn_16(d.rng)),
    "weekday": lambda d: d.rng.choice(_WEEKDAYS),
    "seats": lambda d: str(d.rng.randint(5, 400)),
    "seats_add": lambda d: str(d.rng.randint(2, 12)),
    "plan": lambda d: d.rng.choice(("Pro", "Enterprise")),
    "okta_error": lambda d: d.rng.choice(
        (
            "Invalid SAML response signature",
            "User is not assigned to this application",
            "Audience restriction mismatch",
            "SAML assertion expired",
            "Invalid issuer in the SAML response",
        )
    ),
    "n_days": lambda d: str(d.rng.randint(2, 9)),
    "n_req": lambda d: str(d.rng.choice((60, 100, 120, 300, 600))),
    "clock_time": _clock,
    "competitor": lambda d: d.rng.choice(_COMPETITORS),
    "prospect_first": lambda d: d.rng.choice(_FIRST[d.lang]),
    "n_interview": lambda d: str(d.rng.randint(3, 40)),
    "bug_no": lambda d: str(d.rng.randint(1000, 9999)),
    "inc_no": lambda d: str(d.rng.randint(100, 999)),
    "job_title": lambda d: d.rng.choice(_JOB_TITLES),
    "integration": lambda d: d.rng.choice(
        ("Salesforce", "HubSpot", "Slack", "Jira", "Zapier", "Microsoft Teams")
    ),
    "card": lambda d: d.record_pii("CREDIT_CARD", _card_number(d.rng)),
    "card_exp": lambda d: f"{d.rng.randint(1, 12):02d}/{d.rng.randint(26, 30)}",
    "ssn": lambda d: d.record_pii("US_SSN", _ssn(d.rng)),
    "phone": lambda d: d.record_pii("PHONE_NUMBER", _phone(d.rng, d.lang)),
    "email_pii": _email_pii,
    "iban": lambda d: d.record_pii(
        "IBAN_CODE",
        _iban(d.rng, {"de": "DE", "fr": "FR"}.get(d.lang) if d.rng.random() < 0.7 else None),
    ),
    "ipv4": lambda d: d.record_pii("IP_ADDRESS", _ipv4(d.rng)),
    "ipv6": lambda d: d.record_pii("IP_ADDRESS", _ipv6(d.rng)),
    # Fallbacks for texts written without a persona (reviews, anonymous notes).
    "domain": lambda d: "example-customer.com",
    "first": lambda d: d.rng.choice(_FIRST[d.lang]),
    "last": lambda d: d.rng.choice(_LAST[d.lang]),
    "company": lambda d: "our company",
}

# ------------------------------------------------------------------------------------- topics


@dataclass(frozen=True, slots=True)
class _Topic:
    key: str
    area: str
    recurring: bool
    weight: float
    tones: tuple[float, float, float, float, float]
    complaint: str
    subjects: tuple[str, ...]
    asks: tuple[str, ...]
    details: tuple[str, ...]
    angry: tuple[str, ...]
    sarcastic: tuple[str, ...]
    answers: tuple[str, ...]
    i18n: tuple[tuple[str, str, str], ...] = ()  # (language, subject, body)


# ------------------------------------------------------------------------------ templates
# The texts are data (demo/templates/*.yaml, read once); this module only combines them.


def _tuples(value: Any) -> Any:
    """YAML lists as tuples: the pools are immutable, as they were when written in code."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _templates(name: str) -> dict[str, Any]:
    text = resources.files("demo").joinpath("templates", f"{name}.yaml").read_text("utf-8")
    return _tuples(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


# (titles, sentences, closers) per language and tone; a review is one title, one or two
# sentences and maybe a closer, so a thousand reviews don't repeat each other.
_ReviewPool = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]

_PEOPLE_YAML = _templates("people")
_FIRST = _PEOPLE_YAML["first_names"]
_LAST = _PEOPLE_YAML["last_names"]
_AGENT_NAMES = _PEOPLE_YAML["agent_names"]
_COMPANY_WORDS = _PEOPLE_YAML["company_words"]
_COMPANY_TRADES = _PEOPLE_YAML["company_trades"]
_LEGAL = _PEOPLE_YAML["legal_forms"]
_TLD = _PEOPLE_YAML["tlds"]
_FREEMAIL = _PEOPLE_YAML["freemail"]
_JOB_TITLES = _PEOPLE_YAML["job_titles"]
_REPORTS = _PEOPLE_YAML["reports"]
_MONTHS = _PEOPLE_YAML["months"]

_TOPICS_YAML = _templates("topics")
_TOPICS: tuple[_Topic, ...] = tuple(_Topic(**t) for t in _TOPICS_YAML["topics"])


_TICKETS_YAML = _templates("tickets")
_EN: dict[str, tuple[str, ...]] = _TICKETS_YAML["phrases"]
_I18N: dict[str, dict[str, tuple[str, ...]]] = _TICKETS_YAML["phrases_i18n"]
_PII_SENTENCES: dict[str, dict[str, tuple[str, ...]]] = _TICKETS_YAML["pii_sentences"]
_PII_WEIGHTS = _TICKETS_YAML["pii_weights"]
_PII_AREA_BOOST: dict[str, dict[str, float]] = _TICKETS_YAML["pii_area_boost"]
_LOOKALIKE_SENTENCES = _TICKETS_YAML["lookalike_sentences"]
_REPLIES: dict[str, dict[str, tuple[str, ...]]] = _TICKETS_YAML["replies"]
_INTERNAL_NOTES = _TICKETS_YAML["internal_notes"]
_TOPIC_NOTES = _TICKETS_YAML["topic_notes"]
_RATING_COMMENTS = _TICKETS_YAML["rating_comments"]
_RATING_REASONS = _TICKETS_YAML["rating_reasons"]

_REVIEWS_YAML = _templates("reviews")
_REVIEW_TEXT: dict[str, dict[str, _ReviewPool]] = _REVIEWS_YAML["review_text"]
_MIXED_GOOD = _REVIEWS_YAML["mixed_good"]
_MIXED_BAD = _REVIEWS_YAML["mixed_bad"]
_REVIEW_PII = _REVIEWS_YAML["review_pii"]
_TERRITORIES = _REVIEWS_YAML["territories"]
_REVIEW_STARS = _REVIEWS_YAML["review_stars"]

_NOTES_YAML = _templates("notes")
_NOTE_CHANNELS = _NOTES_YAML["note_channels"]
_NOTE_LINES: dict[str, tuple[tuple[str, str, str], ...]] = _NOTES_YAML["note_lines"]
_SURVEY_I18N: dict[str, tuple[tuple[str, str, str], ...]] = _NOTES_YAML["survey_i18n"]
_SURVEY_FOLLOW = _NOTES_YAML["survey_follow"]
_NOTE_PII = _NOTES_YAML["note_pii"]
_NOTE_EXTRA = _NOTES_YAML["note_extra"]
_NEXT_STEPS = _NOTES_YAML["next_steps"]

_FAQ_YAML = _templates("faq")
_FAQ: tuple[tuple[str, str, str, float | None], ...] = _FAQ_YAML["faq"]
_FAQ_EXTRA: tuple[tuple[str, str, str, float | None], ...] = _FAQ_YAML["faq_extra"]

_TONE_CUM = {t.key: list(accumulate(t.tones)) for t in _TOPICS}
_TOPIC_LANGS = {t.key: frozenset(lang for lang, _, _ in t.i18n) for t in _TOPICS}
_LEXICON = {"en": _EN, **_I18N}

_NPS = {"angry": (1, 4), "sarcastic": (2, 5), "mixed": (5, 8), "neutral": (6, 8), "happy": (9, 10)}

# After an article is published, tickets on its topic drop: the deflection the demo shows.
_DEFLECTION = 0.55

# ------------------------------------------------------------------------------------ helpers


def _loguniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _weighted(rng: random.Random, options: tuple[tuple[T, float], ...]) -> T:
    total = sum(w for _, w in options)
    r = rng.random() * total
    for value, w in options:
        r -= w
        if r < 0:
            return value
    return options[-1][0]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    if span <= 0:
        return start
    return start + timedelta(seconds=int(rng.random() * span))


def _has_emoji(text: str) -> bool:
    return any(e in text for e in EMOJI)


def _kinds(
    tone: str, lang: str, text: str, draft: _Draft, *, is_html: bool, faq: bool
) -> frozenset[str]:
    kinds = {tone}
    if lang != "en":
        kinds.add("non_english")
    if _has_emoji(text):
        kinds.add("emoji")
    if is_html:
        kinds.add("html")
    if draft.pii:
        kinds.add("pii")
    if draft.look:
        kinds.add("pii_lookalike")
    if faq:
        kinds.add("faq_question")
    return frozenset(kinds)


def _truth(draft: _Draft, tone: str, kinds: frozenset[str], pii: Pairs) -> dict[str, Any]:
    """The `_Written` ground truth of a finished text, for the record's constructor."""
    return {
        "tone": tone,
        "text_kinds": kinds,
        "pii_types": frozenset(k for k, _ in pii),
        "pii_values": pii,
        "lookalike_values": tuple(dict.fromkeys(draft.look)),
    }


def _to_html(rng: random.Random, paragraphs: list[str], draft: _Draft) -> str:
    quote = rng.random() < 0.5
    out = []
    for p in paragraphs:
        escaped = html.escape(p, quote=quote).replace("\n", "<br>")
        if rng.random() < 0.12 and not draft.protected(p):
            escaped = f"<b>{escaped}</b>"
        out.append(f"<p>{escaped}</p>")
    body = rng.choice(("", "\n")).join(out)
    for kind, value in draft.pii:
        if kind == "EMAIL_ADDRESS" and rng.random() < 0.5:
            body = body.replace(value, f'<a href="mailto:{value}">{value}</a>', 1)
    if rng.random() < 0.3:
        body = f'<div dir="ltr">{body}</div>'
    if rng.random() < 0.3:
        body += "<p>--&nbsp;<br>Sent from Outlook</p>"
    return body


def _anchor(now: datetime | None) -> datetime:
    if now is None:
        today = datetime.now(UTC)
        return today.replace(hour=0, minute=0, second=0, microsecond=0)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


# ------------------------------------------------------------------------------------ builder


@dataclass(slots=True)
class _Person:
    """A contact while the dataset is being built (mutable fields become DemoContact)."""

    email: str
    name: str
    first: str
    last: str
    account: int
    language: str
    consent_contact: bool
    consent_improvement: bool
    created_at: datetime
    updated_at: datetime
    source_id: str = ""


class _Builder:
    def __init__(self, seed: int, tickets: int, now: datetime) -> None:
        master = random.Random(seed)
        # One stream per part keeps each part stable when another part changes shape.
        self.rngs = {
            name: random.Random(master.getrandbits(64))
            for name in ("faq", "accounts", "contacts", "tickets", "reviews", "notes")
        }
        self.seed = seed
        self.n_tickets = tickets
        self.now = now
        self.start = now - timedelta(days=WINDOW_DAYS)
        self.n_agents = max(4, min(40, tickets // 250))

    # ---------------------------------------------------------------------------- accounts

    def accounts(self) -> None:
        rng = self.rngs["accounts"]
        n = max(5, round(self.n_tickets / 25))
        names: set[str] = set()
        domains: set[str] = set()
        self.acc: list[DemoAccount] = []
        self.acc_lang: list[str] = []
        self.acc_domain: list[str] = []
        self.acc_tier_weight: list[float] = []
        for i in range(n):
            lang = _weighted(rng, (("en", 66), ("de", 11), ("es", 8), ("fr", 8), ("pt", 7)))
            for attempt in range(30):
                word, trade = rng.choice(_COMPANY_WORDS), rng.choice(_COMPANY_TRADES)
                extra = rng.choice(_COMPANY_EXTRA)
                base = " ".join(p for p in (word, trade, extra) if p)
                if attempt >= 20:
                    base = f"{base} {attempt}"
                legal = rng.choice(_LEGAL[lang])
                name = f"{base} {legal}".strip()
                if name not in names:
                    break
            names.add(name)
            slug = _ascii_slug(word + trade)
            domain = slug + rng.choice(_TLD[lang])
            k = 2
            while domain in domains:
                domain = f"{slug}{k}{rng.choice(_TLD[lang])}"
                k += 1
            domains.add(domain)
            tier = _weighted(rng, (("free", 45), ("pro", 38), ("enterprise", 17)))
            if tier == "free":
                arr = Decimal("0.00")
            elif tier == "pro":
                arr = Decimal(rng.randint(3, 40) * 588).quantize(Decimal("0.01"))
            else:
                seats = rng.randint(50, 800)
                arr = Decimal(seats * 1188) * Decimal(rng.choice(("1", "0.9", "0.85", "0.8")))
                arr = arr.quantize(Decimal("0.01"))
            # Most accounts come from the CRM import at the start of the window; the rest are
            # new customers signing up later (but early enough to raise tickets).
            if i == 0 or rng.random() < 0.85:
                created = self.start + timedelta(seconds=rng.randint(0, 2 * 86400))
            else:
                created = _between(
                    rng, self.start + timedelta(days=2), self.now - timedelta(days=20)
                )
            churned = None
            if rng.random() < 0.10:
                lo = created + timedelta(days=10)
                if lo < self.now - timedelta(hours=1):
                    churned = _between(rng, lo, self.now - timedelta(hours=1))
            updated = _between(rng, churned or created, self.now)
            self.acc.append(
                DemoAccount(
                    source_id=f"acc-{i + 1:05d}",
                    name=name,
                    tier=tier,
                    arr=arr,
                    created_at=created,
                    updated_at=updated,
                    churned_at=churned,
                )
            )
            self.acc_lang.append(lang)
            self.acc_domain.append(domain)
            self.acc_tier_weight.append({"free": 1.0, "pro": 2.0, "enterprise": 5.0}[tier])

    # ---------------------------------------------------------------------------- contacts

    def contacts(self) -> None:
        rng = self.rngs["contacts"]
        n = max(20, round(self.n_tickets / 3))
        n_dup = max(1, round(n * 0.03))
        n_base = n - n_dup
        cum: list[float] = []
        total = 0.0
        for w in self.acc_tier_weight:
            total += w
            cum.append(total)
        seen: set[str] = set()
        people: list[_Person] = []
        for i in range(n_base):
            a = i if i < len(self.acc) else bisect_right(cum, rng.random() * total)
            a = min(a, len(self.acc) - 1)
            acc = self.acc[a]
            lang = (
                self.acc_lang[a]
                if rng.random() < 0.88
                else _weighted(rng, (("en", 60), ("de", 10), ("es", 10), ("fr", 10), ("pt", 10)))
            )
            first, last = rng.choice(_FIRST[lang]), rng.choice(_LAST[lang])
            f, la = _ascii_slug(first), _ascii_slug(last)
            r = rng.random()
            if r < 0.08:
                domain = rng.choice(_FREEMAIL[lang])
                local = f"{f}.{la}{rng.randint(1, 99)}"
            else:
                domain = self.acc_domain[a]
                local = rng.choice((f"{f}.{la}", f"{f}.{la}", f"{f[0]}{la}", f, f"{f}_{la}"))
            email = f"{local}@{domain}"
            k = 2
            while email in seen:
                email = f"{local}{k}@{domain}"
                k += 1
            seen.add(email)
            created = _between(rng, acc.created_at, acc.created_at + timedelta(days=1))
            if rng.random() > 0.8:
                end = min(acc.churned_at or self.now, self.now) - timedelta(days=1)
                created = _between(rng, acc.created_at, max(end, acc.created_at))
            people.append(
                _Person(
                    email=email,
                    name=f"{first} {last}",
                    first=first,
                    last=last,
                    account=a,
                    language=lang,
                    consent_contact=rng.random() >= 0.05,
                    consent_improvement=rng.random() >= 0.15,
                    created_at=created,
                    updated_at=_between(rng, created, self.now),
                )
            )
        # Broken addresses as they arrive from web forms and manual CRM entry.
        n_invalid = max(1, round(n * 0.04))
        invalid_idx = set(rng.sample(range(n_base), min(n_invalid, n_base)))
        for i in sorted(invalid_idx):
            p = people[i]
            local, domain = p.email.split("@", 1)
            style = rng.randrange(4)
            if style == 0:
                p.email = f"{local}{domain}" if rng.random() < 0.5 else f"{local}.{domain}"
            elif style == 1:
                p.email = (
                    local.replace(".", "..", 1) if "." in local else f"{local}..x"
                ) + f"@{domain}"
            elif style == 2:
                p.email = f"{local}@{domain.split('.')[0]}"
            else:
                p.email = (
                    f"{p.first} {p.last}@{domain}" if rng.random() < 0.5 else f"{local} @{domain}"
                )
        # The same person entered twice, the address typed differently each time.
        originals = [i for i in range(n_base) if i not in invalid_idx]
        for i in rng.sample(originals, min(n_dup, len(originals))):
            p = people[i]
            local, domain = p.email.split("@", 1)
            variant = rng.randrange(4)
            if variant == 0:
                email = f"{local.title()}@{domain.title()}"
            elif variant == 1:
                email = p.email.upper()
            elif variant == 2:
                email = f" {p.email} " if rng.random() < 0.5 else f"{p.email}\t"
            else:
                email = f"  {local.capitalize()}@{domain}"
            if email == p.email:
                email = p.email.upper() + " "
            created = _between(
                rng,
                p.created_at,
                min(p.created_at + timedelta(days=60), self.now - timedelta(hours=2)),
            )
            people.append(
                _Person(
                    email=email,
                    name=p.name if rng.random() < 0.7 else p.name.upper(),
                    first=p.first,
                    last=p.last,
                    account=p.account,
                    language=p.language,
                    consent_contact=p.consent_contact if rng.random() < 0.8 else True,
                    consent_improvement=p.consent_improvement if rng.random() < 0.8 else True,
                    created_at=created,
                    updated_at=_between(rng, created, self.now),
                )
            )
        people.sort(key=lambda p: p.created_at)
        for i, p in enumerate(people):
            p.source_id = f"crm-{i + 1:06d}"
        self.people = people
        self.people_times = [p.created_at for p in people]
        self.contacts_out = tuple(
            DemoContact(
                source_id=p.source_id,
                email=p.email,
                name=p.name,
                account_source_id=self.acc[p.account].source_id,
                language=p.language,
                consent_contact=p.consent_contact,
                consent_improvement=p.consent_improvement,
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
            for p in people
        )

    def pick_person(self, rng: random.Random, when: datetime) -> _Person:
        k = max(1, bisect_right(self.people_times, when))
        for _ in range(6):
            # Early contacts are older customers and raise more tickets.
            p = self.people[int(k * rng.random() ** 1.3)]
            churned = self.acc[p.account].churned_at
            if churned is None or churned > when:
                return p
        return p

    def persona(self, p: _Person) -> dict[str, str]:
        return {
            "first": p.first,
            "last": p.last,
            "company": self.acc[p.account].name,
            "domain": self.acc_domain[p.account],
            "product": PRODUCT,
            "plan": self.acc[p.account].tier.capitalize(),
        }

    # --------------------------------------------------------------------------------- faq

    def faq(self) -> None:
        rng = self.rngs["faq"]
        chosen = list(_FAQ)
        for extra in _FAQ_EXTRA:
            if rng.random() < 0.5:
                chosen.append(extra)
        self.faq_published: dict[str, datetime] = {}
        out = []
        for i, (key, title, body, days) in enumerate(chosen):
            if days is None:
                published = None
                updated = self.now - timedelta(days=rng.uniform(1, 20))
            else:
                published = self.now - timedelta(days=days - rng.uniform(0, 3))
                published = published.replace(microsecond=0)
                updated = _between(rng, published, self.now)
                self.faq_published[key] = published
            out.append(
                DemoFaqArticle(
                    source_id=str(360_012_000_000 + 7919 * (i + 1)),
                    title=title.format(product=PRODUCT),
                    body=body.replace("{product}", PRODUCT),
                    topic_key=key,
                    published_at=published,
                    updated_at=updated.replace(microsecond=0),
                )
            )
        self.faq_out = tuple(out)

    # ----------------------------------------------------------------------------- tickets

    def day_tables(self, rng: random.Random) -> tuple[list[float], list[list[float]]]:
        incidents = set(rng.sample(range(5, WINDOW_DAYS), 3))
        release = WINDOW_DAYS - rng.randint(30, 40)
        day_weights: list[float] = []
        topic_cum: list[list[float]] = []
        for d in range(WINDOW_DAYS):
            day = self.start + timedelta(days=d)
            if d < 3:
                day_weights.append(0.0)
            else:
                w = (1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.35)[day.weekday()]
                w *= 0.8 + 0.4 * d / WINDOW_DAYS
                if d in incidents:
                    w *= 1.6
                day_weights.append(w)
            cum, total = [], 0.0
            for t in _TOPICS:
                w = t.weight
                if t.key == "android_upload_crash":
                    # A release breaks uploads; the spike fades as the hotfix rolls out.
                    w *= 0.4 if d < release else 0.8 + 2.5 * math.exp(-(d - release) / 12)
                elif t.key == "charged_twice" and day.day <= 3:
                    w *= 2.5
                elif t.key in ("sso_okta", "export_slow"):
                    w *= 0.6 + 0.9 * d / WINDOW_DAYS
                elif t.key == "service_outage" and d in incidents:
                    w *= 120
                elif t.key == "dashboard_slow" and d in incidents:
                    w *= 4
                published = self.faq_published.get(t.key)
                if published is not None and day >= published:
                    w *= _DEFLECTION
                total += w
                cum.append(total)
            topic_cum.append(cum)
        return day_weights, topic_cum

    def tickets(self) -> None:
        rng = self.rngs["tickets"]
        n = self.n_tickets
        day_weights, topic_cum = self.day_tables(rng)
        hour_weights = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1)
        days = rng.choices(range(WINDOW_DAYS), weights=day_weights, k=n) if n else []
        hours = rng.choices(range(24), weights=hour_weights, k=n) if n else []
        times = sorted(
            self.start + timedelta(days=d, hours=h, seconds=rng.randrange(3600))
            for d, h in zip(days, hours, strict=True)
        )
        self.t_out: list[DemoTicket] = []
        self.c_out: list[DemoComment] = []
        self.s_out: list[DemoStatusChange] = []
        self.r_out: list[DemoSatisfactionRating] = []
        self.comment_seq = 0
        self.status_seq = 0
        for i, created in enumerate(times):
            d = min(WINDOW_DAYS - 1, int((created - self.start).total_seconds() // 86400))
            cum = topic_cum[d]
            topic = _TOPICS[bisect_right(cum, rng.random() * cum[-1])]
            if created >= self.now:
                created = self.now - timedelta(seconds=1)
            self.ticket(rng, str(10_001 + i), created, topic)

    def ticket(self, rng: random.Random, tid: str, created: datetime, topic: _Topic) -> None:
        person = self.pick_person(rng, created)
        account = self.acc[person.account]
        cum = _TONE_CUM[topic.key]
        tone = TONES[bisect_right(cum, rng.random() * cum[-1])]
        # Most customers write in their own language when we have text for it; some use English.
        fits = person.language in _TOPIC_LANGS[topic.key]
        lang = person.language if fits and rng.random() < 0.85 else "en"
        if topic.key == "android_upload_crash":
            channel = _weighted(rng, (("mobile", 45), ("email", 30), ("web", 15), ("chat", 10)))
        else:
            channel = _weighted(
                rng, (("email", 45), ("web", 25), ("chat", 12), ("api", 5), ("mobile", 13))
            )
        if tone in ("angry", "sarcastic"):
            priority = _weighted(
                rng, (("", 5), ("low", 2), ("normal", 35), ("high", 38), ("urgent", 20))
            )
        else:
            priority = _weighted(
                rng, (("", 22), ("low", 18), ("normal", 45), ("high", 12), ("urgent", 3))
            )
        if account.tier == "enterprise" and priority in ("", "low"):
            priority = "normal"
        persona = self.persona(person)
        persona["complaint"] = topic.complaint
        if topic.key == "android_upload_crash":
            persona["app_version"] = _version_at(rng, "2.14")
        draft = _Draft(rng, lang, created, persona)
        subject, description, is_html, asked = _write_ticket(rng, draft, topic, tone, lang, channel)
        text = f"{subject}\n{description}"
        kinds = _kinds(tone, lang, text, draft, is_html=is_html, faq=topic.recurring and asked)
        pii = tuple(dict.fromkeys(draft.pii))
        agent_no = rng.randrange(self.n_agents)
        agent_id = f"agent-{agent_no + 1:02d}"
        agent_name = _AGENT_NAMES[agent_no % len(_AGENT_NAMES)]
        status, last_event, solved_at, reopened, escalated = self.lifecycle(
            rng,
            tid,
            created,
            person,
            topic,
            tone,
            lang,
            priority or None,
            agent_id,
            agent_name,
            description,
            pii,
        )
        updated = last_event
        if solved_at is not None and status in ("solved", "closed") and rng.random() < 0.4:
            rating = self.rating(rng, tid, person, tone, lang, solved_at, reopened, agent_name)
            updated = max(updated, rating.updated_at)
        if rng.random() < 0.2:
            # Tag edits and field changes touch the ticket without adding an event.
            updated = min(self.now, updated + timedelta(seconds=rng.randint(60, 4 * 3600)))
        lowered = text.lower()
        tags = {topic.key, topic.area, channel}
        if lang != "en":
            tags.add(f"lang_{lang}")
        if account.tier == "enterprise":
            tags.add("vip")
        if "refund" in lowered or "reembolso" in lowered or "rückerstattung" in lowered:
            tags.add("refund_request")
        if "cancel" in lowered or "kündigen" in lowered or "résilier" in lowered:
            tags.add("churn_risk")
        if reopened:
            tags.add("reopened")
        if escalated:
            tags.add("escalated")
        self.t_out.append(
            DemoTicket(
                source_id=tid,
                subject=subject,
                description=description,
                status=status,
                priority=priority or None,
                channel=channel,
                product_area=topic.area,
                language=lang,
                requester_source_id=person.source_id,
                assignee_source_id=None if status == "new" else agent_id,
                account_source_id=account.source_id,
                tags=tuple(sorted(tags)),
                created_at=created,
                updated_at=updated,
                topic=topic.key,
                **_truth(draft, tone, kinds, pii),
            )
        )

    def lifecycle(
        self,
        rng: random.Random,
        tid: str,
        created: datetime,
        person: _Person,
        topic: _Topic,
        tone: str,
        lang: str,
        priority: str | None,
        agent_id: str,
        agent_name: str,
        description: str,
        pii: Pairs,
    ) -> tuple[str, datetime, datetime | None, bool, bool]:
        """Play the ticket forward from creation and stop at `now`; whatever state it reached
        is its status, so recent tickets are naturally still new or open."""
        replies = _REPLIES[lang]
        persona = {
            "first": person.first,
            "agent": agent_name,
            "product": PRODUCT,
            "company": self.acc[person.account].name,
        }
        hot = tone in ("angry", "sarcastic")
        # What the conversation has said so far, so replies follow on from it.
        said = {"agent": 0, "ask": 0, "note": ""}

        def write(kind: str) -> str:
            d = _Draft(rng, lang, created, persona)
            if kind == "user_reply":
                return d.pick(replies[f"answer_{said['ask']}"])
            if kind in ("user_chase", "user_thanks", "user_reopen"):
                return d.pick(replies[kind])
            if kind == "note":
                pool = tuple(
                    n
                    for n in _INTERNAL_NOTES + _TOPIC_NOTES.get(topic.key, ())
                    if n != said["note"]
                )
                said["note"] = rng.choice(pool)
                return d.fill(said["note"])
            if kind == "nudge":
                return d.pick(replies["nudge"])
            said["agent"] += 1
            greet = "hello_first" if said["agent"] == 1 and "hello_first" in replies else "hello"
            parts = [d.pick(replies[greet])]
            middle = []
            if hot and kind in ("ack", "ask", "answer", "hold"):
                middle.append(d.pick(replies["sorry"]))
            if kind == "answer" or kind == "again":
                if kind == "again":
                    middle.append(d.pick(replies["again"]))
                if lang == "en":
                    middle.append(d.pick(topic.answers))
                middle.append(d.pick(replies["solved"]))
            elif kind == "ask":
                said["ask"] = rng.randrange(len(replies["ask"]))
                middle.append(d.fill(replies["ask"][said["ask"]]))
            else:
                middle.append(d.pick(replies[kind]))
            parts.append(" ".join(middle))
            parts.append(d.pick(replies["sig"]))
            return "\n\n".join(parts)

        first_delay = {
            "urgent": (300, 7200),
            "high": (600, 6 * 3600),
            "normal": (1200, 26 * 3600),
        }.get(priority or "", (3600, 72 * 3600))
        path = rng.random()
        steps: list[tuple[float, str, str | None]] = []
        if path < 0.33:
            steps.append((_loguniform(rng, *first_delay), "answer", "solved"))
        elif path < 0.66:
            steps.append((_loguniform(rng, *first_delay), "ask", "pending"))
            steps.append((_loguniform(rng, 600, 2 * 86400), "user_reply", "open"))
            steps.append((_loguniform(rng, 900, 36 * 3600), "answer", "solved"))
        elif path < 0.76:
            steps.append((_loguniform(rng, *first_delay), "answer", "pending"))
            steps.append((_loguniform(rng, 600, 86400), "user_thanks", "open"))
            steps.append((_loguniform(rng, 300, 4 * 3600), "silent_solve", "solved"))
        elif path < 0.90:
            steps.append((_loguniform(rng, *first_delay), "ack", "open"))
            steps.append((_loguniform(rng, 120, 3 * 3600), "note", None))
            steps.append((_loguniform(rng, 3600, 86400), "hold", "hold"))
            if hot and rng.random() < 0.6:
                steps.append((_loguniform(rng, 86400, 3 * 86400), "user_chase", None))
            steps.append((_loguniform(rng, 86400, 8 * 86400), "answer", "solved"))
        else:
            steps.append((_loguniform(rng, *first_delay), "ask", "pending"))
            steps.append((rng.uniform(3 * 86400, 5 * 86400), "nudge", "solved"))
        if hot and steps[0][0] > 3 * 3600 and rng.random() < 0.7:
            first = steps[0]
            chase_at = first[0] * rng.uniform(0.4, 0.8)
            steps[0:1] = [(chase_at, "user_chase", None), (first[0] - chase_at, *first[1:])]
        reopen_p = 0.06 + (0.05 if hot else 0.0)
        reopened = rng.random() < reopen_p
        if reopened:
            steps.append((_loguniform(rng, 2 * 3600, 3 * 86400), "user_reopen", "open"))
            steps.append((_loguniform(rng, 1800, 86400), "again", "solved"))
        steps.append((4 * 86400 + rng.uniform(0, 3600), "close", "closed"))

        t = created
        status = "new"
        self.comment(tid, person.source_id, "end_user", True, description, t, pii)
        self.status(tid, None, "new", t)
        last = t
        solved_at: datetime | None = None
        did_reopen = escalated = False
        for delay, kind, new_status in steps:
            t = t + timedelta(seconds=max(60, int(delay)))
            if t > self.now:
                break
            if kind in ("user_reply", "user_chase", "user_thanks", "user_reopen"):
                self.comment(tid, person.source_id, "end_user", True, write(kind), t)
            elif kind == "note":
                self.comment(tid, agent_id, "agent", False, write(kind), t)
            elif kind == "nudge":
                self.comment(tid, None, "system", True, write(kind), t)
            elif kind not in ("silent_solve", "close"):
                self.comment(tid, agent_id, "agent", True, write(kind), t)
                escalated = escalated or kind == "hold"
                if kind == "hold" and rng.random() < 0.5:
                    t = t + timedelta(seconds=rng.randint(30, 600))
                    self.comment(tid, agent_id, "agent", False, write("note"), t)
            if new_status is not None and new_status != status:
                self.status(tid, status, new_status, t)
                status = new_status
                if new_status == "solved":
                    solved_at = t
                if kind == "user_reopen":
                    did_reopen = True
            last = t
        return status, last, solved_at, did_reopen, escalated

    def comment(
        self,
        tid: str,
        author: str | None,
        role: str,
        public: bool,
        body: str,
        at: datetime,
        pii: Pairs = (),
    ) -> None:
        self.comment_seq += 1
        self.c_out.append(
            DemoComment(
                source_id=str(36_000_000_000 + self.comment_seq),
                ticket_source_id=tid,
                author_source_id=author,
                author_role=role,
                is_public=public,
                body=body,
                created_at=at,
                pii_values=pii,
            )
        )

    def status(self, tid: str, previous: str | None, status: str, at: datetime) -> None:
        self.status_seq += 1
        self.s_out.append(
            DemoStatusChange(
                source_id=str(52_000_000_000 + self.status_seq),
                ticket_source_id=tid,
                previous_status=previous,
                status=status,
                created_at=at,
            )
        )

    def rating(
        self,
        rng: random.Random,
        tid: str,
        person: _Person,
        tone: str,
        lang: str,
        solved_at: datetime,
        reopened: bool,
        agent_name: str,
    ) -> DemoSatisfactionRating:
        at = solved_at + timedelta(seconds=int(_loguniform(rng, 600, 2 * 86400)))
        if at > self.now:
            at = _between(rng, solved_at, self.now)
        if rng.random() < 0.3:
            score = "offered"
        else:
            p_bad = {"angry": 0.6, "sarcastic": 0.5, "mixed": 0.25, "neutral": 0.07, "happy": 0.03}[
                tone
            ] + (0.2 if reopened else 0.0)
            score = "bad" if rng.random() < p_bad else "good"
        comment = reason = None
        if score != "offered" and rng.random() < (0.6 if score == "bad" else 0.35):
            pool = _RATING_COMMENTS.get(
                lang if rng.random() < 0.8 else "en", _RATING_COMMENTS["en"]
            )[score]
            comment = rng.choice(pool).replace("{agent}", agent_name)
        if score == "bad" and rng.random() < 0.7:
            reason = rng.choice(_RATING_REASONS)
        updated = at
        if score != "offered" and rng.random() < 0.05:
            updated = _between(rng, at, self.now)
        return self._append_rating(tid, person, score, comment, reason, at, updated)

    def _append_rating(
        self,
        tid: str,
        person: _Person,
        score: str,
        comment: str | None,
        reason: str | None,
        at: datetime,
        updated: datetime,
    ) -> DemoSatisfactionRating:
        rating = DemoSatisfactionRating(
            source_id=str(8_100_000_000 + len(self.r_out) + 1),
            ticket_source_id=tid,
            requester_source_id=person.source_id,
            score=score,
            comment=comment,
            reason=reason,
            created_at=at,
            updated_at=updated,
        )
        self.r_out.append(rating)
        return rating

    # ----------------------------------------------------------------------------- reviews

    def reviews(self) -> None:
        rng = self.rngs["reviews"]
        n = max(5, round(self.n_tickets / 5))
        times = sorted(
            _growth_time(rng, self.start + timedelta(days=1), self.now) for _ in range(n)
        )
        out: list[DemoReview] = []
        review_id = 1_480_000_000
        for created in times:
            review_id += rng.randint(1_000, 250_000)
            person = self.pick_person(rng, created) if rng.random() < 0.15 else None
            lang = (
                person.language
                if person
                else _weighted(rng, (("en", 70), ("de", 9), ("es", 8), ("fr", 7), ("pt", 6)))
            )
            tone = _weighted(
                rng,
                (("angry", 20), ("happy", 33), ("neutral", 22), ("sarcastic", 8), ("mixed", 17)),
            )
            persona = {
                "product": PRODUCT,
                "mixed_good": rng.choice(_MIXED_GOOD),
                "mixed_bad": rng.choice(_MIXED_BAD),
            }
            draft = _Draft(rng, lang, created, persona)
            titles, sentences, closers = _REVIEW_TEXT[lang][tone]
            title = draft.pick(titles)
            picked = rng.sample(sentences, 1 if rng.random() < 0.55 else 2)
            body = " ".join(draft.fill(x) for x in picked)
            closer = rng.choice(closers)
            if closer:
                body = f"{body} {closer}"
            extra = []
            if lang == "en" and rng.random() < 0.25:
                extra.append(
                    draft.fill(
                        rng.choice(
                            (
                                "Using {app_version} on an iPhone 15.",
                                "Version {app_version}.",
                                "Still broken on {app_version}.",
                            )
                        )
                    )
                )
            if rng.random() < (0.09 if lang == "en" else 0.0):
                extra.append(draft.fill(rng.choice(_REVIEW_PII)))
            if extra:
                body = " ".join((body, *extra))
            if rng.random() < 0.1 and not _has_emoji(body):
                body += (
                    " "
                    + {
                        "angry": "😡",
                        "happy": "❤️",
                        "sarcastic": "🙄",
                        "mixed": "😅",
                        "neutral": "👍",
                    }[tone]
                )
            rating = rng.choice(_REVIEW_STARS[tone])
            updated = created if rng.random() < 0.85 else _between(rng, created, self.now)
            pii = tuple(dict.fromkeys(draft.pii))
            text = f"{title}\n{body}"
            nickname = _nickname(rng, lang)
            out.append(
                DemoReview(
                    source="app_store",
                    source_id=str(review_id),
                    product=rng.choice((PRODUCT, PRODUCT, PRODUCT, f"{PRODUCT} Field")),
                    rating=rating,
                    title=title,
                    body=body,
                    language=lang,
                    territory=_weighted(rng, tuple((t, float(w)) for t, w in _TERRITORIES[lang])),
                    reviewer_nickname=nickname,
                    contact_source_id=person.source_id if person else None,
                    created_at=created,
                    updated_at=updated,
                    **_truth(
                        draft, tone, _kinds(tone, lang, text, draft, is_html=False, faq=False), pii
                    ),
                )
            )
        self.reviews_out = tuple(out)

    # ------------------------------------------------------------------------------- notes

    def notes(self) -> None:
        rng = self.rngs["notes"]
        n = max(5, round(self.n_tickets / 5))
        times = sorted(
            _growth_time(rng, self.start + timedelta(days=1), self.now) for _ in range(n)
        )
        channels = tuple(((s, d, k), float(w)) for s, d, k, w in _NOTE_CHANNELS)
        out: list[DemoNote] = []
        for i, created in enumerate(times):
            source, dept, kind = _weighted(rng, channels)
            pool_key = "survey" if source == "survey" else dept
            person = self.pick_person(rng, created)
            account = self.acc[person.account]
            prospect = dept in ("sales", "marketing") and rng.random() < 0.5
            lang = "en"
            if source == "survey" and person.language != "en" and rng.random() < 0.4:
                lang = person.language
                topic, tone, template = rng.choice(_SURVEY_I18N[lang])
            else:
                topic, tone, template = rng.choice(_NOTE_LINES[pool_key])
            persona = {"product": PRODUCT, "first": person.first, "last": person.last}
            if not prospect:
                persona["prospect_first"] = person.first
            if prospect:
                persona["company"] = _prospect_name(rng)
            else:
                persona["company"] = account.name
            draft = _Draft(rng, lang, created, persona)
            text, is_html = _write_note(rng, draft, source, pool_key, template, tone)
            rating = rng.randint(*_NPS[tone]) if kind == "survey_answer" else None
            contact_email = contact_id = account_id = None
            if source in ("gong", "salesforce", "survey"):
                if prospect:
                    pslug = _ascii_slug(persona["company"].split()[0])
                    contact_email = (
                        f"{_ascii_slug(draft.slots['prospect_first'])}@{pslug}.com"
                        if "prospect_first" in draft.slots
                        else f"info@{pslug}.com"
                    )
                else:
                    raw = person.email.strip()
                    contact_email = raw.lower() if rng.random() < 0.8 else raw
                    contact_id = person.source_id if rng.random() < 0.7 else None
            elif dept in ("cs", "support") or rng.random() < 0.5:
                contact_id = person.source_id if rng.random() < 0.6 else None
            if not prospect and (dept != "marketing" or rng.random() < 0.3):
                account_id = account.source_id
            updated = created if rng.random() < 0.7 else _between(rng, created, self.now)
            pii = tuple(dict.fromkeys(draft.pii))
            out.append(
                DemoNote(
                    source=source,
                    source_id=_note_id(source, i + 1),
                    department=dept,
                    kind=kind,
                    text=text,
                    contact_email=contact_email,
                    contact_source_id=contact_id,
                    account_source_id=account_id,
                    rating=rating,
                    created_at=created,
                    updated_at=updated,
                    topic=topic,
                    **_truth(
                        draft,
                        tone,
                        _kinds(tone, lang, text, draft, is_html=is_html, faq=False),
                        pii,
                    ),
                )
            )
        self.notes_out = tuple(out)

    # ------------------------------------------------------------------------------- build

    def build(self) -> DemoDataset:
        self.faq()
        self.accounts()
        self.contacts()
        self.tickets()
        self.reviews()
        self.notes()
        return DemoDataset(
            seed=self.seed,
            now=self.now,
            accounts=tuple(self.acc),
            contacts=self.contacts_out,
            tickets=tuple(self.t_out),
            comments=tuple(self.c_out),
            status_changes=tuple(self.s_out),
            satisfaction_ratings=tuple(self.r_out),
            reviews=self.reviews_out,
            notes=self.notes_out,
            faq_articles=self.faq_out,
        )


def _version_at(rng: random.Random, minor: str) -> str:
    value = f"{minor}.{rng.randint(0, 3)}"
    return ("v" + value) if rng.random() < 0.7 else value


def _growth_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    # sqrt skews toward recent dates: volume grows over the window.
    frac = math.sqrt(rng.random()) * 0.5 + rng.random() * 0.5
    t = start + timedelta(seconds=int(frac * (end - start).total_seconds()))
    return min(t, end - timedelta(seconds=1))


def _nickname(rng: random.Random, lang: str) -> str:
    first = rng.choice(_FIRST[lang])
    style = rng.randrange(5)
    if style == 0:
        return f"{first} {rng.choice(_LAST[lang])[0]}."
    if style == 1:
        return f"{_ascii_slug(first)}_{rng.randint(1, 99)}"
    if style == 2:
        return (
            f"{rng.choice(('busy', 'site', 'field', 'ops', 'happy', 'tired'))}"
            f"{rng.choice(('PM', 'Lead', 'Inspector', 'Manager', 'User', 'Dad'))}"
            f"{rng.randint(1, 999)}"
        )
    if style == 3:
        return f"{_ascii_slug(first)}{_ascii_slug(rng.choice(_LAST[lang]))[:5]}"
    return first


def _prospect_name(rng: random.Random) -> str:
    return f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_TRADES)}"


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def _note_id(source: str, n: int) -> str:
    # Each source's own id style; the mixed-in multiplier keeps them from looking sequential.
    scrambled = (n * 2_654_435_761) % (62**9)
    if source == "gong":
        return str(7_000_000_000_000_000_000 + n * 1_000_003)
    if source == "salesforce":
        return f"00T5e00000{_b62(scrambled, 8)}"
    if source == "survey":
        return f"R_{_b62(scrambled, 9)}{_b62(n, 6)}"
    return f"note-{400_000 + n}"


# --------------------------------------------------------------------------------- composers


def _is_question(text: str) -> bool:
    lowered = text.lower()
    return "?" in text or lowered.startswith(_QUESTION_STARTS)


_QUESTION_STARTS = ("how ", "where ", "can ", "is there", "what", "quick one", "hi, how")


def _write_ticket(
    rng: random.Random, d: _Draft, topic: _Topic, tone: str, lang: str, channel: str
) -> tuple[str, str, bool, bool]:
    """Subject, body, whether the body is HTML, whether the core ask is a question."""
    lex = _LEXICON[lang]
    sentences: list[str] = []
    if lang == "en":
        subject = d.pick(topic.subjects)
        ask = d.pick(topic.asks)
    else:
        options = [(s, b) for code, s, b in topic.i18n if code == lang]
        s_t, b_t = rng.choice(options)
        subject, ask = d.fill(s_t), d.fill(b_t)
    asked = _is_question(ask)
    caps_candidates: list[int] = []
    if tone == "angry":
        if rng.random() < 0.75:
            own = topic.angry if lang == "en" and rng.random() < 0.5 else lex["angry_open"]
            caps_candidates.append(len(sentences))
            sentences.append(d.pick(own))
        if rng.random() < 0.35 and ask.endswith("."):
            ask = ask[:-1] + "!!!"
        sentences.append(ask)
    elif tone == "sarcastic":
        own = topic.sarcastic if lang == "en" and rng.random() < 0.6 else lex["sarcastic_open"]
        sentences.append(d.pick(own))
        sentences.append(ask)
    elif tone == "mixed":
        line = d.pick(lex["mixed_open"])
        if rng.random() < 0.6:
            sentences.extend((line, ask))
        else:
            sentences.extend((ask, line))
    elif tone == "happy":
        if rng.random() < 0.75:
            sentences.append(d.pick(lex["happy_open"]))
        sentences.append(ask)
    else:
        sentences.append(ask)
    if lang == "en":
        for _ in range(rng.choice((0, 1, 1, 2))):
            detail = d.pick(topic.details)
            if detail not in sentences:
                sentences.append(detail)
    if rng.random() < 0.085:
        pii_lex = _PII_SENTENCES[lang]
        boost = _PII_AREA_BOOST.get(topic.area, {})
        kinds = tuple((k, w * boost.get(k, 1.0)) for k, w in _PII_WEIGHTS.items() if k in pii_lex)
        for _ in range(1 if rng.random() < 0.8 else 2):
            sentences.append(d.pick(pii_lex[_weighted(rng, kinds)]))
    if rng.random() < 0.12:
        sentences.append(d.pick(_LOOKALIKE_SENTENCES[lang]))
    closer = {"angry": 0.8, "happy": 0.85, "neutral": 0.5, "sarcastic": 0.6, "mixed": 0.5}[tone]
    if rng.random() < closer:
        if tone == "angry":
            caps_candidates.append(len(sentences))
        sentences.append(d.pick(lex[f"{tone}_close"]))
    if tone == "angry" and caps_candidates and rng.random() < 0.4:
        idx = rng.choice(caps_candidates)
        if not d.protected(sentences[idx]):
            sentences[idx] = sentences[idx].upper()
    if tone == "angry" and lang == "en" and rng.random() < 0.25:
        subject = rng.choice(("URGENT: ", "!!! ", "")) + subject
        if rng.random() < 0.4 and not d.protected(subject):
            subject = subject.upper()
    if tone == "happy" and channel in ("chat", "mobile") and rng.random() < 0.4:
        sentences[-1] += " " + rng.choice(("🙏", "👍", "🎉"))

    if channel == "chat":
        if rng.random() < 0.35:
            sentences = [s if d.protected(s) else s.lower() for s in sentences]
            sentences[-1] = sentences[-1].rstrip(".")
        subject = d.fill("Chat with {first} {last}") if rng.random() < 0.6 else subject
        return subject, " ".join(sentences), False, asked

    paragraphs: list[str] = []
    if rng.random() < 0.7:
        paragraphs.append(d.pick(lex["greet"]))
    if len(sentences) > 3 and rng.random() < 0.5:
        cut = rng.randint(1, len(sentences) - 1)
        paragraphs.extend((" ".join(sentences[:cut]), " ".join(sentences[cut:])))
    else:
        paragraphs.append(" ".join(sentences))
    if channel == "mobile" and rng.random() < 0.5:
        paragraphs.append(
            rng.choice(
                ("Sent from my iPhone", "Sent from my Android", f"Sent from the {PRODUCT} app")
            )
        )
    elif rng.random() < 0.65:
        if lang == "en" and rng.random() < 0.08:
            sign = d.fill("Best regards,\n{first} {last}\n{job_title} | {company}\n{phone}")
        else:
            sign = d.pick(lex["sign"])
        paragraphs.append(sign)
    if channel == "api":
        subject = f"[Contact form] {subject}"
    if channel == "email" and rng.random() < 0.22:
        return subject, _to_html(rng, paragraphs, d), True, asked
    return subject, "\n\n".join(paragraphs), False, asked


def _write_note(
    rng: random.Random, d: _Draft, source: str, pool: str, template: str, tone: str
) -> tuple[str, bool]:
    line = d.fill(template)
    if source == "survey":
        parts = [line]
        follow = _SURVEY_FOLLOW.get(tone, ()) if d.lang == "en" else ()
        if follow and rng.random() < 0.5:
            parts.append(rng.choice(follow))
        if rng.random() < 0.05:
            parts.append(d.pick(_NOTE_PII["survey"]))
        return " ".join(parts), False
    bullets = [line]
    extras = _NOTE_EXTRA.get(pool, ())
    if extras and rng.random() < 0.35:
        bullets.append(d.pick(extras))
    if rng.random() < 0.12:
        bullets.append(d.pick(_NOTE_PII[pool]))
    if pool == "sales":
        header = d.fill(
            rng.choice(
                (
                    "Call with {prospect_first} ({job_title}, {company}).",
                    "Discovery call - {company}",
                    "Gong summary: {company} / {prospect_first}",
                )
            )
        )
        bullets.append(d.fill("Next step: " + rng.choice(_NEXT_STEPS)))
    elif pool == "cs":
        header = d.fill(
            rng.choice(
                (
                    "QBR notes - {company}",
                    "Check-in with {first} at {company}",
                    "{company}: account review",
                )
            )
        )
    elif pool == "marketing":
        header = rng.choice(("Marketing feedback", "Webinar follow-up", "Field marketing notes"))
    else:
        header = rng.choice(("Product feedback", "Feedback digest", "Support -> Product"))
    if source == "cs_platform" and rng.random() < 0.3:
        items = "".join(f"<li>{html.escape(b, quote=False)}</li>" for b in bullets)
        return f"<p><b>{html.escape(header, quote=False)}</b></p><ul>{items}</ul>", True
    if rng.random() < 0.5:
        return header + "\n" + "\n".join(f"- {b}" for b in bullets), False
    return header + (" " if header.endswith(".") else ": ") + " ".join(bullets), False


# ------------------------------------------------------------------------------------- public


def generate(seed: int = 42, tickets: int = 5000, now: datetime | None = None) -> DemoDataset:
    """Build the demo dataset. `now` must be timezone-aware; it defaults to today 00:00 UTC so
    the demo's "last 30 days" are the real last 30 days. Same arguments, same dataset."""
    if tickets < 0:
        raise ValueError("tickets must be >= 0")
    return _Builder(seed, tickets, _anchor(now)).build()


def pii_samples(dataset: DemoDataset | None = None) -> dict[str, list[str]]:
    """The raw PII values per Presidio type: every value inserted into `dataset`'s texts, or,
    without a dataset, a fixed sample from the same generators (for masker unit tests)."""
    out: dict[str, list[str]] = {k: [] for k in PII_TYPES}
    if dataset is None:
        rng = random.Random(20240101)
        for lang in ("en", "en", "de", "fr", "es", "pt"):
            out["CREDIT_CARD"].append(_card_number(rng))
            out["US_SSN"].append(_ssn(rng))
            out["PHONE_NUMBER"].append(_phone(rng, lang))
            out["IBAN_CODE"].append(_iban(rng, ("DE", "GB", "FR")[len(out["IBAN_CODE"]) % 3]))
            out["IP_ADDRESS"].append(_ipv4(rng) if len(out["IP_ADDRESS"]) % 2 else _ipv6(rng))
            draft = _Draft(rng, lang, datetime(2024, 1, 1, tzinfo=UTC), {})
            out["EMAIL_ADDRESS"].append(_email_pii(draft))
        return out
    seen: set[tuple[str, str]] = set()
    for records in (dataset.tickets, dataset.comments, dataset.reviews, dataset.notes):
        for record in records:
            for pair in record.pii_values:
                if pair not in seen:
                    seen.add(pair)
                    out[pair[0]].append(pair[1])
    return out
