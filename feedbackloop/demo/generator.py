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
from typing import TypeVar

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
PII_TYPES = (
    "CREDIT_CARD",
    "US_SSN",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "IP_ADDRESS",
)
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


@dataclass(frozen=True, slots=True)
class DemoTicket:
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
    created_at: datetime
    updated_at: datetime
    topic: str
    tone: str
    text_kinds: frozenset[str]
    pii_types: frozenset[str]
    pii_values: Pairs = ()
    lookalike_values: Pairs = ()


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
class DemoReview:
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
    created_at: datetime
    updated_at: datetime
    tone: str
    text_kinds: frozenset[str]
    pii_types: frozenset[str]
    pii_values: Pairs = ()
    lookalike_values: Pairs = ()


@dataclass(frozen=True, slots=True)
class DemoNote:
    source: str
    source_id: str
    department: str
    kind: str
    text: str
    contact_email: str | None
    contact_source_id: str | None
    account_source_id: str | None
    rating: int | None
    created_at: datetime
    updated_at: datetime
    topic: str
    tone: str
    text_kinds: frozenset[str]
    pii_types: frozenset[str]
    pii_values: Pairs = ()
    lookalike_values: Pairs = ()


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

_FIRST = {
    "en": (
        "James",
        "Mary",
        "Michael",
        "Jennifer",
        "David",
        "Sarah",
        "Chris",
        "Emily",
        "Daniel",
        "Jessica",
        "Matt",
        "Ashley",
        "Ryan",
        "Lauren",
        "Kevin",
        "Megan",
        "Brian",
        "Rachel",
        "Jason",
        "Olivia",
        "Tyler",
        "Hannah",
        "Sam",
        "Priya",
        "Omar",
        "Aisha",
        "Wei",
        "Tom",
        "Grace",
        "Liam",
    ),
    "es": (
        "María",
        "José",
        "Carmen",
        "Javier",
        "Lucía",
        "Carlos",
        "Ana",
        "Miguel",
        "Laura",
        "Alejandro",
        "Sofía",
        "Diego",
        "Elena",
        "Pablo",
        "Marta",
        "Andrés",
        "Isabel",
        "Raúl",
        "Paula",
        "Fernando",
    ),
    "de": (
        "Lukas",
        "Anna",
        "Jonas",
        "Lena",
        "Felix",
        "Laura",
        "Maximilian",
        "Julia",
        "Paul",
        "Sophie",
        "Tobias",
        "Katharina",
        "Jan",
        "Hannah",
        "Florian",
        "Miriam",
        "Stefan",
        "Sabine",
        "Matthias",
        "Jürgen",
    ),
    "fr": (
        "Camille",
        "Julien",
        "Léa",
        "Thomas",
        "Manon",
        "Nicolas",
        "Chloé",
        "Antoine",
        "Sarah",
        "Maxime",
        "Élodie",
        "Hugo",
        "Inès",
        "Mathieu",
        "Pauline",
        "Guillaume",
        "Céline",
        "Alexandre",
        "Margaux",
        "Benoît",
    ),
    "pt": (
        "João",
        "Maria",
        "Pedro",
        "Ana",
        "Lucas",
        "Juliana",
        "Gabriel",
        "Fernanda",
        "Rafael",
        "Camila",
        "Bruno",
        "Beatriz",
        "Thiago",
        "Larissa",
        "Felipe",
        "Mariana",
        "Rodrigo",
        "Patrícia",
        "André",
        "Letícia",
    ),
}
_LAST = {
    "en": (
        "Smith",
        "Johnson",
        "Brown",
        "Taylor",
        "Miller",
        "Davis",
        "Wilson",
        "Anderson",
        "Thomas",
        "Moore",
        "Jackson",
        "White",
        "Harris",
        "Martin",
        "Thompson",
        "Clark",
        "Lewis",
        "Walker",
        "Hall",
        "Young",
        "King",
        "Wright",
        "Patel",
        "Nguyen",
        "Kim",
        "O'Brien",
        "Murphy",
        "Campbell",
        "Evans",
        "Hughes",
    ),
    "es": (
        "García",
        "Martínez",
        "López",
        "Sánchez",
        "González",
        "Pérez",
        "Rodríguez",
        "Fernández",
        "Gómez",
        "Díaz",
        "Moreno",
        "Álvarez",
        "Romero",
        "Navarro",
        "Torres",
        "Ruiz",
        "Ramírez",
        "Castro",
        "Ortega",
        "Vargas",
    ),
    "de": (
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
        "Neumann",
        "Krause",
        "Zimmermann",
        "Braun",
        "Hartmann",
    ),
    "fr": (
        "Martin",
        "Bernard",
        "Dubois",
        "Durand",
        "Lefebvre",
        "Moreau",
        "Laurent",
        "Simon",
        "Michel",
        "Leroy",
        "Roux",
        "David",
        "Bertrand",
        "Morel",
        "Fournier",
        "Girard",
        "Bonnet",
        "Dupont",
        "Lambert",
        "Fontaine",
    ),
    "pt": (
        "Silva",
        "Santos",
        "Oliveira",
        "Souza",
        "Pereira",
        "Costa",
        "Ferreira",
        "Rodrigues",
        "Almeida",
        "Nascimento",
        "Lima",
        "Araújo",
        "Carvalho",
        "Gomes",
        "Martins",
        "Ribeiro",
        "Barbosa",
        "Rocha",
        "Dias",
        "Teixeira",
    ),
}
_AGENT_NAMES = (
    "Priya",
    "Tom",
    "Lena",
    "Marcus",
    "Sofia",
    "Daniel",
    "Aiko",
    "Ben",
    "Clara",
    "Diego",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kate",
    "Leo",
    "Maya",
    "Nils",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wendy",
    "Yusuf",
    "Zoe",
    "Anil",
    "Bea",
    "Carl",
    "Dana",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivan",
)
_COMPANY_WORDS = (
    "Harbor",
    "Copperline",
    "Redwood",
    "Summit",
    "Atlas",
    "Brightwater",
    "Ironclad",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orchard",
    "Pinecrest",
    "Quarry",
    "Riverstone",
    "Sable",
    "Tidewater",
    "Vantage",
    "Willow",
    "Zephyr",
    "Alder",
    "Beacon",
    "Cinder",
    "Driftwood",
    "Ember",
    "Foxglove",
    "Granite",
    "Juniper",
    "Larkspur",
    "Maple",
    "Northgate",
    "Oakridge",
    "Pioneer",
    "Quill",
    "Ridgeway",
    "Silverline",
    "Trident",
    "Upland",
    "Bluefin",
    "Cobalt",
)
_COMPANY_TRADES = (
    "Logistics",
    "Analytics",
    "Health",
    "Labs",
    "Retail",
    "Foods",
    "Capital",
    "Energy",
    "Media",
    "Robotics",
    "Dental",
    "Legal",
    "Freight",
    "Studios",
    "Software",
    "Insurance",
    "Manufacturing",
    "Realty",
    "Hospitality",
    "Construction",
)
_COMPANY_EXTRA = ("", "", "", "Group", "Partners", "Solutions", "Systems", "Holdings", "Works")
_LEGAL = {
    "en": ("Inc.", "LLC", "Ltd", "", "Co."),
    "es": ("S.L.", "S.A."),
    "de": ("GmbH", "AG", "GmbH & Co. KG"),
    "fr": ("SAS", "SARL"),
    "pt": ("Ltda.", "S.A."),
}
_TLD = {
    "en": (".com", ".com", ".io", ".co", ".co.uk"),
    "es": (".es", ".com"),
    "de": (".de", ".de", ".com"),
    "fr": (".fr", ".com"),
    "pt": (".com.br", ".com.br", ".pt"),
}
_FREEMAIL = {
    "en": ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"),
    "es": ("gmail.com", "hotmail.es", "yahoo.es"),
    "de": ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    "fr": ("orange.fr", "free.fr", "gmail.com", "laposte.net"),
    "pt": ("gmail.com", "uol.com.br", "hotmail.com"),
}
_JOB_TITLES = (
    "Operations Manager",
    "Head of Finance",
    "IT Administrator",
    "Site Supervisor",
    "Data Analyst",
    "Office Manager",
    "CTO",
    "Controller",
    "Project Lead",
    "Customer Success Lead",
    "VP Operations",
    "Field Coordinator",
)
_REPORTS = (
    "Monthly Revenue",
    "Pipeline by Owner",
    "Site Inspections",
    "Team Activity",
    "Open Issues",
    "Quarterly KPIs",
    "Churn Overview",
    "Inventory Levels",
    "Safety Incidents",
    "Weekly Summary",
)
_COMPETITORS = ("Plotline", "Dashwise", "Sumday", "Chartwell")
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "pt": (
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ),
}
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


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


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


