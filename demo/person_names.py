"""A seeded, labelled set for the PERSON rules of the masker: names of many origins in
greetings, sign-offs, self-introductions and speaker labels, and look-alikes that must stay.

Names come from Faker's person providers (the same package the masker's gazetteer reads,
so this measures the context rules, not the coverage of the list), one locale per origin,
with romanized forms for Chinese and Japanese. `unknown=True` swaps in made-up name-shaped
words that are in no list (syllables), to measure what the context alone recovers.

Used by `benchmarks/pii_bench.py` (the PERSON row) and the tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ORIGINS", "NameSample", "build_lookalikes", "build_name_set", "fill_slots"]

# origin -> Faker locale
ORIGINS: dict[str, str] = {
    "English (US)": "en_US",
    "English (UK)": "en_GB",
    "Irish": "ga_IE",
    "Spanish": "es_ES",
    "Mexican": "es_MX",
    "French": "fr_FR",
    "German": "de_DE",
    "Portuguese (BR)": "pt_BR",
    "Italian": "it_IT",
    "Polish": "pl_PL",
    "Turkish": "tr_TR",
    "Indian": "en_IN",
    "Pakistani (Arabic names)": "en_PK",
    "Chinese (pinyin)": "zh_CN",
    "Japanese (romaji)": "ja_JP",
    "Nigerian (Yoruba)": "yo_NG",
    "Nigerian (Igbo)": "ig_NG",
    "Nigerian (Hausa)": "ha_NG",
    "Kenyan": "en_KE",
    "Swahili": "sw",
    "Zulu": "zu_ZA",
}
_ROMANIZED = {"zh_CN", "ja_JP"}

# {G} a given name, {F} given name + surname, {L} a surname; {B} a body sentence.
NAME_TEMPLATES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Hi {G},\n{B}",
        "Hello {G}, {B}",
        "Hey {G}! {B}",
        "Dear {F},\n{B}",
        "Good morning {G}, {B}",
        "Dear Ms. {L}, {B}",
        "Hi {G}\n\n{B}",
        "Hola {G}: {B}",
        "Bonjour {G}, {B}",
        "Hallo {G}, {B}",
    ),
    "sign-off": (
        "{B}\n\nThanks,\n{G}",
        "{B}\nThanks, {F}",
        "{B} Thanks {G}!",
        "{B}\n\nBest regards,\n{F}\nOperations lead",
        "{B}\nCheers,\n{G}",
        "{B}\n\nKind regards,\n{F}",
        "{B}\n— {G}",
        "{B}\n\n{F}",
        "{B}\nSaludos,\n{F}",
        "{B}\nViele Grüße\n{G}",
    ),
    "self-introduction": (
        "My name is {F} and {b}",
        "Hi, I'm {G} from the warehouse team. {B}",
        "This is {G}. {B}",
        "my name is {F}, {b}",
        "Hello, this is {F} from accounting. {B}",
        "I am {G} and {b}",
    ),
    "speaker label": (
        "Call notes\nRep: {F}\nCustomer: {b}",
        "{G}: {B}\nRep: we will look into it.",
        "Summary of the call.\n{F}: {B}",
        "Attendees: {F}\n{B}",
    ),
    "full name in text": (
        "Spoke with {F} about the renewal. {B}",
        "Chat with {F}",
        "Escalated by {F} on Monday.",
    ),
}
_BODIES = (
    "the export to CSV fails every time",
    "my invoice shows the wrong amount",
    "the app crashes when I open the map",
    "can you move my plan to annual billing",
    "the sync has been stuck since yesterday",
    "please cancel the second seat",
    "the password reset email never arrives",
    "our reports are empty after the update",
)

# Look-alikes: texts with words that are, or look like, names but are no one's. None of
# them is PII.
_LOOKALIKE_TEMPLATES = (
    "Will this be fixed by {DAY}?",
    "May I get a refund for {PRODUCT}?",
    "I ordered in {MONTH} and it arrived in {MONTH}.",
    "Paid with {PAY}, still shows unpaid.",
    "Hi team, {b}",
    "Thanks, support! {B}",
    "Dear customer, your ticket about {PRODUCT} was updated.",
    "Hello everyone, {b}",
    "Ship it to 12 {STREET}, please.",
    "Our store on {STREET} is closed on {DAY}.",
    "{COMPANY} charged us twice. {B}",
    "We moved from {COMPANY} to {PRODUCT} last year.",
    "Thanks, {PRODUCT} team!",
    "Hi {PRODUCT} Support,\n{B}",
    "{PRODUCT}: {b}",
    "Hope it helps. Will try again on {DAY}.",
    "Grace period ends in {MONTH}.",
    "Best,\nThe {PRODUCT} team",
    "Dear Sir or Madam, {b}",
    "Regards,\nCustomer Success",
    "Customer: {b}\nRep: {b}",
    "{MONTH}: {b}",
    "Note: {b}",
    "I am very unhappy, {b}",
    "This is urgent, {b}",
    "My name is on the invoice but {b}",
    "{b} Thanks in advance.",
)
_FILL = {
    "DAY": ("Monday", "Friday", "Sunday", "Tuesday"),
    "MONTH": ("May", "June", "April", "August", "January", "March"),
    "PAY": ("Apple Pay", "Google Pay", "PayPal", "Amazon Pay", "Samsung Pay"),
    "STREET": (
        "Main Street",
        "Victoria Street",
        "Baker Street",
        "Abbey Road",
        "Martin Luther King Jr Blvd",
        "Rue de Rivoli",
        "Park Avenue",
        "Elm Street",
        "King Street",
        "George Street",
    ),
    "COMPANY": (
        "Acme Corp",
        "Salesforce",
        "Globex Inc",
        "Initech",
        "Zendesk",
        "Shopify",
        "Johnson Controls",
        "Deutsche Bank",
        "Siemens AG",
        "Tata Consultancy Services",
    ),
    "PRODUCT": (
        "FieldPro",
        "Jira",
        "Slack",
        "Microsoft Teams",
        "Google Sheets",
        "iPhone",
        "Galaxy Note",
        "Kindle",
        "Alexa",
        "Adobe Acrobat",
    ),
}
_SYLLABLES = (
    "ka ro mi ta ve lu shi zo na be ri qu fa do xe ya ti mo ge sa nu pe ko wa".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class NameSample:
    text: str
    # (start, end) of every name in `text`
    names: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    context: str = ""
    origin: str = ""


def _fakers(seed: int) -> dict[str, object]:
    from faker import Faker

    out: dict[str, object] = {}
    for i, locale in enumerate(sorted(set(ORIGINS.values()))):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + i)
        out[locale] = fake
    return out


def _person(fake: object, locale: str) -> tuple[str, str]:
    if locale in _ROMANIZED:
        return fake.first_romanized_name(), fake.last_romanized_name()  # type: ignore[attr-defined]
    return fake.first_name(), fake.last_name()  # type: ignore[attr-defined]


def _made_up(rng: random.Random, known: frozenset[str]) -> str:
    while True:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        if word.casefold() not in known:
            return word


def fill_slots(
    template: str, value_of: Callable[[str], tuple[str, str | None]]
) -> tuple[str, list[tuple[str, int, int]]]:
    """`template` with each `{key}` replaced, in order, by `value_of(key)`: (value, label or
    None); and the (label, start, end) span of each labelled value."""
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        key, _, rest = tail.partition("}")
        parts.append(head)
        pos += len(head)
        value, label = value_of(key)
        if label:
            spans.append((label, pos, pos + len(value)))
        parts.append(value)
        pos += len(value)
    parts.append(rest)
    return "".join(parts), spans


def _fill(template: str, rng: random.Random, values: dict[str, str]) -> NameSample:
    def value_of(key: str) -> tuple[str, str | None]:
        if key in ("B", "b"):
            body = rng.choice(_BODIES)
            return (body[0].upper() + body[1:] + "." if key == "B" else body + "."), None
        if key in values:
            return values[key], "PERSON"
        return rng.choice(_FILL[key]), None

    text, spans = fill_slots(template, value_of)
    return NameSample(text, tuple((start, end) for _, start, end in spans))


def build_name_set(n: int = 2000, seed: int = 11, *, unknown: bool = False) -> list[NameSample]:
    """`n` texts, each naming one person in one of the contexts, origins in turn."""
    rng = random.Random(seed)
    fakers = _fakers(seed)
    known: frozenset[str] = frozenset()
    if unknown:
        from nlp.pii.names import gazetteer

        known = gazetteer().known
    origins = list(ORIGINS.items())
    contexts = list(NAME_TEMPLATES.items())
    out: list[NameSample] = []
    for i in range(n):
        origin, locale = origins[i % len(origins)]
        context, templates = contexts[rng.randrange(len(contexts))]
        if unknown:
            given, surname = _made_up(rng, known), _made_up(rng, known)
        else:
            given, surname = _person(fakers[locale], locale)
        values = {"G": given, "L": surname, "F": f"{given} {surname}"}
        sample = _fill(rng.choice(templates), rng, values)
        out.append(NameSample(sample.text, sample.names, context, origin))
    return out


def build_lookalikes(n: int = 1000, seed: int = 12) -> list[NameSample]:
    """`n` texts without any personal data, full of name look-alikes."""
    rng = random.Random(seed)
    return [
        NameSample(_fill(rng.choice(_LOOKALIKE_TEMPLATES), rng, {}).text, (), "look-alike")
        for _ in range(n)
    ]