_TOPICS: tuple[_Topic, ...] = (
    _Topic(
        key="export_csv",
        area="export",
        recurring=True,
        weight=11,
        tones=(9, 13, 60, 5, 13),
        complaint="finding the CSV export is way harder than it should be",
        subjects=(
            "How do I export to CSV?",
            "Export report as CSV",
            "CSV export question",
            "Where is the export button?",
            "Exporting {report} to CSV",
            "Can't find CSV download",
            "Need to download our data as CSV",
            "export to excel?",
            "Download {report} data",
        ),
        asks=(
            "How do I export the {report} report to CSV?",
            "Is there a way to download {report} as a CSV file? I only see PDF.",
            "I need to get our data out into Excel. Where do I find the CSV export?",
            "Can someone tell me how to export a filtered view to CSV? The export seems to "
            "ignore my filters.",
            "Our finance team wants the {report} numbers as a CSV every month. What's the "
            "easiest way to export them?",
            "quick one: how do you export a table to csv?",
            "I can't find the option to export {report} as CSV anymore since the new navigation.",
            "Where did the 'Download CSV' option go? It used to be under the three dots menu.",
            "Is it possible to export all inspections for a date range as one CSV?",
            "What's the best way to get a CSV of {report} with all columns included?",
        ),
        details=(
            "We have about {rows} rows in that report.",
            "I'm using {browser} on {desktop_os}.",
            "I'm an admin on the {plan} plan, so permissions shouldn't be the problem.",
            "Ideally the export would keep the column order I set.",
            "My manager needs it before {weekday}.",
            "I checked the help center but couldn't find anything about CSV.",
            "I looked under Reports & Exports but there's only PDF there.",
        ),
        angry=(
            "I've been trying to export ONE report for an hour.",
            "Why is something as basic as a CSV export this hard to find?",
        ),
        sarcastic=(
            "Love that exporting a simple CSV requires a support ticket.",
            "Great, the export button is playing hide and seek again.",
        ),
        answers=(
            "You can export any report from Reports > {report} > Export > CSV. If the report "
            "has more than 50,000 rows we email you a download link instead.",
            "The CSV export is in the '...' menu at the top right of every table. Filters are "
            "included as long as you click 'Apply' before exporting.",
            "Admins can also schedule a recurring CSV export under Settings > Data > Scheduled "
            "exports, which might save your finance team a step.",
        ),
        i18n=(
            (
                "es",
                "¿Cómo exporto a CSV?",
                "¿Cómo puedo exportar el informe {report} a CSV? Solo veo la opción de PDF.",
            ),
            (
                "es",
                "Exportar datos a Excel",
                "Necesito descargar nuestros datos en un archivo CSV para el equipo de finanzas. "
                "¿Dónde está la opción de exportar?",
            ),
            (
                "de",
                "CSV-Export",
                "Wie kann ich den Bericht {report} als CSV exportieren? Ich finde nur den "
                "PDF-Download.",
            ),
            (
                "de",
                "Daten als CSV herunterladen",
                "Unsere Buchhaltung braucht die Zahlen jeden Monat als CSV-Datei. Wo finde ich "
                "die Exportfunktion?",
            ),
            (
                "fr",
                "Export CSV",
                "Comment exporter le rapport {report} en CSV ? Je ne vois que l'option PDF.",
            ),
            (
                "fr",
                "Télécharger les données en CSV",
                "Notre équipe finance a besoin des chiffres en CSV chaque mois. Où se trouve la "
                "fonction d'export ?",
            ),
            (
                "pt",
                "Como exportar para CSV?",
                "Como faço para exportar o relatório {report} em CSV? Só aparece a opção de PDF.",
            ),
            (
                "pt",
                "Baixar dados em CSV",
                "Preciso baixar nossos dados em CSV para o time financeiro. Onde fica a opção de "
                "exportar?",
            ),
        ),
    ),
    _Topic(
        key="reset_2fa",
        area="login",
        recurring=True,
        weight=10,
        tones=(22, 6, 52, 7, 13),
        complaint="getting locked out by two-factor is a nightmare",
        subjects=(
            "Reset two-factor authentication",
            "Lost my phone - can't log in (2FA)",
            "2FA reset needed",
            "New phone, authenticator codes gone",
            "Locked out by two-factor",
            "Can you disable 2FA on my account?",
            "Two-factor code not accepted",
            "Need help with 2-step verification",
        ),
        asks=(
            "I got a new phone and my authenticator app didn't transfer. How do I reset "
            "two-factor authentication?",
            "I'm locked out because I lost access to my 2FA device. Can you reset it for my "
            "account?",
            "The 6-digit codes from my authenticator keep getting rejected, even though the time "
            "on my phone is correct.",
            "How can I reset 2FA for one of my team members? Her phone was wiped.",
            "I lost my backup codes and switched phones. Is there a way to reset two-factor "
            "without waiting for an admin?",
            "how do i turn off two factor on my account, new phone",
            "Our admin left the company and nobody can reset 2FA for the rest of the team. "
            "What are our options?",
            "I'm not receiving the SMS code for two-factor login anymore.",
            "Can you reset my two-step verification? I replaced my phone over the weekend.",
        ),
        details=(
            "I'm on {mobile_os} and use {authenticator}.",
            "I've tried the recovery codes but they say 'invalid'.",
            "I need access before my {weekday} meeting.",
            "My username is the same as my work email.",
            "I can still log in on my laptop where the session is active, if that helps.",
        ),
        angry=(
            "I have been LOCKED OUT for {n_days} days.",
            "I can't do my job because of your 2FA.",
        ),
        sarcastic=(
            "Fantastic security: so secure that even I can't get in.",
            "Nothing says productive Monday like being locked out of my own account.",
        ),
        answers=(
            "I've reset two-factor authentication on your account. Next time you log in you'll "
            "be asked to scan a new QR code with your authenticator app.",
            "Admins can reset 2FA for any team member under Settings > Users > Security > "
            "Reset 2FA. For security reasons the request has to come from an admin.",
            "Please make sure the clock on your phone is set to automatic; authenticator codes "
            "are time-based and a drift of more than 30 seconds makes them fail.",
        ),
        i18n=(
            (
                "es",
                "Restablecer autenticación en dos pasos",
                "Cambié de móvil y ya no tengo los códigos de verificación. ¿Cómo puedo "
                "restablecer la autenticación en dos pasos?",
            ),
            (
                "es",
                "No puedo iniciar sesión (2FA)",
                "Los códigos de mi aplicación de autenticación no funcionan y no encuentro mis "
                "códigos de respaldo.",
            ),
            (
                "de",
                "Zwei-Faktor-Authentifizierung zurücksetzen",
                "Ich habe ein neues Handy und die Authenticator-App wurde nicht übertragen. Wie "
                "kann ich die Zwei-Faktor-Authentifizierung zurücksetzen?",
            ),
            (
                "de",
                "Ausgesperrt wegen 2FA",
                "Die Codes aus meiner Authenticator-App werden nicht akzeptiert und die "
                "Backup-Codes finde ich nicht mehr.",
            ),
            (
                "fr",
                "Réinitialiser la double authentification",
                "J'ai changé de téléphone et je n'ai plus accès à mon application "
                "d'authentification. Comment réinitialiser la double authentification ?",
            ),
            (
                "fr",
                "Bloqué par la 2FA",
                "Les codes à six chiffres sont refusés alors que l'heure de mon téléphone est "
                "correcte.",
            ),
            (
                "pt",
                "Redefinir autenticação de dois fatores",
                "Troquei de celular e perdi o aplicativo autenticador. Como faço para redefinir a "
                "autenticação de dois fatores?",
            ),
            (
                "pt",
                "Não consigo entrar (2FA)",
                "Os códigos do autenticador não estão funcionando e não encontro meus códigos de "
                "recuperação.",
            ),
        ),
    ),
    _Topic(
        key="charged_twice",
        area="billing",
        recurring=True,
        weight=7,
        tones=(45, 2, 25, 13, 15),
        complaint="we got charged twice this month",
        subjects=(
            "Charged twice",
            "Double charge on invoice {invoice}",
            "Duplicate payment this month",
            "Why was I billed twice?",
            "Refund for duplicate charge",
            "Two identical charges on our card",
            "Billing error - double payment",
        ),
        asks=(
            "We were charged twice for invoice {invoice}: two payments of {price} on {date}.",
            "Our card statement shows the same charge of {price} twice this month. Please "
            "refund one of them.",
            "I see two identical charges for our {plan} subscription on {date}. Can you check "
            "what happened?",
            "Your system billed us twice for the same period ({invoice}). Our finance team "
            "needs a refund and a corrected invoice.",
            "Looks like the renewal went through twice, {price} each time.",
            "Why do I have two invoices for the same month? Both were paid automatically.",
            "We got charged twice again. Can someone explain why the renewal ran two times?",
        ),
        details=(
            "The second charge appeared a few minutes after the first one.",
            "We only have {seats} seats, so the amount doesn't match either.",
            "Our accountant flagged this during month-end close.",
            "The payment was made by card, not bank transfer.",
        ),
        angry=(
            "This is the second month in a row you CHARGED US TWICE.",
            "I want a refund today, not in 5-10 business days.",
        ),
        sarcastic=(
            "Wow, paying twice for the same month. Very generous of us.",
            "Great business model: charge everyone twice and see who notices.",
        ),
        answers=(
            "I'm sorry about the duplicate charge. I've refunded the second payment to the "
            "original payment method; it usually shows up within 5-10 business days.",
            "The second charge was an authorization hold that drops off automatically within "
            "a few days. If it doesn't, reply here and we'll refund it right away.",
            "I've voided the duplicate invoice and issued a refund. You'll receive a credit "
            "note by email shortly.",
        ),
        i18n=(
            (
                "es",
                "Cobro duplicado",
                "Nos han cobrado dos veces la factura {invoice}, dos cargos de {price_local}. Por "
                "favor, devuélvannos uno de ellos.",
            ),
            (
                "es",
                "Me cobraron dos veces",
                "En el extracto de la tarjeta aparece el mismo cargo dos veces este mes.",
            ),
            (
                "de",
                "Doppelte Abbuchung",
                "Uns wurde die Rechnung {invoice} zweimal abgebucht, jeweils {price_local}. Bitte "
                "erstatten Sie eine der Zahlungen.",
            ),
            (
                "de",
                "Zweimal belastet",
                "Auf unserer Kreditkartenabrechnung erscheint derselbe Betrag diesen Monat zweimal.",
            ),
            (
                "fr",
                "Double prélèvement",
                "Nous avons été débités deux fois pour la facture {invoice}, deux paiements de "
                "{price_local}. Merci de rembourser l'un des deux.",
            ),
            (
                "fr",
                "Facturé deux fois",
                "Le même montant apparaît deux fois sur notre relevé de carte ce mois-ci.",
            ),
            (
                "pt",
                "Cobrança duplicada",
                "Fomos cobrados duas vezes pela fatura {invoice}, dois pagamentos de "
                "{price_local}. Por favor, estornem um deles.",
            ),
            (
                "pt",
                "Cobrado duas vezes",
                "A mesma cobrança aparece duas vezes na fatura do cartão este mês.",
            ),
        ),
    ),
    _Topic(
        key="sso_okta",
        area="login",
        recurring=True,
        weight=6,
        tones=(20, 3, 55, 8, 14),
        complaint="SSO with Okta keeps breaking",
        subjects=(
            "SSO with Okta fails",
            "Okta SAML login error",
            "Single sign-on not working",
            "Okta integration: {okta_error}",
            "Users can't log in via Okta",
            "SAML setup help",
        ),
        asks=(
            "We set up SSO with Okta following your guide, but every login ends with "
            "'{okta_error}'.",
            "Since this morning none of our users can sign in through Okta. The error says "
            "'{okta_error}'.",
            "How do I configure SAML single sign-on with Okta? The metadata URL in your docs "
            "returns a 404.",
            "New employees provisioned in Okta get 'user not found' when they log in for the "
            "first time.",
            "Okta SSO works for admins but regular users are bounced back to the login page.",
            "We rotated our Okta signing certificate and now SSO fails with '{okta_error}'.",
        ),
        details=(
            "We're on the {plan} plan with about {seats} users.",
            "Our IT team double-checked the ACS URL and entity ID.",
            "Password login still works for the owner account.",
            "We need this working before our security audit next week.",
        ),
        angry=(
            "Half of our company can't log in right now!",
            "We pay for Enterprise precisely for SSO and it DOESN'T WORK.",
        ),
        sarcastic=(
            "Single sign-on, zero sign-ins. Impressive.",
            "Love how enterprise-ready means it works every second Tuesday.",
        ),
        answers=(
            "This error usually means the SAML certificate we have no longer matches the one "
            "in Okta. Please upload the new certificate under Settings > Security > SSO.",
            "Please make sure the users are assigned to the {product} app in Okta; unassigned "
            "users get exactly this error.",
            "Just-in-time provisioning was turned off on your account. I've enabled it, so new "
            "Okta users are created on first login.",
        ),
        i18n=(
            (
                "de",
                "SSO mit Okta funktioniert nicht",
                "Wir haben SSO mit Okta nach Ihrer Anleitung eingerichtet, aber jede Anmeldung "
                "endet mit dem Fehler '{okta_error}'.",
            ),
            (
                "de",
                "Okta-Anmeldung schlägt fehl",
                "Seit heute Morgen kann sich niemand aus unserem Team über Okta anmelden.",
            ),
            (
                "fr",
                "Échec SSO Okta",
                "Depuis ce matin, aucun de nos utilisateurs ne peut se connecter via Okta. Le "
                "message d'erreur est '{okta_error}'.",
            ),
            (
                "fr",
                "Configuration SAML",
                "Comment configurer l'authentification unique SAML avec Okta ? L'URL de "
                "métadonnées de la documentation renvoie une erreur 404.",
            ),
            (
                "es",
                "Error de SSO con Okta",
                "Configuramos el inicio de sesión único con Okta, pero todos los usuarios reciben "
                "el error '{okta_error}'.",
            ),
            (
                "pt",
                "SSO com Okta falhando",
                "Configuramos o login único com o Okta, mas todo acesso termina com o erro "
                "'{okta_error}'.",
            ),
        ),
    ),
    _Topic(
        key="add_seat",
        area="billing",
        recurring=True,
        weight=8,
        tones=(5, 20, 62, 4, 9),
        complaint="adding a seat shouldn't need a ticket",
        subjects=(
            "Add a seat to our plan",
            "Need more user licenses",
            "How to add users to subscription",
            "Adding {seats_add} seats",
            "Upgrade seat count",
            "New hire needs access",
            "Seat limit reached",
        ),
        asks=(
            "How do I add a seat to our plan? We have a new hire starting on {weekday}.",
            "We need {seats_add} more seats on our {plan} subscription. Can I do that myself or "
            "do you need to change the contract?",
            "What's the process for adding users? The invite button is greyed out and says we've "
            "reached our seat limit.",
            "Can you add one seat to our account and prorate it on the next invoice?",
            "If I add a seat mid-cycle, will we be charged for the full month?",
            "hi, how do i add another user to our plan",
            "Where can I buy additional seats? I can't find it in the billing settings.",
        ),
        details=(
            "We're currently at {seats} seats.",
            "Please send the updated invoice to our finance team.",
            "I'm the account owner, so I should have billing permissions.",
            "We'll probably need a few more next quarter, so a volume discount would be great.",
        ),
        angry=("Why do I need to open a ticket just to PAY YOU MORE?",),
        sarcastic=("I'm trying to give you more money and somehow that's the hard part.",),
        answers=(
            "Account owners can add seats under Settings > Billing > Seats. New seats are "
            "prorated for the rest of your billing cycle.",
            "I've added the seats to your subscription. The prorated amount will appear on your "
            "next invoice.",
            "The invite button is disabled once all seats are in use. Add a seat under Billing "
            "first, then the invite will go through.",
        ),
        i18n=(
            (
                "es",
                "Añadir una licencia",
                "¿Cómo añado un usuario más a nuestro plan? Tenemos una nueva incorporación el "
                "lunes.",
            ),
            (
                "de",
                "Weitere Lizenz hinzufügen",
                "Wie kann ich unserem Tarif einen weiteren Nutzerplatz hinzufügen? Der "
                "Einladen-Button ist ausgegraut.",
            ),
            (
                "de",
                "Mehr Nutzer benötigt",
                "Wir brauchen {seats_add} zusätzliche Lizenzen. Geht das direkt im Konto oder "
                "müssen Sie den Vertrag anpassen?",
            ),
            (
                "fr",
                "Ajouter un utilisateur",
                "Comment ajouter une licence à notre abonnement ? Nous avons atteint la limite "
                "d'utilisateurs.",
            ),
            (
                "pt",
                "Adicionar usuário ao plano",
                "Como faço para adicionar mais um usuário ao nosso plano? O botão de convite está "
                "desativado.",
            ),
        ),
    ),
    _Topic(
        key="android_upload_crash",
        area="mobile_app",
        recurring=True,
        weight=5,
        tones=(30, 2, 35, 14, 19),
        complaint="the Android app crashes whenever we upload photos",
        subjects=(
            "App crashes on Android when uploading",
            "Android app closes during photo upload",
            "Crash when attaching files (Android)",
            "Upload crash after update to {app_version}",
            "Mobile app keeps crashing",
            "android app crash",
        ),
        asks=(
            "The Android app crashes every time I try to upload a photo to a report.",
            "Since updating to {app_version}, the app closes as soon as I attach a file on my "
            "{android_device}.",
            "Uploading more than two images at once crashes the app on Android. It worked fine "
            "last month.",
            "Our field team can't upload site photos anymore; the app just closes without an "
            "error on {android_version}.",
            "Whenever I pick a file from Google Drive in the app, it freezes and then crashes.",
            "app crashes when i upload pictures from the gallery",
        ),
        details=(
            "Device: {android_device}, {android_version}, app {app_version}.",
            "I already cleared the cache and reinstalled the app.",
            "It works fine on my colleague's iPhone.",
            "We've lost a whole day of inspection photos because of this.",
        ),
        angry=(
            "The app is USELESS if we can't upload photos.",
            "My whole field team is stuck because of this crash.",
        ),
        sarcastic=(
            "Love the new update. The crash is very fast now.",
            "Bold move, shipping a photo app that can't handle photos.",
        ),
        answers=(
            "Thanks for the details. This is a known issue affecting uploads on Android 14. A "
            "fix is rolling out in the next release; until then please upload one photo at a "
            "time.",
            "Our mobile team found the cause of the crash and the fix is in the latest version "
            "on Google Play. Please update and let us know if it still happens.",
        ),
        i18n=(
            (
                "es",
                "La app se cierra al subir fotos",
                "La aplicación de Android se cierra cada vez que intento subir una foto a un "
                "informe.",
            ),
            (
                "de",
                "App stürzt beim Hochladen ab",
                "Seit dem Update auf {app_version} stürzt die Android-App ab, sobald ich ein Foto "
                "anhänge.",
            ),
            (
                "fr",
                "Plantage de l'application Android",
                "L'application Android plante dès que j'essaie d'envoyer une photo depuis la "
                "galerie.",
            ),
            (
                "pt",
                "App fecha ao enviar fotos",
                "O aplicativo no Android fecha sozinho toda vez que tento enviar fotos de uma "
                "vistoria.",
            ),
        ),
    ),
    _Topic(
        key="webhook_retries",
        area="integrations",
        recurring=True,
        weight=5,
        tones=(14, 4, 64, 6, 12),
        complaint="webhook deliveries are unreliable",
        subjects=(
            "Webhook retries",
            "Webhooks not retried after 500",
            "How many times do you retry webhooks?",
            "Duplicate webhook deliveries",
            "Webhook delivery failures",
            "Question about webhook retry policy",
        ),
        asks=(
            "How does your webhook retry policy work? Our endpoint was down for an hour and we "
            "lost events.",
            "We're receiving the same webhook three or four times. Is there an idempotency key "
            "we can use?",
            "Our endpoint returned a 503 during a deploy. Will the webhooks be retried, and for "
            "how long?",
            "Can we manually replay failed webhook deliveries from last {weekday}?",
            "Webhooks to https://hooks.{domain}/tallybird stopped arriving after a few timeouts. "
            "Did you disable the endpoint?",
        ),
        details=(
            "We respond within 2 seconds in normal conditions.",
            "Our endpoint is behind Cloudflare.",
            "We're using the v2 events API.",
            "The events we care about are ticket.updated and report.completed.",
        ),
        angry=("We LOST DATA because your webhooks just gave up.",),
        sarcastic=("Apparently 'at least once' means 'at most once, if you're lucky'.",),
        answers=(
            "We retry failed deliveries with exponential backoff for up to 24 hours (8 "
            "attempts). Each delivery carries an X-Tallybird-Delivery header you can use to "
            "deduplicate.",
            "After 20 consecutive failures an endpoint is disabled automatically. I've "
            "re-enabled yours; you can replay failed deliveries from Settings > Developers > "
            "Webhooks.",
        ),
        i18n=(
            (
                "de",
                "Webhook-Wiederholungen",
                "Wie oft werden fehlgeschlagene Webhooks erneut zugestellt? Unser Endpunkt war "
                "eine Stunde lang nicht erreichbar.",
            ),
            (
                "fr",
                "Relance des webhooks",
                "Notre serveur a renvoyé une erreur 503 pendant un déploiement. Les webhooks "
                "seront-ils renvoyés ?",
            ),
            (
                "es",
                "Reintentos de webhooks",
                "Recibimos el mismo webhook tres o cuatro veces. ¿Hay alguna clave de idempotencia "
                "que podamos usar?",
            ),
            (
                "pt",
                "Reenvio de webhooks",
                "Nosso endpoint ficou fora do ar por uma hora. Os webhooks são reenviados "
                "automaticamente?",
            ),
        ),
    ),
    _Topic(
        key="change_billing_email",
        area="billing",
        recurring=True,
        weight=6,
        tones=(6, 12, 70, 3, 9),
        complaint="invoices keep going to the wrong person",
        subjects=(
            "Change billing email",
            "Update invoice recipient",
            "Invoices going to wrong email",
            "New billing contact",
            "Where can I change where invoices are sent?",
        ),
        asks=(
            "How do I change the email address that receives our invoices?",
            "Our invoices still go to someone who left the company. Can we update the billing "
            "email?",
            "Please send invoices to our accounts payable mailbox from now on instead of to me.",
            "Where can I change the billing contact? I only see my own profile email.",
            "Can invoices be sent to two addresses, for example finance and the team lead?",
            "how can i update the billing email address",
        ),
        details=(
            "Our finance team asked me to sort this out before the next invoice.",
            "I'm an admin but not the account owner.",
            "We also need our VAT number on the invoices.",
        ),
        angry=("I have asked for this change TWICE already.",),
        sarcastic=(
            "Changing an email address shouldn't be a multi-week project, but here we are.",
        ),
        answers=(
            "The account owner can change the billing email under Settings > Billing > Invoice "
            "recipient. You can add up to three addresses separated by commas.",
            "I've updated the billing email on your account; the next invoice will go to the "
            "new address.",
        ),
        i18n=(
            (
                "es",
                "Cambiar el correo de facturación",
                "¿Cómo cambio la dirección de correo a la que llegan las facturas?",
            ),
            (
                "de",
                "Rechnungsempfänger ändern",
                "Unsere Rechnungen gehen noch an eine Kollegin, die nicht mehr bei uns ist. Wie "
                "ändere ich die Rechnungs-E-Mail?",
            ),
            (
                "fr",
                "Modifier l'adresse de facturation",
                "Comment changer l'adresse e-mail qui reçoit nos factures ?",
            ),
            (
                "pt",
                "Alterar e-mail de cobrança",
                "Como altero o e-mail que recebe as faturas? A pessoa responsável saiu da empresa.",
            ),
        ),
    ),
    _Topic(
        key="export_slow",
        area="performance",
        recurring=True,
        weight=5,
        tones=(28, 2, 35, 15, 20),
        complaint="exports are painfully slow",
        subjects=(
            "CSV export is very slow",
            "Export times out",
            "Export stuck at 99%",
            "Large export never finishes",
            "Exports taking forever",
            "504 on export",
        ),
        asks=(
            "Exporting {report} to CSV takes more than 10 minutes and often times out.",
            "The CSV export of about {rows} rows never finishes; the progress bar just sits at "
            "99%.",
            "Exports used to take seconds. Now they take forever and sometimes fail with a 504.",
            "Is there a limit on export size? Anything over {rows} rows seems to hang.",
            "export to csv is super slow today, is something wrong?",
        ),
        details=(
            "We export this every morning for our ops meeting.",
            "Smaller exports work fine.",
            "I tried two different browsers, same result.",
        ),
        angry=("We can't run our morning meeting without this export!",),
        sarcastic=(
            "Export started yesterday. I'll let you know if it finishes before retirement.",
        ),
        answers=(
            "Large exports now run in the background; you'll get an email with a download link "
            "when the file is ready.",
            "We found a slow query affecting exports on your workspace and deployed a fix. "
            "Exports should be back to normal speed.",
        ),
        i18n=(
            (
                "de",
                "CSV-Export sehr langsam",
                "Der CSV-Export von {report} dauert über zehn Minuten und bricht oft ab.",
            ),
            (
                "es",
                "Exportación muy lenta",
                "Exportar a CSV tarda muchísimo y a veces falla con un error 504.",
            ),
            (
                "fr",
                "Export CSV très lent",
                "L'export CSV d'environ {rows} lignes ne se termine jamais, la barre reste bloquée "
                "à 99 %.",
            ),
            (
                "pt",
                "Exportação lenta",
                "A exportação para CSV está demorando mais de dez minutos e às vezes dá erro.",
            ),
        ),
    ),
    _Topic(
        key="notification_settings",
        area="notifications",
        recurring=True,
        weight=5,
        tones=(16, 8, 56, 10, 10),
        complaint="the notification emails are overwhelming",
        subjects=(
            "Too many email notifications",
            "How to turn off notifications",
            "Stop daily digest emails",
            "Notification settings",
            "Getting emails for every comment",
        ),
        asks=(
            "How do I turn off email notifications for comments I'm not mentioned in?",
            "I'm getting 50+ notification emails a day. Is there a digest option?",
            "How can I stop the daily summary email for my whole team?",
            "Push notifications on my phone stopped working after the update.",
            "Can I mute notifications for one project only?",
        ),
        details=(
            "I've already unchecked everything in my profile settings.",
            "This started after we were added to a new workspace.",
        ),
        angry=("STOP SPAMMING ME. I've unsubscribed three times.",),
        sarcastic=("I now get more emails from you than from my own team. Congratulations.",),
        answers=(
            "You can choose which events send emails under Profile > Notifications. Switching "
            "to the daily digest bundles everything into one email.",
            "Admins can turn off the team summary for everyone under Settings > Notifications "
            "> Workspace defaults.",
        ),
        i18n=(
            (
                "de",
                "Zu viele Benachrichtigungen",
                "Wie kann ich die E-Mail-Benachrichtigungen für Kommentare abschalten? Ich bekomme "
                "über fünfzig Mails am Tag.",
            ),
            (
                "fr",
                "Trop de notifications",
                "Comment désactiver les notifications par e-mail pour les commentaires ?",
            ),
        ),
    ),
    _Topic(
        key="scheduled_reports",
        area="reporting",
        recurring=True,
        weight=4,
        tones=(20, 3, 55, 8, 14),
        complaint="scheduled reports don't always arrive",
        subjects=(
            "Scheduled report not delivered",
            "Weekly report email missing",
            "Scheduled PDF never arrives",
            "Report schedule stopped working",
        ),
        asks=(
            "Our weekly {report} report didn't arrive this {weekday}.",
            "Scheduled reports stopped sending after we changed the owner of the dashboard.",
            "How do I schedule the {report} report to go out every Monday at 8am?",
            "The scheduled report arrives but the PDF is empty.",
        ),
        details=(
            "It's sent to a distribution list, not a single person.",
            "Nothing in our spam folder either.",
        ),
        angry=("Our management meeting had NO NUMBERS because of this.",),
        sarcastic=("The report is scheduled, just apparently not for this century.",),
        answers=(
            "Schedules belong to the person who created them; when the owner changed, the "
            "schedule was paused. I've reactivated it under the new owner.",
            "You can schedule any report under Reports > Schedule. Pick the weekday, time and "
            "recipients; times follow your workspace timezone.",
        ),
        i18n=(
            (
                "de",
                "Geplanter Bericht kommt nicht an",
                "Unser wöchentlicher Bericht {report} ist diesen {weekday} nicht angekommen.",
            ),
        ),
    ),
    # Rare topics: a handful of tickets each, never enough to be FAQ candidates.
    _Topic(
        key="dark_mode",
        area="mobile_app",
        recurring=False,
        weight=0.7,
        tones=(3, 25, 50, 8, 14),
        complaint="there's still no dark mode",
        subjects=("Dark mode?", "Feature request: dark theme"),
        asks=(
            "Is there a dark mode planned for the mobile app?",
            "Any chance of a dark theme? My eyes hurt on night shifts.",
        ),
        details=("Most of our inspections happen in the evening.",),
        angry=("It's 2020-something and there's no dark mode?",),
        sarcastic=("Love being blinded by white screens at 11pm.",),
        answers=("Dark mode is on our roadmap for the mobile apps; I've added your vote.",),
    ),
    _Topic(
        key="api_rate_limit",
        area="integrations",
        recurring=False,
        weight=0.7,
        tones=(15, 3, 62, 8, 12),
        complaint="the API rate limits are too tight",
        subjects=("Getting 429 Too Many Requests", "API rate limits?"),
        asks=(
            "Our sync job gets '429 Too Many Requests' after about {n_req} requests per minute. "
            "What are the rate limits?",
            "Can you raise the API rate limit for our account during the initial import?",
        ),
        details=("We use the {integration} connector.",),
        angry=("Our nightly sync FAILED again because of your limits.",),
        sarcastic=("Nothing like an API that gets tired after a few requests.",),
        answers=(
            "The limit is 600 requests per minute per token; the Retry-After header tells you "
            "how long to wait.",
        ),
    ),
    _Topic(
        key="report_timezone",
        area="reporting",
        recurring=False,
        weight=0.6,
        tones=(15, 3, 60, 10, 12),
        complaint="dates in reports are off by a day",
        subjects=("Reports show wrong timezone", "Dates off by one day in reports"),
        asks=(
            "Dates in the {report} report are shifted by one day for entries made in the evening.",
            "How do I change the timezone used in reports? Everything shows in UTC.",
        ),
        details=("Our workspace is set to Central European Time.",),
        angry=("Our numbers are WRONG because of this.",),
        sarcastic=("Apparently our team works in the future now.",),
        answers=("Reports use the workspace timezone under Settings > General > Timezone.",),
    ),
    _Topic(
        key="slack_integration",
        area="notifications",
        recurring=False,
        weight=0.8,
        tones=(15, 6, 58, 9, 12),
        complaint="the Slack integration is flaky",
        subjects=("Slack notifications stopped", "Slack integration not posting"),
        asks=(
            "Our Slack channel stopped receiving {product} notifications yesterday.",
            "How do I connect a private Slack channel? It doesn't show up in the list.",
        ),
        details=("We reinstalled the Slack app but it didn't help.",),
        angry=("We missed an urgent issue because Slack went silent!",),
        sarcastic=("Our Slack channel has never been so peaceful. Thanks, I guess.",),
        answers=("Please reconnect Slack under Settings > Integrations; the token had expired.",),
    ),
    _Topic(
        key="dashboard_slow",
        area="performance",
        recurring=False,
        weight=0.8,
        tones=(25, 2, 40, 18, 15),
        complaint="the dashboards load slowly",
        subjects=("Dashboard very slow", "Dashboards take forever to load"),
        asks=(
            "The main dashboard takes 30+ seconds to load this week.",
            "Is there a known performance problem? Charts keep spinning.",
        ),
        details=("We have about 40 widgets on that dashboard.",),
        angry=("This is unusable. Every click takes forever.",),
        sarcastic=("I brewed a coffee while the dashboard loaded. Two, actually.",),
        answers=("We found a slow query on large dashboards and deployed a fix this morning.",),
    ),
    _Topic(
        key="invoice_vat",
        area="billing",
        recurring=False,
        weight=0.6,
        tones=(10, 5, 70, 5, 10),
        complaint="the invoices are missing our VAT ID",
        subjects=("VAT number missing on invoice", "Add VAT ID to invoices"),
        asks=(
            "Our VAT ID is missing from invoice {invoice}. Can you reissue it?",
            "How do I add our VAT number so it appears on future invoices?",
        ),
        details=("Our auditors need it for the reverse-charge rules.",),
        angry=("Third invoice in a row WITHOUT our VAT ID.",),
        sarcastic=("Taxes are fun, but not this much fun.",),
        answers=(
            "Add your VAT ID under Settings > Billing > Tax details; I've reissued the "
            "invoice with it.",
        ),
    ),
    _Topic(
        key="magic_link",
        area="login",
        recurring=False,
        weight=0.5,
        tones=(15, 5, 62, 8, 10),
        complaint="the login links expire too fast",
        subjects=("Login link expired", "Magic link not working"),
        asks=(
            "The login link from your email says it has expired, even when I click it right away.",
            "Our email scanner seems to open the magic link before I do. Any workaround?",
        ),
        details=("We use Microsoft Defender for email.",),
        angry=("I can't even LOG IN.",),
        sarcastic=("A login link that expires before I can click it. Very secure.",),
        answers=(
            "Link scanners can consume one-time links; we've allowlisted a second click "
            "for your domain.",
        ),
    ),
    _Topic(
        key="service_outage",
        area="performance",
        recurring=False,
        weight=0.25,
        tones=(40, 0, 15, 35, 10),
        complaint="there was another outage",
        subjects=("Is {product} down?", "502 errors everywhere", "Site not loading", "Outage?"),
        asks=(
            "Nothing loads for our whole team, we just get 502 Bad Gateway.",
            "Is there an outage? The app has been down for 20 minutes.",
            "Getting 'Something went wrong' on every page.",
        ),
        details=("Your status page says everything is operational.",),
        angry=("We have a client presentation in an hour and NOTHING WORKS.",),
        sarcastic=("Great, another outage. Just what I needed.",),
        answers=(
            "We had a partial outage between 14:05 and 14:48 UTC; everything is back to "
            "normal and a post-mortem will follow.",
        ),
    ),
)
_TONE_CUM = {t.key: _cumulative(t.tones) for t in _TOPICS}
_TOPIC_LANGS = {t.key: frozenset(lang for lang, _, _ in t.i18n) for t in _TOPICS}

# --------------------------------------------------------------------------- tone & language

_EN: dict[str, tuple[str, ...]] = {
    "greet": (
        "Hi,",
        "Hello,",
        "Hi team,",
        "Hey there,",
        "Hello {product} support,",
        "Good morning,",
        "Hi all,",
        "Dear support team,",
    ),
    "angry_open": (
        "This is the third time I'm asking about this.",
        "Still waiting for an answer on this!!!",
        "No response from your team for {n_days} days.",
        "I am extremely frustrated.",
        "Third time asking. Does anyone actually read these?",
        "Seriously, this is unacceptable.",
        "I've already explained this twice to your colleagues.",
    ),
    "angry_close": (
        "Fix this or I will cancel my account.",
        "I want a refund.",
        "If I don't hear back today we're cancelling our account.",
        "Escalate this to a manager please!!!",
        "Still waiting...",
        "We're seriously considering switching to another tool.",
        "Not happy. 😡",
        "😡😡😡",
        "No response again and we're gone.",
    ),
    "happy_open": (
        "Hi team! First of all, love the product 🎉",
        "Hope you're having a great day!",
        "Thanks again for the quick help last week, you guys are great.",
        "We've been really happy with {product} so far.",
        "Our team loves the new dashboards!",
    ),
    "happy_close": (
        "Thanks so much! 🙏",
        "You guys rock 👍",
        "Really appreciate your help!",
        "Thank you, keep up the great work! 🎉",
        "Thanks a lot, have a nice day!",
        "Cheers and thanks in advance!",
    ),
    "neutral_close": (
        "Thanks in advance.",
        "Thank you.",
        "Let me know if you need more details.",
        "Thanks for your help.",
        "Appreciate it.",
    ),
    "sarcastic_open": (
        "Great, another outage. Just what I needed.",
        "Oh wonderful, it's broken again.",
        "Another day, another bug. Thrilling.",
        "Fantastic. Exactly what I wanted to spend my afternoon on 🙄",
        "Love paying for software that works when it feels like it.",
        "Brilliant update, truly. 🙄",
    ),
    "sarcastic_close": (
        "Can't wait to hear back in another week.",
        "Take your time, it's not like we have work to do.",
        "But sure, 'we value your feedback'.",
        "Looking forward to your canned response.",
    ),
    "mixed_open": (
        "The app is nice but support is slow.",
        "I really like the product, but {complaint}.",
        "Love the new dashboards, but {complaint}.",
        "The features are great; the reliability lately, not so much.",
        "Your team is always friendly, although responses have been slow lately.",
        "Overall we're happy with {product}, however {complaint}.",
    ),
    "mixed_close": (
        "Otherwise really happy with the product.",
        "Apart from this, great tool 👍",
        "Still recommend you to others, just please fix this.",
    ),
    "sign": (
        "Thanks,\n{first}",
        "Best,\n{first} {last}",
        "Cheers,\n{first}",
        "Regards,\n{first} {last}\n{job_title}, {company}",
        "{first}",
        "Kind regards,\n{first} {last}",
    ),
}
_I18N: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "greet": ("Hola,", "Buenos días,", "Hola equipo,"),
        "angry_open": (
            "¡Es la tercera vez que escribo por esto!",
            "Llevo {n_days} días esperando una respuesta.",
            "Esto es inaceptable.",
        ),
        "angry_close": (
            "Si no lo solucionan hoy, cancelaremos la cuenta.",
            "Quiero un reembolso.",
            "Estoy muy molesto. 😡",
        ),
        "happy_open": (
            "¡Hola! Nos encanta la herramienta 🎉",
            "Gracias de nuevo por la ayuda de la semana pasada.",
        ),
        "happy_close": ("¡Muchas gracias! 🙏", "¡Son geniales! 👍"),
        "neutral_close": ("Gracias de antemano.", "Un saludo."),
        "sarcastic_open": (
            "Genial, otra caída. Justo lo que necesitaba.",
            "Qué maravilla, otra vez roto. 🙄",
        ),
        "sarcastic_close": ("Espero respuesta, con calma, que no tenemos prisa.",),
        "mixed_open": (
            "La aplicación está bien, pero el soporte es muy lento.",
            "Me gusta mucho el producto, aunque este problema es muy molesto.",
        ),
        "mixed_close": ("Por lo demás, estamos contentos con la herramienta.",),
        "sign": ("Saludos,\n{first}", "Un saludo,\n{first} {last}"),
    },
    "de": {
        "greet": ("Hallo,", "Guten Tag,", "Hallo zusammen,", "Sehr geehrte Damen und Herren,"),
        "angry_open": (
            "Das ist jetzt das dritte Mal, dass ich nachfrage!",
            "Seit {n_days} Tagen keine Antwort.",
            "Das ist absolut inakzeptabel.",
        ),
        "angry_close": (
            "Wenn das heute nicht gelöst wird, kündigen wir.",
            "Ich erwarte eine Rückerstattung.",
            "Sehr ärgerlich. 😡",
        ),
        "happy_open": (
            "Hallo! Wir sind total begeistert von {product} 🎉",
            "Danke nochmal für die schnelle Hilfe letzte Woche.",
        ),
        "happy_close": ("Vielen Dank! 🙏", "Ihr seid super 👍"),
        "neutral_close": ("Vielen Dank im Voraus.", "Danke für Ihre Hilfe."),
        "sarcastic_open": (
            "Super, schon wieder ein Ausfall. Genau das, was ich heute gebraucht habe.",
            "Na toll, wieder kaputt. 🙄",
        ),
        "sarcastic_close": ("Ich warte dann mal die nächste Woche auf eine Antwort.",),
        "mixed_open": (
            "Die App ist gut, aber der Support ist langsam.",
            "Das Produkt gefällt uns sehr, aber dieses Problem nervt gewaltig.",
        ),
        "mixed_close": ("Ansonsten sind wir sehr zufrieden.",),
        "sign": ("Viele Grüße\n{first}", "Beste Grüße\n{first} {last}", "MfG\n{first} {last}"),
    },
    "fr": {
        "greet": ("Bonjour,", "Bonjour à tous,", "Bonjour l'équipe,"),
        "angry_open": (
            "C'est la troisième fois que je vous écris à ce sujet !",
            "Toujours aucune réponse depuis {n_days} jours.",
            "C'est inadmissible.",
        ),
        "angry_close": (
            "Si ce n'est pas réglé aujourd'hui, nous résilierons notre abonnement.",
            "Je veux être remboursé.",
            "Très mécontent. 😡",
        ),
        "happy_open": (
            "Bonjour ! On adore l'outil 🎉",
            "Merci encore pour votre aide la semaine dernière.",
        ),
        "happy_close": ("Merci beaucoup ! 🙏", "Vous êtes au top 👍"),
        "neutral_close": ("Merci d'avance.", "Cordialement."),
        "sarcastic_open": (
            "Super, encore une panne. Exactement ce qu'il me fallait.",
            "Génial, c'est encore cassé. 🙄",
        ),
        "sarcastic_close": ("J'attends votre réponse, prenez votre temps surtout.",),
        "mixed_open": (
            "L'application est bien, mais le support est lent.",
            "Nous aimons beaucoup le produit, mais ce problème devient pénible.",
        ),
        "mixed_close": ("Sinon, nous sommes très contents de l'outil.",),
        "sign": ("Cordialement,\n{first} {last}", "Bonne journée,\n{first}"),
    },
    "pt": {
        "greet": ("Olá,", "Bom dia,", "Oi pessoal,"),
        "angry_open": (
            "É a terceira vez que eu pergunto sobre isso!",
            "Estou há {n_days} dias sem resposta.",
            "Isso é inaceitável.",
        ),
        "angry_close": (
            "Se não resolverem hoje, vamos cancelar a conta.",
            "Quero o reembolso.",
            "Muito insatisfeito. 😡",
        ),
        "happy_open": (
            "Oi! Adoramos a ferramenta 🎉",
            "Obrigado de novo pela ajuda na semana passada.",
        ),
        "happy_close": ("Muito obrigado! 🙏", "Vocês são demais 👍"),
        "neutral_close": ("Desde já, obrigado.", "Obrigado."),
        "sarcastic_open": (
            "Ótimo, mais uma queda. Era exatamente o que eu precisava.",
            "Que maravilha, quebrou de novo. 🙄",
        ),
        "sarcastic_close": ("Fico no aguardo, sem pressa nenhuma, claro.",),
        "mixed_open": (
            "O aplicativo é bom, mas o suporte é lento.",
            "Gostamos muito do produto, mas esse problema está atrapalhando.",
        ),
        "mixed_close": ("Fora isso, estamos satisfeitos com a ferramenta.",),
        "sign": ("Abraço,\n{first}", "Atenciosamente,\n{first} {last}"),
    },
}
_LEXICON = {"en": _EN, **_I18N}

_PII_SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "CREDIT_CARD": (
            "The card we pay with is {card}, can you check it's the right one?",
            "Please charge this card instead: {card}, exp {card_exp}.",
            "My card number is {card} in case you need it to find the payment.",
            "Refund to {card} please.",
        ),
        "US_SSN": (
            "For the W-9 form you asked for, my SSN is {ssn}.",
            "Your tax form asks for an SSN, mine is {ssn}. Is that safe to send here?",
            "SSN on file should be {ssn}.",
        ),
        "EMAIL_ADDRESS": (
            "Please reply to {email_pii} instead, I don't check this inbox often.",
            "You can also cc my colleague at {email_pii}.",
            "The user having the problem is {email_pii}.",
        ),
        "PHONE_NUMBER": (
            "Call me at {phone} if that's easier.",
            "My direct line is {phone}.",
            "Feel free to text {phone}.",
        ),
        "IBAN_CODE": (
            "Please send the refund to our bank account, IBAN {iban}.",
            "Our IBAN for the refund: {iban}.",
            "We changed banks; the new IBAN is {iban}.",
        ),
        "IP_ADDRESS": (
            "Our office IP is {ipv4}, could it be blocked on your side?",
            "In case it helps with your logs, we're connecting from {ipv4}.",
            "Our server's IPv6 address is {ipv6} if you need to allowlist it.",
            "I'm connecting from {ipv6}, if that matters.",
        ),
    },
    "es": {
        "PHONE_NUMBER": ("Mi teléfono es {phone}.", "Pueden llamarme al {phone}."),
        "IBAN_CODE": ("Pueden devolver el dinero a la cuenta {iban}.",),
        "EMAIL_ADDRESS": ("Escríbanme mejor a {email_pii}.",),
        "CREDIT_CARD": ("La tarjeta con la que pagamos es la {card}.",),
        "IP_ADDRESS": ("Nuestra IP de oficina es {ipv4}.",),
    },
    "de": {
        "PHONE_NUMBER": ("Sie erreichen mich unter {phone}.", "Rückruf gerne unter {phone}."),
        "IBAN_CODE": (
            "Bitte überweisen Sie die Erstattung auf IBAN {iban}.",
            "Unsere neue Bankverbindung: {iban}.",
        ),
        "EMAIL_ADDRESS": ("Bitte antworten Sie an {email_pii}.",),
        "CREDIT_CARD": ("Abgebucht wurde von der Karte {card}.",),
        "IP_ADDRESS": ("Unsere feste IP ist {ipv4}, wird die blockiert?",),
    },
    "fr": {
        "PHONE_NUMBER": ("Vous pouvez me joindre au {phone}.",),
        "IBAN_CODE": ("Merci de rembourser sur l'IBAN {iban}.",),
        "EMAIL_ADDRESS": ("Répondez-moi plutôt à {email_pii}.",),
        "CREDIT_CARD": ("La carte débitée est la {card}.",),
        "IP_ADDRESS": ("Notre adresse IP est {ipv4}.",),
    },
    "pt": {
        "PHONE_NUMBER": ("Meu telefone é {phone}.", "Podem me ligar no {phone}."),
        "IBAN_CODE": ("Podem fazer o reembolso no IBAN {iban}.",),
        "EMAIL_ADDRESS": ("Respondam para {email_pii}, por favor.",),
        "CREDIT_CARD": ("O cartão cobrado foi o {card}.",),
        "IP_ADDRESS": ("O IP do nosso escritório é {ipv4}.",),
    },
}
_PII_WEIGHTS = {
    "EMAIL_ADDRESS": 25.0,
    "PHONE_NUMBER": 25.0,
    "CREDIT_CARD": 15.0,
    "IP_ADDRESS": 15.0,
    "IBAN_CODE": 10.0,
    "US_SSN": 10.0,
}
# People paste what the conversation is about: bank details into billing tickets, addresses
# into login and integration tickets.
_PII_AREA_BOOST: dict[str, dict[str, float]] = {
    "billing": {"CREDIT_CARD": 3.0, "IBAN_CODE": 3.0, "US_SSN": 2.0, "IP_ADDRESS": 0.1},
    "login": {"IP_ADDRESS": 3.0, "CREDIT_CARD": 0.3, "IBAN_CODE": 0.2},
    "integrations": {"IP_ADDRESS": 4.0, "CREDIT_CARD": 0.2, "IBAN_CODE": 0.2},
    "performance": {"IP_ADDRESS": 2.0, "CREDIT_CARD": 0.3, "IBAN_CODE": 0.3},
    "mobile_app": {"PHONE_NUMBER": 2.0, "IBAN_CODE": 0.3},
}

_LOOKALIKE_SENTENCES = {
    "en": (
        "This is about order {order}.",
        "We're on {app_version}.",
        "Invoice {invoice} from {date} was {price}.",
        "Tracking number for the replacement scanner: {tracking}.",
        "Your billing portal shows reference {ref16}, not sure what that is.",
        "Our renewal is on {date}.",
        "The quote said {price} per year.",
        "Reference from the payment page: {ref16}.",
        "Order {order} shipped with {tracking}.",
    ),
    "es": (
        "Es sobre el pedido {order}.",
        "Tenemos la versión {app_version}.",
        "La factura {invoice} del {date} era de {price_local}.",
    ),
    "de": (
        "Es geht um die Bestellung {order}.",
        "Wir nutzen Version {app_version}.",
        "Die Rechnung {invoice} vom {date} über {price_local}.",
        "Referenznummer laut Portal: {ref16}.",
    ),
    "fr": (
        "Il s'agit de la commande {order}.",
        "Nous utilisons la version {app_version}.",
        "La facture {invoice} du {date} s'élevait à {price_local}.",
    ),
    "pt": (
        "É sobre o pedido {order}.",
        "Estamos na versão {app_version}.",
        "A fatura {invoice} de {date} foi de {price_local}.",
    ),
}

# Agent and customer follow-ups, per language.
_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "hello_first": (
            "Hi {first}, thanks for reaching out!",
            "Hi {first},",
            "Hello {first}, thanks for contacting {product} Support.",
        ),
        "hello": ("Hi {first},", "Hello {first},", "Hi again {first},", "Thanks {first},"),
        "sorry": (
            "I'm really sorry for the wait and the trouble this has caused.",
            "Apologies for the frustration, I completely understand.",
            "Sorry about this, that's not the experience we want you to have.",
        ),
        "ack": (
            "I'm looking into this now and will get back to you shortly.",
            "Thanks for the details. I've started investigating and will update you soon.",
            "I've picked this up and I'm checking with the team.",
        ),
        "ask": (
            "Could you send a screenshot of the error and roughly when it happened?",
            "Could you tell me which browser and version you're using?",
            "Can you confirm which workspace this is about?",
            "Does this happen for everyone on your team or only for you?",
        ),
        # One answer pool per question above, same order.
        "answer_0": (
            "Screenshot attached. It happened around {clock_time} today.",
            "Sure, see attached. Around {clock_time}, I think.",
        ),
        "answer_1": ("I'm using {browser} on {desktop_os}.", "{browser}, on {desktop_os}."),
        "answer_2": (
            "It's our main workspace, the one named after the company.",
            "The production one, not the sandbox.",
        ),
        "answer_3": (
            "It happens for the whole team.",
            "Only for me as far as I can tell.",
            "Two of us so far.",
        ),
        "solved": (
            "I'll mark this ticket as solved, but just reply if anything is unclear.",
            "Let me know if there's anything else I can help with.",
            "Hope that helps!",
        ),
        "again": (
            "Thanks for letting us know it came back.",
            "Sorry it happened again. I dug deeper this time.",
        ),
        "hold": (
            "I've passed this to our engineering team and put the ticket on hold while they "
            "investigate. I'll update you as soon as I hear back.",
            "Our developers are looking into this; I'll keep the ticket on hold until they "
            "have a fix.",
        ),
        "nudge": (
            "We haven't heard back from you, so we're marking this ticket as solved. "
            "Replying to this email reopens it.",
        ),
        "sig": (
            "Best,\n{agent}\n{product} Support",
            "Thanks,\n{agent}",
            "Kind regards,\n{agent} | {product} Customer Support",
        ),
        "user_chase": (
            "Any update on this???",
            "Still waiting. This is getting ridiculous.",
            "Hello?? It's been {n_days} days.",
            "STILL NOT FIXED.",
            "Is anyone looking at this?",
        ),
        "user_thanks": (
            "That worked, thank you!",
            "Perfect, thanks so much 🙏",
            "Great, all sorted 👍",
            "Thanks, that did it.",
        ),
        "user_reopen": (
            "Sorry, it's happening again.",
            "This is broken again, please reopen.",
            "The fix didn't stick, same problem today.",
            "Not solved. Same issue as before!!!",
        ),
    },
    "es": {
        "hello_first": ("Hola {first}:",),
        "hello": ("Hola {first}:", "Hola de nuevo, {first}:"),
        "sorry": ("Lamentamos mucho la espera y las molestias.",),
        "ack": ("Estoy revisando el caso y te respondo en breve.",),
        "ask": ("¿Podrías enviarnos una captura de pantalla del error?",),
        "solved": ("Ya está solucionado. Si vuelve a ocurrir, responde a este mensaje.",),
        "again": ("Gracias por avisarnos, lo hemos revisado de nuevo.",),
        "hold": (
            "Hemos pasado el caso a nuestro equipo técnico y te avisaremos en cuanto "
            "tengamos novedades.",
        ),
        "nudge": ("Como no hemos recibido respuesta, marcamos el ticket como resuelto.",),
        "sig": ("Saludos,\n{agent}\nSoporte de {product}",),
        "answer_0": ("Claro, pasó hoy sobre las {clock_time}.", "Adjunto la captura."),
        "user_chase": ("¿Alguna novedad?", "Sigo esperando una respuesta."),
        "user_thanks": ("¡Funcionó, muchas gracias!",),
        "user_reopen": ("Vuelve a pasar lo mismo.",),
    },
    "de": {
        "hello": ("Hallo {first},", "Guten Tag {first},"),
        "sorry": ("Entschuldigen Sie bitte die lange Wartezeit.",),
        "ack": ("Ich schaue mir das gerade an und melde mich in Kürze.",),
        "ask": ("Könnten Sie uns einen Screenshot der Fehlermeldung schicken?",),
        "solved": ("Das Problem ist behoben. Antworten Sie einfach, falls es wieder auftritt.",),
        "again": ("Danke für den Hinweis, wir haben es uns nochmal genauer angesehen.",),
        "hold": (
            "Ich habe den Fall an unser Entwicklerteam weitergegeben und melde mich, sobald "
            "es Neuigkeiten gibt.",
        ),
        "nudge": ("Da wir nichts mehr von Ihnen gehört haben, schließen wir das Ticket.",),
        "sig": ("Viele Grüße\n{agent}\n{product} Support",),
        "answer_0": (
            "Screenshot ist im Anhang, das war heute gegen {clock_time} Uhr.",
            "Anbei der Screenshot.",
        ),
        "user_chase": ("Gibt es schon etwas Neues?", "Ich warte immer noch auf eine Antwort!"),
        "user_thanks": ("Hat funktioniert, vielen Dank!",),
        "user_reopen": ("Das Problem ist wieder da.",),
    },
    "fr": {
        "hello": ("Bonjour {first},",),
        "sorry": ("Toutes nos excuses pour l'attente.",),
        "ack": ("Je regarde cela tout de suite et reviens vers vous rapidement.",),
        "ask": ("Pourriez-vous nous envoyer une capture d'écran de l'erreur ?",),
        "solved": ("Le problème est résolu. Répondez simplement si cela se reproduit.",),
        "again": ("Merci de nous avoir prévenus, nous avons vérifié à nouveau.",),
        "hold": (
            "J'ai transmis le dossier à notre équipe technique, je reviens vers vous dès "
            "que possible.",
        ),
        "nudge": ("Sans nouvelles de votre part, nous marquons ce ticket comme résolu.",),
        "sig": ("Cordialement,\n{agent}\nSupport {product}",),
        "answer_0": (
            "Voici la capture, c'est arrivé aujourd'hui vers {clock_time}.",
            "Capture d'écran en pièce jointe.",
        ),
        "user_chase": ("Des nouvelles ?", "J'attends toujours une réponse !"),
        "user_thanks": ("Ça marche, merci beaucoup !",),
        "user_reopen": ("Le problème est revenu.",),
    },
    "pt": {
        "hello": ("Olá {first},",),
        "sorry": ("Pedimos desculpas pela demora.",),
        "ack": ("Estou verificando o caso e retorno em breve.",),
        "ask": ("Você poderia enviar um print do erro?",),
        "solved": ("Está resolvido. Se acontecer de novo, é só responder este e-mail.",),
        "again": ("Obrigado por avisar, verificamos novamente.",),
        "hold": (
            "Encaminhei o caso para a nossa equipe técnica e aviso assim que tiver novidades.",
        ),
        "nudge": ("Como não tivemos retorno, vamos marcar o ticket como resolvido.",),
        "sig": ("Abraço,\n{agent}\nSuporte {product}",),
        "answer_0": (
            "Segue o print, aconteceu hoje por volta das {clock_time}.",
            "Print em anexo.",
        ),
        "user_chase": ("Alguma novidade?", "Continuo esperando uma resposta!"),
        "user_thanks": ("Funcionou, muito obrigado!",),
        "user_reopen": ("O problema voltou.",),
    },
}
_INTERNAL_NOTES = (
    "Escalated to engineering as BUG-{bug_no}.",
    "Enterprise customer, please prioritize.",
    "Known issue, linked to incident INC-{inc_no}.",
    "Customer mentioned cancelling, flagging to the CSM.",
    "Asked in #support-escalations, waiting for the owning team.",
    "Checked the logs, nothing obvious. Will retry with the customer's settings.",
    "Same root cause as last week's tickets, see macro 'known-issue'.",
)
_TOPIC_NOTES = {
    "charged_twice": ("Duplicate charge confirmed in Stripe, refund issued.",),
    "android_upload_crash": (
        "Reproduced on a Pixel 7 with Android 14, crash in image compression.",
    ),
    "sso_okta": ("Customer's Okta cert fingerprint doesn't match ours.",),
    "export_slow": ("Export job took 14 minutes in the worker logs.",),
}
_RATING_COMMENTS = {
    "en": {
        "good": (
            "Quick and helpful, thanks!",
            "Solved my problem in minutes 👍",
            "Great support as always.",
            "Very friendly and clear answer.",
            "{agent} was super helpful!",
        ),
        "bad": (
            "Took way too long to get an answer.",
            "Issue still not fixed.",
            "Had to explain the problem three times.",
            "Still waiting for my refund.",
            "Canned answer, didn't read my question.",
        ),
    },
    "es": {"good": ("¡Muy rápido, gracias!",), "bad": ("Tardaron demasiado.",)},
    "de": {"good": ("Schnelle und kompetente Hilfe, danke!",), "bad": ("Viel zu lange gewartet.",)},
    "fr": {"good": ("Rapide et efficace, merci !",), "bad": ("Beaucoup trop long.",)},
    "pt": {"good": ("Atendimento rápido, obrigado!",), "bad": ("Demorou demais.",)},
}
_RATING_REASONS = (
    "The issue took too long to resolve",
    "The issue was not resolved",
    "The agent's knowledge is unsatisfactory",
    "The agent's attitude is unsatisfactory",
    "Some other reason",
)

# ----------------------------------------------------------------------------- reviews & notes

# (titles, sentences, closers) per language and tone; a review is one title, one or two
# sentences and maybe a closer, so a thousand reviews don't repeat each other.
_ReviewPool = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_REVIEW_TEXT: dict[str, dict[str, _ReviewPool]] = {
    "en": {
        "angry": (
            (
                "Crashes constantly",
                "Can't log in!!!",
                "Avoid",
                "Worst update ever",
                "Lost all my photos",
                "Broken again",
                "Useless since the update",
                "Do not buy",
            ),
            (
                "The app crashes every time I upload a photo.",
                "Since the last update ({app_version}) I can't log in at all.",
                "Charged twice and still no refund.",
                "Used to be good. Now it's slow, crashes, and loses my drafts.",
                "Lost a full day of inspection photos when the app crashed during sync.",
                "Every time I open a report it freezes for a minute and then closes.",
                "The two-factor codes never work and support hasn't answered in {n_days} days.",
                "Sync deletes my offline edits. TWICE this week.",
                "I've reinstalled the app three times and it still crashes on launch.",
                "Notifications come in hours late, so we miss urgent issues.",
            ),
            (
                "Fix it or I'm switching.",
                "Deleting this app.",
                "Unacceptable. 😡",
                "One star is generous.",
                "Support never answers!!!",
                "Want my money back.",
            ),
        ),
        "happy": (
            (
                "Love it!",
                "Great app for our team",
                "Game changer 🎉",
                "Five stars",
                "Does exactly what we need",
                "Best inspection app",
                "Super useful",
                "Our whole crew uses it",
            ),
            (
                "We use {product} for all our site inspections and it just works.",
                "The offline mode is a lifesaver on construction sites.",
                "Syncs perfectly with the web app.",
                "Support answered my question within an hour.",
                "Best reporting app we've tried, the dashboards are beautiful.",
                "Simple, fast and reliable. Exactly what our field team needed.",
                "Photo uploads are quick even on a bad connection.",
                "Setting up templates took five minutes and the team picked it up right away.",
                "The new version is noticeably faster.",
            ),
            (
                "Highly recommend!",
                "Keep up the great work 👍",
                "Thank you! 🙏",
                "Love it ❤️",
                "10/10 🎉",
                "",
            ),
        ),
        "neutral": (
            ("Does the job", "Decent", "OK app", "Feature request", "Solid but basic", "Works"),
            (
                "Does what it says.",
                "Works fine for basic reports.",
                "Good for checking dashboards on the go; editing is easier on desktop.",
                "Export options on mobile are limited.",
                "Would be nice to have a dark mode.",
                "Please add a way to export a single report as CSV from the phone.",
                "The iPad layout could use more space for photos.",
                "Sync takes a few seconds longer than I'd like.",
            ),
            ("", "", "Otherwise fine.", "Would give 5 stars with dark mode."),
        ),
        "sarcastic": (
            (
                "Great, another crash",
                "Wonderful update 🙄",
                "Five stars for the spinner",
                "Truly innovative",
                "Oh good, logged out again",
            ),
            (
                "Great, another update that logs me out every day. Just what I needed.",
                "Love the new feature where the app closes itself whenever I attach a photo.",
                "Five stars for the loading spinner, I see it more than my data.",
                "Nothing like losing an hour of work to a sync 'improvement'.",
                "Wow, the app now crashes twice as fast. Impressive engineering.",
                "So glad I pay for a subscription to watch the app restart.",
            ),
            ("Very innovative. 🙄", "Keep it up, I guess.", "", "Can't wait for the next one."),
        ),
        "mixed": (
            (
                "Good app, slow support",
                "Nice but buggy",
                "Almost great",
                "Love the features, hate the crashes",
                "Could be great",
                "Good, not perfect",
            ),
            (
                "{mixed_good}, but {mixed_bad}.",
                "{mixed_good}, although {mixed_bad}.",
                "{mixed_good}. Unfortunately {mixed_bad}.",
            ),
            ("", "", "Fix this and it's five stars.", "Still recommend it 😅"),
        ),
    },
    "es": {
        "angry": (
            ("Se cierra sola", "Inservible", "Pésima actualización"),
            (
                "La aplicación se cierra cada vez que subo una foto.",
                "Desde la última actualización no puedo iniciar sesión.",
                "Perdí todas las fotos de la inspección.",
            ),
            ("Inservible. 😡", "Quiero mi dinero de vuelta.", ""),
        ),
        "happy": (
            ("¡Excelente!", "Muy útil", "Me encanta"),
            (
                "La usamos todos los días en obra y funciona perfecto.",
                "El modo sin conexión nos salva la vida.",
                "Muy fácil de usar y el soporte responde rápido.",
            ),
            ("👍", "¡Recomendada!", "🎉"),
        ),
        "neutral": (
            ("Correcta", "Cumple", "Bien"),
            (
                "Cumple su función, aunque le falta modo oscuro.",
                "Funciona bien para informes básicos.",
            ),
            ("", ""),
        ),
        "sarcastic": (
            ("Genial...", "Qué maravilla"),
            (
                "Genial, otra actualización que me cierra la sesión cada día. Justo lo "
                "que necesitaba.",
                "Qué maravilla, ahora se cierra el doble de rápido.",
            ),
            ("🙄", ""),
        ),
        "mixed": (
            ("Buena app, mal soporte", "Bien, pero..."),
            (
                "La aplicación está bien, pero el soporte es muy lento.",
                "Me gustan los paneles, aunque las fotos tardan mucho en subir.",
            ),
            ("", "😅"),
        ),
    },
    "de": {
        "angry": (
            ("Stürzt ständig ab", "Unbrauchbar", "Katastrophe"),
            (
                "Seit dem letzten Update stürzt die App bei jedem Foto-Upload ab.",
                "Ich kann mich seit Tagen nicht mehr anmelden.",
                "Die Synchronisierung hat meine Offline-Daten gelöscht.",
            ),
            ("Unbrauchbar!", "Sehr ärgerlich. 😡", ""),
        ),
        "happy": (
            ("Super App", "Top", "Sehr empfehlenswert"),
            (
                "Wir nutzen die App täglich für unsere Begehungen.",
                "Läuft stabil und schnell, auch offline.",
                "Der Support hat innerhalb einer Stunde geantwortet.",
            ),
            ("👍", "Weiter so!", "🎉"),
        ),
        "neutral": (
            ("Ganz okay", "Solide", "Erfüllt ihren Zweck"),
            (
                "Macht, was sie soll.",
                "Ein dunkler Modus wäre schön.",
                "Für einfache Berichte völlig ausreichend.",
            ),
            ("", ""),
        ),
        "sarcastic": (
            ("Tolles Update 🙄", "Na super"),
            (
                "Tolles Update, jetzt muss ich mich jeden Tag neu anmelden. Genau das, was "
                "ich gebraucht habe.",
                "Super, jetzt stürzt sie sogar schneller ab.",
            ),
            ("", "🙄"),
        ),
        "mixed": (
            ("Gut, aber langsam", "Fast perfekt"),
            (
                "Die Funktionen sind klasse, aber seit den letzten Updates ist alles sehr langsam.",
                "Die App ist gut, aber der Support ist langsam.",
            ),
            ("", "😅"),
        ),
    },
    "fr": {
        "angry": (
            ("Plante sans arrêt", "Inutilisable", "Nul depuis la mise à jour"),
            (
                "L'application plante à chaque envoi de photo.",
                "Impossible de me connecter depuis la dernière mise à jour.",
                "J'ai perdu une journée de photos d'inspection.",
            ),
            ("Inutilisable !", "Très déçu. 😡", ""),
        ),
        "happy": (
            ("Top !", "Excellente appli", "Indispensable"),
            (
                "Application simple et efficace, toute l'équipe l'adore.",
                "Le mode hors ligne est parfait pour le terrain.",
                "Le support répond très vite.",
            ),
            ("🎉", "Merci ! 🙏", ""),
        ),
        "neutral": (
            ("Correct", "Pas mal", "Fait le travail"),
            (
                "Fait le travail, mais il manque un mode sombre.",
                "Suffisant pour des rapports simples.",
            ),
            ("", ""),
        ),
        "sarcastic": (
            ("Super mise à jour", "Génial..."),
            (
                "Super, encore une mise à jour qui me déconnecte tous les jours. "
                "Exactement ce qu'il me fallait.",
                "Génial, l'appli plante maintenant deux fois plus vite.",
            ),
            ("🙄", ""),
        ),
        "mixed": (
            ("Bien mais lent", "Presque parfait"),
            (
                "L'application est bien, mais le support est lent.",
                "J'aime beaucoup les tableaux de bord, mais l'envoi des photos est lent.",
            ),
            ("", "😅"),
        ),
    },
    "pt": {
        "angry": (
            ("Trava toda hora", "Péssimo", "Não funciona"),
            (
                "O app fecha toda vez que tento enviar fotos.",
                "Desde a última atualização não consigo entrar.",
                "Perdi todas as fotos da vistoria.",
            ),
            ("Péssimo! 😡", "Quero meu dinheiro de volta.", ""),
        ),
        "happy": (
            ("Ótimo app", "Excelente", "Recomendo"),
            (
                "Usamos todos os dias nas vistorias, funciona muito bem.",
                "O modo offline salva a nossa vida.",
                "O suporte respondeu super rápido.",
            ),
            ("👍", "🎉", ""),
        ),
        "neutral": (
            ("Razoável", "Ok", "Funciona"),
            ("Funciona, mas poderia ter modo escuro.", "Atende bem para relatórios simples."),
            ("", ""),
        ),
        "sarcastic": (
            ("Que maravilha", "Ótimo..."),
            (
                "Que maravilha, mais uma atualização que me desloga todo dia.",
                "Ótimo, agora o app trava ainda mais rápido.",
            ),
            ("🙄", ""),
        ),
        "mixed": (
            ("Bom, mas...", "Quase perfeito"),
            (
                "O aplicativo é bom, mas o suporte é lento.",
                "Gosto dos painéis, mas o envio de fotos demora muito.",
            ),
            ("", "😅"),
        ),
    },
}
_MIXED_GOOD = (
    "The dashboards look great",
    "Love the clean design",
    "Syncing is fast",
    "The inspection templates are really useful",
    "The app is nice",
    "Offline mode works well",
    "Great features overall",
)
_MIXED_BAD = (
    "uploads fail on weak connections",
    "the last update made it slow",
    "support takes days to reply",
    "notifications don't always arrive",
    "it logs me out every few days",
    "exporting from the phone is clunky",
    "it crashes when I attach more than a few photos",
)
_REVIEW_PII = (
    "Developers, call me at {phone} and I'll show you the bug.",
    "Email me at {email_pii} if you want details.",
)
_TERRITORIES = {
    "en": (("USA", 60), ("GBR", 15), ("CAN", 10), ("AUS", 10), ("IRL", 5)),
    "es": (("ESP", 60), ("MEX", 40)),
    "de": (("DEU", 75), ("AUT", 15), ("CHE", 10)),
    "fr": (("FRA", 80), ("BEL", 10), ("CAN", 10)),
    "pt": (("BRA", 80), ("PRT", 20)),
}

# (source, department, kind, weight)
_NOTE_CHANNELS = (
    ("gong", "sales", "sales_call", 18),
    ("salesforce", "sales", "sales_call", 8),
    ("salesforce", "marketing", "marketing_feedback", 10),
    ("cs_platform", "cs", "cs_note", 22),
    ("cs_platform", "support", "product_feedback", 10),
    ("cs_platform", "product", "product_feedback", 10),
    ("survey", "product", "survey_answer", 14),
    ("survey", "marketing", "survey_answer", 8),
)
# Theme lines per department; survey answers share one pool whichever team ran the survey.
_NOTE_LINES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "sales": (
        (
            "export_slow",
            "mixed",
            "They export 200k+ rows to CSV weekly and said our export is "
            "too slow compared to {competitor}. Potential blocker.",
        ),
        (
            "export_slow",
            "neutral",
            "Demo went well, but the CSV export of their {rows}-row "
            "dataset took minutes. {prospect_first} asked if we have a bulk export API.",
        ),
        (
            "sso_okta",
            "neutral",
            "Security review: Okta SSO with SCIM is a hard requirement. "
            "Deal ({price} ARR) is on hold until we confirm.",
        ),
        (
            "sso_okta",
            "mixed",
            "Prospect asked whether SSO via Okta works on Pro; a peer told them setup is painful.",
        ),
        (
            "pricing_seats",
            "mixed",
            "Likes the product but per-seat pricing is a blocker for a "
            "{seats}-seat rollout. Asked for a volume discount.",
        ),
        (
            "pricing_seats",
            "angry",
            "Lost the deal to {competitor}; champion was blunt that our "
            "seat pricing is 'ridiculous' for occasional users.",
        ),
        (
            "reporting_custom",
            "neutral",
            "Wants scheduled PDF reports for their execs; said "
            "{competitor} has this out of the box.",
        ),
        (
            "support_response_time",
            "mixed",
            "Reference call went fine, but the reference "
            "mentioned slow support responses on billing issues.",
        ),
        (
            "general_praise",
            "happy",
            "Great demo, {prospect_first} loved the dashboards and "
            "wants a trial for the whole ops team.",
        ),
    ),
    "marketing": (
        (
            "pricing_seats",
            "neutral",
            "Webinar Q&A: several attendees asked about pricing for "
            "occasional users (view-only seats).",
        ),
        (
            "pricing_seats",
            "mixed",
            "Pricing page feedback: visitors like the plans but don't "
            "understand what counts as a seat.",
        ),
        (
            "onboarding",
            "neutral",
            "Trial users drop off at the integration setup step; several asked for a guided tour.",
        ),
        (
            "general_praise",
            "happy",
            "Case study interview: they save about five hours a week "
            "on reporting and are happy to be quoted 🎉",
        ),
        (
            "export_slow",
            "mixed",
            "Event booth conversations: people like the dashboards, but "
            "two ops leads complained that exporting to CSV is slow.",
        ),
    ),
    "cs": (
        (
            "export_slow",
            "angry",
            "QBR: main complaint is that CSV exports take 10+ minutes. "
            "They build their board report from it every month and are fed up.",
        ),
        (
            "export_slow",
            "mixed",
            "Escalated slow exports again; their analyst now exports in "
            "chunks. Otherwise happy with the rollout.",
        ),
        (
            "sso_okta",
            "angry",
            "IT team still can't get Okta SSO working; the champion is "
            "frustrated and brought it up in the renewal call.",
        ),
        (
            "pricing_seats",
            "mixed",
            "Renewal risk: finance wants to cut seats, says the price "
            "per user is too high for occasional users.",
        ),
        (
            "android_upload_crash",
            "angry",
            "Field team can't upload photos from Android since "
            "{app_version}. They are back to paper forms meanwhile.",
        ),
        (
            "onboarding",
            "mixed",
            "Onboarding call: integration setup took two sessions; they "
            "wanted a checklist. Team is motivated though.",
        ),
        (
            "support_response_time",
            "angry",
            "Complained about slow support responses (3+ days "
            "on a billing issue). Threatened not to renew.",
        ),
        (
            "general_praise",
            "happy",
            "Very happy after the rollout; the champion offered to be a reference.",
        ),
    ),
    "support": (
        (
            "android_upload_crash",
            "neutral",
            "Android upload crash ({app_version}) is our top "
            "ticket driver this week; mostly Android 14 devices.",
        ),
        (
            "sso_okta",
            "neutral",
            "Spike in Okta SAML failures after customers rotate signing "
            "certificates. The error message doesn't say which certificate is wrong.",
        ),
        (
            "api_docs",
            "neutral",
            "Customers keep asking about webhook retry behaviour; the docs "
            "don't mention backoff or the delivery header.",
        ),
        (
            "export_slow",
            "neutral",
            "More tickets about slow CSV exports this week, mostly accounts with large reports.",
        ),
        (
            "reset_2fa",
            "neutral",
            "2FA resets are still a big chunk of login tickets; a "
            "self-service reset for admins would remove most of them.",
        ),
    ),
    "product": (
        (
            "export_slow",
            "neutral",
            "User interview #{n_interview}: export to CSV is slow for "
            "large reports; users work around it by exporting month by month.",
        ),
        (
            "export_slow",
            "mixed",
            "Feedback review theme: CSV exports over {rows} rows time "
            "out. Users love the report builder though.",
        ),
        (
            "android_upload_crash",
            "neutral",
            "Crash analytics: uploads on Android 14 crash at "
            "the image compression step; about 3% of sessions affected.",
        ),
        (
            "reporting_custom",
            "neutral",
            "Recurring request: custom dashboards with calculated fields.",
        ),
        (
            "api_docs",
            "mixed",
            "Developer feedback: API is solid but the docs lack pagination "
            "examples and rate-limit headers.",
        ),
        (
            "onboarding",
            "neutral",
            "Interview #{n_interview}: new admins don't find the integrations page during setup.",
        ),
    ),
    "survey": (
        ("export_slow", "angry", "Export to CSV is painfully slow."),
        ("export_slow", "mixed", "Good tool, but exports take forever with big reports."),
        ("pricing_seats", "neutral", "Too expensive per user for what we use."),
        ("pricing_seats", "mixed", "Love it, but please add a cheaper viewer seat."),
        (
            "android_upload_crash",
            "angry",
            "The app crashes every time I upload photos on Android!!",
        ),
        (
            "onboarding",
            "mixed",
            "Getting started was confusing, too many settings, but it's great now.",
        ),
        ("onboarding", "happy", "Onboarding was smooth, the checklist helped a lot!"),
        ("reporting_custom", "neutral", "I wish I could build my own charts."),
        ("support_response_time", "mixed", "The app is nice but support is slow."),
        ("support_response_time", "sarcastic", "Support replies so fast, only took a week 🙄"),
        ("general_praise", "happy", "Love it, our team uses it daily 🎉"),
        ("general_praise", "happy", "Great product, keep it up! 👍"),
        ("general_praise", "neutral", "Does what we need."),
    ),
}
_SURVEY_I18N: dict[str, tuple[tuple[str, str, str], ...]] = {
    "es": (
        ("support_response_time", "mixed", "La aplicación está bien, pero el soporte es lento."),
        ("general_praise", "happy", "¡Nos encanta, la usamos a diario! 🎉"),
    ),
    "de": (
        ("export_slow", "angry", "Der CSV-Export ist viel zu langsam!"),
        ("general_praise", "happy", "Super Tool, wir nutzen es jeden Tag 👍"),
    ),
    "fr": (
        ("pricing_seats", "neutral", "Le prix par utilisateur est un peu élevé pour nous."),
        ("general_praise", "happy", "Très bon outil, simple et efficace."),
    ),
    "pt": (
        (
            "android_upload_crash",
            "angry",
            "O app fecha toda vez que tento enviar fotos no Android 😡",
        ),
        ("general_praise", "happy", "Ferramenta excelente, recomendo!"),
    ),
}
_NOTE_PII = {
    "sales": (
        "Follow up with {prospect_first} at {phone}.",
        "Direct email for the follow-up: {email_pii}.",
    ),
    "marketing": ("Attendee asked to be contacted at {email_pii}.",),
    "cs": (
        "New billing contact is {email_pii}.",
        "Champion's mobile: {phone}.",
        "They pasted their IBAN {iban} in the call chat for the refund.",
    ),
    "support": (
        "Heads-up: a customer pasted a full card number ({card}) in chat.",
        "Blocked IP from the abuse report: {ipv4}.",
    ),
    "product": ("Interviewee is happy to talk again: {phone}.",),
    "survey": ("Call me: {phone}", "my email {email_pii}"),
}
_NOTE_EXTRA = {
    "sales": (
        "Renewal/close date discussed: {date}.",
        "Budget mentioned: {price}.",
        "They're on {app_version} of the mobile app.",
    ),
    "cs": (
        "Renewal on {date} at {price}.",
        "Open order {order} for extra hardware.",
        "Mobile app {app_version} in use.",
    ),
    "support": ("Affected build: {app_version}.",),
    "product": ("Seen on {app_version}.",),
    "marketing": ("Event date: {date}.",),
    "survey": (),
}
_NEXT_STEPS = (
    "send pricing for {seats} seats",
    "book a technical deep dive",
    "loop in the solutions engineer",
    "share the security whitepaper",
    "follow up after their budget meeting on {weekday}",
)
_NPS = {"angry": (1, 4), "sarcastic": (2, 5), "mixed": (5, 8), "neutral": (6, 8), "happy": (9, 10)}
_REVIEW_STARS = {
    "angry": (1, 1, 1, 2),
    "sarcastic": (1, 2, 2),
    "mixed": (2, 3, 3, 4),
    "neutral": (3, 4, 4),
    "happy": (4, 5, 5, 5),
}

# (topic_key, title, body, days before now it was published or None for a draft)
_FAQ: tuple[tuple[str, str, str, float | None], ...] = (
    (
        "getting_started",
        "Getting started with {product}",
        "<p>Welcome! This guide walks you through creating your workspace, inviting your team "
        "&amp; connecting your first data source.</p><ol><li>Create a workspace</li><li>Invite "
        "teammates</li><li>Connect an integration</li></ol>",
        118,
    ),
    (
        "export_csv",
        "How to export reports to CSV",
        "<p>Open any report and choose <b>Export &gt; CSV</b> from the <b>...</b> menu. Filters "
        "you applied are kept.</p><p>Reports over 50,000 rows are emailed to you as a download "
        "link.</p>",
        104,
    ),
    (
        "notification_settings",
        "Managing email and push notifications",
        "<p>Go to <b>Profile &gt; Notifications</b> to choose which events send emails. Switch to "
        "the daily digest to get one email per day.</p>",
        110,
    ),
    (
        "change_billing_email",
        "Changing your billing email and invoice recipients",
        "<p>The account owner can update invoice recipients under <b>Settings &gt; Billing &gt; "
        "Invoice recipient</b>. Up to three addresses are supported.</p>",
        96,
    ),
    (
        "api_rate_limit",
        "API rate limits",
        "<p>Each token may send 600 requests per minute. When you exceed it you receive "
        "<code>429 Too Many Requests</code> with a <code>Retry-After</code> header.</p>",
        115,
    ),
    (
        "invoice_vat",
        "Adding your VAT ID to invoices",
        "<p>Add your VAT ID under <b>Settings &gt; Billing &gt; Tax details</b>. It appears on "
        "all invoices issued afterwards.</p>",
        82,
    ),
    (
        "reset_2fa",
        "Resetting two-factor authentication",
        "<p>Lost your phone? Use one of your backup codes to sign in, then set up 2FA again "
        "under <b>Profile &gt; Security</b>.</p><p>Admins can reset 2FA for any team member "
        "under <b>Settings &gt; Users</b>.</p>",
        50,
    ),
    (
        "add_seat",
        "Adding seats to your subscription",
        "<p>Account owners can add seats under <b>Settings &gt; Billing &gt; Seats</b>. New seats "
        "are prorated for the rest of the billing cycle.</p>",
        25,
    ),
    (
        "sso_okta",
        "Setting up SAML SSO with Okta",
        "<p>Draft: step-by-step Okta configuration, certificate rotation &amp; troubleshooting "
        "common SAML errors.</p>",
        None,
    ),
    (
        "dark_mode",
        "Display settings and themes",
        "<p>Choose light or system theme under <b>Profile &gt; Display</b>. A dark theme for "
        "the mobile apps is on our roadmap.</p>",
        88,
    ),
)
_FAQ_EXTRA: tuple[tuple[str, str, str, float | None], ...] = (
    (
        "security",
        "Security and data protection overview",
        "<p>Data is encrypted in transit and at rest. We are SOC&nbsp;2 Type II certified.</p>",
        112,
    ),
    (
        "mobile_offline",
        "Using the mobile app offline",
        "<p>Inspections created offline sync automatically once you're back online.</p>",
        70,
    ),
)
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
                tone=tone,
                text_kinds=kinds,
                pii_types=frozenset(k for k, _ in pii),
                pii_values=pii,
                lookalike_values=tuple(dict.fromkeys(draft.look)),
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
                    tone=tone,
                    text_kinds=_kinds(tone, lang, text, draft, is_html=False, faq=False),
                    pii_types=frozenset(k for k, _ in pii),
                    pii_values=pii,
                    lookalike_values=tuple(dict.fromkeys(draft.look)),
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
                    tone=tone,
                    text_kinds=_kinds(tone, lang, text, draft, is_html=is_html, faq=False),
                    pii_types=frozenset(k for k, _ in pii),
                    pii_values=pii,
                    lookalike_values=tuple(dict.fromkeys(draft.look)),
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


_SURVEY_FOLLOW = {
    "angry": (
        "Please fix this soon.",
        "Seriously considering alternatives.",
        "Very annoying.",
        "This costs us hours every week.",
    ),
    "happy": (
        "Would recommend to anyone.",
        "Keep it up!",
        "Thanks team 🙏",
        "Best tool we've adopted this year.",
    ),
    "neutral": ("Otherwise fine.", "Nothing else to add.", "It's okay overall."),
    "mixed": (
        "Otherwise a great product.",
        "Would be a 10 without that.",
        "Support is friendly though.",
    ),
    "sarcastic": ("Keep up the 'great' work.",),
}


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
