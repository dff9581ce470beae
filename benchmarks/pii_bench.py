"""Benchmark feedbackloop's PII masker against Presidio's pattern recognizers.

    python benchmarks/pii_bench.py [--n 5000] [--seed 7] [--json] [--presidio-python PATH]

Builds a labelled corpus in code (seeded): support-ticket sentences with embedded PII of the
six types in varied real-world formats, texts holding only look-alikes (order numbers, dates,
prices, tracking codes, versions, invoices, Luhn-failing 16-digit numbers, times,
percentages, ZIP codes), and plain texts. Runs ``nlp.pii.find_pii`` and
Presidio's ``AnalyzerEngine`` (only CreditCard/UsSsn/Email/Phone/Iban/Ip recognizers, a no-op
NLP engine, tldextract on its bundled suffix list: nothing is downloaded; set up in
``presidio_worker.py``) on the same texts, and reports texts per CPU second, speedup, per-type
recall and precision, and the false-mask rate on look-alike texts. Presidio runs in this
process when it is importable here, else in a worker process under ``--presidio-python``
(``make bench`` passes ``.venv-presidio/bin/python``; presidio is kept out of the project's
venv because spaCy imports its factory entry point, and with it transformers, in every
pipeline process); the worker reports its own CPU time, so the figures mean the same.

Scoring: a gold entity is found when a predicted span of the same type overlaps it;
a predicted span is correct when it overlaps a gold entity of its type. A "false mask" is a
predicted span that overlaps no gold entity at all. Names in the corpus are PERSON gold; the
speed comparison is our seven types against Presidio's six pattern recognizers (its PERSON
recognizer needs a trained spaCy NER model, which cannot be installed here).

The PERSON row comes from a separate seeded set (`demo.person_names`): names of
21 origins from Faker's locales in greetings, sign-offs, self-introductions, speaker labels
and running text, the same templates with made-up names in no list, and look-alike texts
(months, "Will", "May", "Apple Pay", streets, products, companies, "Hi team,", "Dear
customer"). A name counts as found only when every character of it is masked.
"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import json
import random
import string
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.person_names import NameSample, build_lookalikes, build_name_set, fill_slots
from feedbackloop.processes import end_worker
from nlp.pii import ENTITY_TYPES, PATTERN_TYPES, PERSON, find_pii

Span = tuple[str, int, int]


@dataclass
class Sample:
    text: str
    gold: list[Span] = field(default_factory=list)
    kind: str = "pii"  # "pii" | "lookalike" | "plain"


# ------------------------------------------------------------------------------------------
# Value generators (valid by construction: Luhn, SSA ranges, mod-97, real area codes)
# ------------------------------------------------------------------------------------------

FIRST_NAMES = [
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "sofia", "lukas", "emma", "noah", "olivia", "liam", "mateo",
    "chloe", "hugo", "zoe", "aarav", "priya", "yuki", "kenji", "lena", "jonas", "amelie",
    "pierre", "camille", "marco", "giulia", "sean", "aoife", "oliver",
]  # fmt: skip
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "martinez", "lopez", "muller", "schmidt", "schneider", "fischer", "dubois", "moreau",
    "rossi", "russo", "sharma", "patel", "tanaka", "sato", "murphy", "kelly", "obrien",
    "nguyen", "kim", "silva", "santos", "novak",
]  # fmt: skip
DOMAINS = [
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "web.de", "orange.fr",
    "example.org", "acme-corp.com", "mail.company.io", "uni-heidelberg.de",
    "support.shop.com.au", "proton.me", "icloud.com", "customer-care.example.net",
]  # fmt: skip
US_AREAS = [
    "212", "310", "415", "646", "718", "312", "617", "206", "303", "512", "702", "305",
    "404", "713", "214", "202", "503", "619", "858", "470", "917", "650", "408", "773",
]  # fmt: skip


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


CARD_BRANDS: list[tuple[Callable[[random.Random], str], int]] = [
    (lambda r: "4", 16),
    (lambda r: "4", 13),
    (lambda r: str(r.randint(51, 55)), 16),
    (lambda r: str(r.randint(2221, 2720)), 16),
    (lambda r: r.choice(["34", "37"]), 15),
    (lambda r: r.choice(["6011", "65", "644"]), 16),
    (lambda r: str(r.randint(3528, 3589)), 16),
    (lambda r: r.choice(["36", "38", "300", "305"]), 14),
    (lambda r: "62", 16),
    (lambda r: r.choice(["5018", "6759", "5893"]), 16),
]


def gen_card(r: random.Random) -> str:
    prefix_fn, length = r.choice(CARD_BRANDS)
    d = luhn_complete(prefix_fn(r), length, r)
    style = r.random()
    if length == 15:  # Amex 4-6-5
        sep = r.choice([" ", "-", ""])
        return f"{d[:4]}{sep}{d[4:10]}{sep}{d[10:]}"
    if length == 14 and style < 0.5:  # Diners 4-6-4
        return f"{d[:4]} {d[4:10]} {d[10:]}"
    if style < 0.35:
        return d
    sep = " " if style < 0.7 else "-" if style < 0.95 else "\u00a0"  # NBSP from rich text
    return sep.join(d[i : i + 4] for i in range(0, len(d), 4))


def gen_ssn_parts(r: random.Random) -> tuple[str, str, str]:
    while True:
        area = r.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}", f"{r.randint(1, 99):02d}", f"{r.randint(1, 9999):04d}"


def gen_ssn(r: random.Random) -> str:
    a, g, s = gen_ssn_parts(r)
    return f"{a}-{g}-{s}" if r.random() < 0.75 else f"{a} {g} {s}"


def gen_ssn_bare(r: random.Random) -> str:
    return "".join(gen_ssn_parts(r))


def gen_email(r: random.Random) -> str:
    f, la = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    dom = r.choice(DOMAINS)
    style = r.randrange(9)
    if style == 0:
        local = f"{f}.{la}"
    elif style == 1:
        local = f"{f}{la}{r.randint(1, 99)}"
    elif style == 2:
        local = f"{f[0]}.{la}+{r.choice(['orders', 'news', 'shop'])}"
    elif style == 3:
        local = f"{f}_{la}"
    elif style == 4:
        return f"{f}.{la}@{dom}".upper()
    elif style == 5:
        local = f"{f}{r.randint(1970, 2005)}"
    elif style == 6:  # digits that look like a phone number inside the address
        local = f"user-{r.choice(US_AREAS)}555{r.randint(1000, 9999)}"
    elif style == 7:
        local = f"{la}.{f}-{r.randint(10, 99)}"
    else:
        local = f"{f[0]}{la}"
    return f"{local}@{dom}"


def _us_parts(r: random.Random) -> tuple[str, str, str]:
    while True:
        ex = r.randint(200, 999)
        if ex % 100 != 11:
            break
    return r.choice(US_AREAS), str(ex), f"{r.randint(0, 9999):04d}"


def gen_phone(r: random.Random) -> str:
    def d(n: int) -> str:
        return "".join(r.choice(string.digits) for _ in range(n))

    a, e, li = _us_parts(r)
    us = [
        f"({a}) {e}-{li}", f"{a}-{e}-{li}", f"{a}.{e}.{li}", f"+1 {a} {e} {li}",
        f"+1-{a}-{e}-{li}", f"+1 ({a}) {e}-{li}", f"1-{a}-{e}-{li}", f"{a} {e} {li}",
        f"+1{a}{e}{li}", f"{a}{e}{li}", f"({a}){e}-{li}", f"{a}-{e}-{li} ext. {r.randint(2, 999)}",
        f"1-800-{e}-{li}", f"(888) {e}-{li}",
    ]  # fmt: skip
    uk_m = f"7{r.randint(400, 999)}"
    intl = [
        f"+44 20 {r.choice('378')}{d(3)} {d(4)}", f"+44 {uk_m} {d(6)}",
        f"+44 (0)20 7{d(3)} {d(4)}", f"0044 20 7{d(3)} {d(4)}", f"020 7{d(3)} {d(4)}",
        f"0{uk_m} {d(6)}", f"+49 30 {r.randint(2, 9)}{d(6)}", f"+49 151 {d(8)}",
        f"+49 (0)89 {r.randint(2, 9)}{d(6)}", f"030 {r.randint(2, 9)}{d(6)}",
        f"0049 30 {r.randint(2, 9)}{d(6)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}", f"01 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"06.{d(2)}.{d(2)}.{d(2)}.{d(2)}", f"+91 9{d(4)} {d(5)}", f"+91-9{d(4)}-{d(5)}",
        f"+61 2 9{d(3)} {d(4)}", f"+61 4{d(2)} {d(3)} {d(3)}", f"+81 3-{d(4)}-{d(4)}",
        f"+55 11 9{d(4)}-{d(4)}", f"+34 6{d(2)} {d(2)} {d(2)} {d(2)}", f"+39 06 {d(4)} {d(4)}",
        f"+31 20 {r.randint(2, 9)}{d(2)} {d(4)}", f"+31 6 {d(8)}", f"+353 1 {d(3)} {d(4)}",
        f"+41 44 {r.randint(2, 9)}{d(2)} {d(2)} {d(2)}", f"+65 6{d(3)} {d(4)}",
        f"+52 55 {d(4)} {d(4)}", f"+972 3-{r.randint(5, 9)}{d(6)}",
    ]  # fmt: skip
    return r.choice(us) if r.random() < 0.55 else r.choice(intl)


IBAN_BBAN: dict[str, str] = {
    # c = capital letter, n = digit, x = capital letter or digit
    "DE": "nnnnnnnnnnnnnnnnnn", "GB": "ccccnnnnnnnnnnnnnn", "FR": "nnnnnnnnnnxxxxxxxxxxxnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn", "IT": "cnnnnnnnnnnxxxxxxxxxxxx", "NL": "ccccnnnnnnnnnn",
    "BE": "nnnnnnnnnnnn", "CH": "nnnnnxxxxxxxxxxxx", "AT": "nnnnnnnnnnnnnnnn",
    "PL": "nnnnnnnnnnnnnnnnnnnnnnnn", "SE": "nnnnnnnnnnnnnnnnnnnn", "IE": "ccccnnnnnnnnnnnnnn",
    "PT": "nnnnnnnnnnnnnnnnnnnnn", "DK": "nnnnnnnnnnnnnn", "NO": "nnnnnnnnnnn",
}  # fmt: skip


def gen_iban(r: random.Random) -> str:
    cc = r.choice(list(IBAN_BBAN))
    alnum = string.ascii_uppercase + string.digits
    bban = "".join(
        r.choice(string.ascii_uppercase if k == "c" else string.digits if k == "n" else alnum)
        for k in IBAN_BBAN[cc]
    )
    num = int("".join(str(int(ch, 36)) for ch in bban + cc + "00"))
    iban = f"{cc}{98 - num % 97:02d}{bban}"
    if r.random() < 0.6:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def gen_ip(r: random.Random) -> str:
    style = r.randrange(10)
    if style < 6:
        first = r.choice([10, 192, 172, r.randint(1, 223)])
        if first == 192:
            addr = f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"
        elif first == 172:
            addr = f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        else:
            addr = f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        return addr + (f"/{r.choice([8, 16, 24, 32])}" if style == 5 else "")
    if style == 6:
        return ipaddress.IPv6Address(r.getrandbits(128)).exploded
    if style == 7:  # compressed
        groups = [f"{r.getrandbits(16):x}" for _ in range(r.randint(2, 4))]
        return "2001:db8::" + ":".join(groups)
    if style == 8:
        zone = r.choice(["", "", "%eth0", "%en0"])
        return f"fe80::{r.getrandbits(16):x}:{r.getrandbits(16):x}:{r.getrandbits(16):x}{zone}"
    return f"::ffff:{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


# ------------------------------------------------------------------------------------------
# Look-alikes (never PII)
# ------------------------------------------------------------------------------------------


def gen_lookalike(r: random.Random) -> str:
    def d(n: int) -> str:
        return "".join(r.choice(string.digits) for _ in range(n))

    y, mo, da = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    ri = r.randint
    no_luhn = luhn_complete("4" + d(3), 16, r)
    no_luhn = no_luhn[:-1] + str((int(no_luhn[-1]) + ri(1, 9)) % 10)
    choices = [
        f"order #A-{d(7)}", f"#{d(7)}", f"order #{d(3)}-{d(7)}-{d(7)}",
        f"{y}-{mo:02d}-{da:02d}", f"{mo:02d}/{da:02d}/{y}", f"{da:02d}.{mo:02d}.{y}",
        f"${ri(1, 9)},{d(3)}.{d(2)}", f"€{ri(1, 999)}.{d(2)}", f"£{ri(1, 99)},{d(3)}",
        f"{ri(1, 9)}.{d(3)},{d(2)} €", f"1Z{d(3)}AA1{d(7)}",
        f"9400 1{d(3)} {d(4)} {d(4)} {d(4)} {d(2)}", f"FedEx {d(4)} {d(4)} {d(4)}",
        f"v{ri(1, 12)}.{ri(0, 30)}.{ri(0, 99)}", f"version 10.0.{ri(17000, 22999)}.{ri(100, 4000)}",
        f"build {ri(1, 9)}.{ri(0, 9)}.{ri(0, 9)}.{ri(0, 99)}",
        f"Chrome {ri(100, 130)}.0.{d(4)}.{d(3)}",
        f"api v{ri(1, 3)}", f"INV-{y}-{d(5)}", f"invoice {y}{mo:02d}{da:02d}-{d(4)}",
        " ".join(no_luhn[i : i + 4] for i in range(0, 16, 4)), no_luhn,
        f"{ri(0, 23):02d}:{ri(0, 59):02d}", f"{ri(1, 12)}:{ri(0, 59):02d} PM",
        f"{d(2)}:{d(2)}:{d(2)}", f"{ri(1, 99)}.{ri(0, 9)}%", f"{ri(1, 100)}%", f"ZIP {d(5)}",
        f"MA 02{d(3)}-{d(4)}", f"ticket {d(6)}", f"SKU {d(3)}-{d(3)}-{d(4)}",
        f"order number {ri(2, 9)}{d(9)}", f"case #{d(8)}", f"{ri(2, 20)} x {ri(2, 50)} units",
        f"ISBN 978-{d(1)}-{d(3)}-{d(5)}-{d(1)}", f"room {ri(100, 999)}",
        f"{ri(1, 9)},{d(3)} points", f"ref {y}{d(6)}", f"{d(5)} steps", f"PO {d(8)}",
        f"{y}-{mo:02d}-{da:02d}T{ri(0, 23):02d}:{ri(0, 59):02d}:{ri(0, 59):02d}Z",
        f"Chrome/{ri(100, 130)}.0.0.0", f"rv:1.9.{ri(0, 9)}.{ri(10, 30)}",
        f"EAN {ri(1, 9)}{d(12)}", f"ISBN {d(9)}X", f"{ri(1700000000, 1800000000)}",
        f"{ri(10, 80)}.{d(4)}, -{ri(10, 170)}.{d(4)}", f"{ri(100, 9999)} Main St, IL {d(5)}",
        f"{d(2)}:{d(2)}:{d(2)}:{d(2)}:{d(2)}:{d(2)}",
        f"{ri(0, 9)}{d(7)}-{d(4)}-{d(4)}-{d(4)}-{d(12)}", f"#{ri(0, 9)}{d(5)}", f"{ri(1, 59)} min",
    ]  # fmt: skip
    return r.choice(choices)


# ------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------

GENERATORS: dict[str, tuple[str | None, Callable[[random.Random], str]]] = {
    "CARD": ("CREDIT_CARD", gen_card),
    "SSN": ("US_SSN", gen_ssn),
    "SSN_BARE": ("US_SSN", gen_ssn_bare),
    "EMAIL": ("EMAIL_ADDRESS", gen_email),
    "PHONE": ("PHONE_NUMBER", gen_phone),
    "IBAN": ("IBAN_CODE", gen_iban),
    "IP": ("IP_ADDRESS", gen_ip),
    "LOOK": (None, gen_lookalike),
    "NAME": (PERSON, lambda r: f"{r.choice(FIRST_NAMES).title()} {r.choice(LAST_NAMES).title()}"),
}

PII_TEMPLATES = [
    "Hi, I was charged twice on my card {CARD} for {LOOK}. Please refund asap.",
    "Card ending differently? My full number is {CARD}, exp 09/27. Thanks, {NAME}",
    "please update my contact: phone {PHONE}, email {EMAIL}",
    "You can reach me at {PHONE} between 9 and 5, or write to {EMAIL}.",
    "Why does your form ask for my SSN ({SSN})?? This is unacceptable.",
    "My social security number is {SSN_BARE} and I never agreed to share it.",
    "SSN: {SSN} / DOB {LOOK}",
    "Please wire the refund to IBAN {IBAN} (account holder {NAME}).",
    "Refund to {IBAN} please, reference {LOOK}.",
    "Login blocked from IP {IP} at {LOOK}, is my account compromised?",
    "Your app keeps failing on {LOOK}; my router is {IP} and my phone is {PHONE}.",
    "{NAME} <{EMAIL}> wrote: the parcel {LOOK} never arrived.",
    "Call me back on {PHONE}. Order {LOOK}, paid with {CARD}.",
    "Contact {EMAIL} or {PHONE} regarding {LOOK}.",
    "Server {IP} returned 502 for request {LOOK}",
    "I am {NAME}, ssn {SSN_BARE}, account email {EMAIL}.",
    "Bank details: {IBAN}. Phone: {PHONE}. Thanks!",
    "Tried card {CARD} and then {CARD}, both declined at {LOOK}.",
    "Customer {EMAIL} from {IP} reported an issue with {LOOK}.",
    "whatsapp {PHONE} pls",
    "email:{EMAIL}",
    "Hello, this is {NAME}. My number is {PHONE} and my SSN# is {SSN}.",
    "SSN#{SSN_BARE}, phone {PHONE}",
    "Chrome/120.0.0.0 on {IP}: login failed for {EMAIL} at {LOOK}",
    "Device at {IP} (fw {LOOK}) cannot connect.",
    "Pls charge {CARD} instead, billing phone {PHONE}",
]
LOOKALIKE_TEMPLATES = [
    "Where is my order? {LOOK} was supposed to arrive on {LOOK}.",
    "Invoice {LOOK} shows {LOOK} but I was quoted {LOOK}.",
    "App crashed after updating to {LOOK} on {LOOK}.",
    "Tracking {LOOK} has not moved since {LOOK}.",
    "Your price went up by {LOOK} - now {LOOK}!",
    "{LOOK}",
    "Reference {LOOK}, delivered {LOOK} at {LOOK}.",
    "The refund of {LOOK} for {LOOK} is still pending ({LOOK}).",
    "Running {LOOK} on Windows, still broken.",
    "I ordered {LOOK} items, got {LOOK}.",
]
PLAIN_TEMPLATES = [
    "The delivery was late and the box was damaged.",
    "Great service, {NAME} was super helpful!",
    "I can't log in, the password reset email never comes.",
    "Please cancel my subscription, thanks.",
    "Why is the app so slow lately? It used to be fast.",
    "Love the new design but the dark mode is broken.",
]


def fill(template: str, r: random.Random, kind: str) -> Sample:
    def value_of(key: str) -> tuple[str, str | None]:
        label, gen = GENERATORS[key]
        return gen(r), label

    text, gold = fill_slots(template, value_of)
    return Sample(text, gold, kind)


def build_corpus(n: int, seed: int) -> list[Sample]:
    r = random.Random(seed)
    out: list[Sample] = []
    for _ in range(n):
        x = r.random()
        if x < 0.55:
            out.append(fill(r.choice(PII_TEMPLATES), r, "pii"))
        elif x < 0.88:
            out.append(fill(r.choice(LOOKALIKE_TEMPLATES), r, "lookalike"))
        else:
            out.append(fill(r.choice(PLAIN_TEMPLATES), r, "plain"))
    return out


# ------------------------------------------------------------------------------------------
# Engines
# ------------------------------------------------------------------------------------------


def ours(text: str) -> list[Span]:
    return [(e.type, e.start, e.end) for e in find_pii(text)]


class PresidioWorker:
    """Presidio in another interpreter (`benchmarks/presidio_worker.py`): one text per request.

    ``clock()`` is the worker's own CPU time spent analysing, summed from its answers."""

    def __init__(self, python: str, threshold: float | None) -> None:
        cmd = [python, str(Path(__file__).with_name("presidio_worker.py"))]
        cmd += ["--entities", ",".join(PATTERN_TYPES)]
        if threshold is not None:
            cmd += ["--threshold", str(threshold)]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )
        self._cpu_s = 0.0
        hello = self._read()
        if "error" in hello:
            self.close()
            raise RuntimeError(hello["error"])
        self.description = f"{hello['engine']}, worker process ({python})"

    def _read(self) -> dict:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise RuntimeError(f"the Presidio worker exited (code {code}) without an answer")
        return json.loads(line)

    def __call__(self, text: str) -> list[Span]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(text) + "\n")
        self._proc.stdin.flush()
        answer = self._read()
        self._cpu_s += answer["cpu_s"]
        return [(t, s, e) for t, s, e in answer["spans"]]

    def clock(self) -> float:
        return self._cpu_s

    def close(self) -> None:
        end_worker(self._proc, timeout=30)


def build_presidio(
    threshold: float | None, presidio_python: str | None = None
) -> tuple[Callable[[str], list[Span]] | None, Callable[[], float], str]:
    """The Presidio engine, its CPU clock and a note: in this process when presidio-analyzer is
    importable here, else in a worker under ``presidio_python``, else None (skipped)."""
    try:
        from benchmarks.presidio_worker import build_analyzer

        run, description = build_analyzer(threshold, PATTERN_TYPES)
        return run, time.process_time, description
    except ImportError:
        pass
    if presidio_python:
        try:
            worker = PresidioWorker(presidio_python, threshold)
        except (OSError, RuntimeError) as exc:
            return None, time.process_time, f"SKIPPED, the Presidio worker did not start: {exc}"
        atexit.register(worker.close)
        return worker, worker.clock, worker.description
    note = (
        "SKIPPED, presidio-analyzer is not installed here; `make bench` builds .venv-presidio "
        "and passes --presidio-python .venv-presidio/bin/python; feedbackloop alone below"
    )
    return None, time.process_time, note


# ------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(
    corpus: Sequence[Sample], preds: Sequence[list[Span]], types: Sequence[str] = ENTITY_TYPES
) -> dict:
    """Per-type recall and precision for `types` (what the engine looks for) and false masks."""
    per_type: dict[str, dict[str, int]] = {
        t: {"gold": 0, "found": 0, "pred": 0, "correct": 0} for t in types
    }
    false_masks = 0
    n_pred = 0
    look_texts = look_flagged = 0
    for sample, pred in zip(corpus, preds, strict=True):
        false_here = False
        for t, s, e in sample.gold:
            if t not in per_type:
                continue
            per_type[t]["gold"] += 1
            if any(pt == t and _overlaps((s, e), (ps, pe)) for pt, ps, pe in pred):
                per_type[t]["found"] += 1
        for t, s, e in pred:
            if t not in per_type:
                continue
            n_pred += 1
            per_type[t]["pred"] += 1
            if any(gt == t and _overlaps((s, e), (gs, ge)) for gt, gs, ge in sample.gold):
                per_type[t]["correct"] += 1
            if not any(_overlaps((s, e), (gs, ge)) for _, gs, ge in sample.gold):
                false_masks += 1
                false_here = True
        if sample.kind != "pii":
            look_texts += 1
            look_flagged += false_here
    out: dict = {"types": {}}
    for t, c in per_type.items():
        out["types"][t] = {
            "gold": c["gold"],
            "recall": c["found"] / c["gold"] if c["gold"] else None,
            "precision": c["correct"] / c["pred"] if c["pred"] else None,
            "predicted": c["pred"],
        }
    out["false_mask_spans"] = false_masks
    out["false_mask_share_of_predictions"] = false_masks / n_pred if n_pred else 0.0
    out["lookalike_texts"] = look_texts
    out["lookalike_texts_masked"] = look_flagged
    out["lookalike_false_mask_rate"] = look_flagged / look_texts if look_texts else 0.0
    return out


def _covered(start: int, end: int, spans: Sequence[Span]) -> bool:
    """Every character of [start, end) lies in a PERSON span."""
    pos = start
    for t, s, e in sorted(spans, key=lambda x: x[1]):
        if t == PERSON and s <= pos < e:
            pos = e
    return pos >= end


def person_scores(
    fn: Callable[[str], list[Span]],
    names: Sequence[NameSample],
    unknown: Sequence[NameSample],
    lookalikes: Sequence[NameSample],
) -> dict:
    """PERSON recall (whole name masked) per context and origin, on known and made-up names,
    and false masks: spans over no name, and look-alike texts with anything masked."""

    def recall(samples: Sequence[NameSample]) -> tuple[float, dict, dict, int]:
        found = total = false_spans = 0
        by_context: dict[str, list[int]] = {}
        by_origin: dict[str, list[int]] = {}
        for sample in samples:
            pred = fn(sample.text)
            for s, e in sample.names:
                hit = _covered(s, e, pred)
                found += hit
                total += 1
                by_context.setdefault(sample.context, [0, 0])[0] += hit
                by_context[sample.context][1] += 1
                by_origin.setdefault(sample.origin, [0, 0])[0] += hit
                by_origin[sample.origin][1] += 1
            false_spans += sum(
                not any(_overlaps((s, e), n) for n in sample.names) for _, s, e in pred
            )
        share = {k: f / n for k, (f, n) in sorted(by_context.items())}
        origins = {k: f / n for k, (f, n) in sorted(by_origin.items())}
        return found / total, share, origins, false_spans

    known_recall, contexts, origins, name_false = recall(names)
    unknown_recall, unknown_contexts, _, unknown_false = recall(unknown)
    masked = [s.text for s in lookalikes if fn(s.text)]
    return {
        "names": len(names),
        "recall": known_recall,
        "recall_by_context": contexts,
        "recall_by_origin": origins,
        "recall_unknown_names": unknown_recall,
        "recall_unknown_by_context": unknown_contexts,
        "false_spans_in_name_texts": name_false + unknown_false,
        "lookalike_texts": len(lookalikes),
        "lookalike_false_mask_rate": len(masked) / len(lookalikes),
        "lookalikes_masked": sorted(set(masked))[:10],
    }


def timed(
    fn: Callable[[str], list[Span]],
    texts: Sequence[str],
    min_seconds: float,
    clock: Callable[[], float] = time.process_time,
) -> tuple:
    """Predictions of one pass, and texts per CPU second over as many passes as fill
    ``min_seconds``. CPU time of the engine's process (``clock``), not wall time: the two
    engines run one after the other, and other work on a shared machine would otherwise skew
    the ratio."""
    fn(texts[0])  # warm-up: lazy loads, regex compilation
    start = clock()
    preds = [fn(t) for t in texts]
    runs = 1
    elapsed = clock() - start
    while elapsed < min_seconds:
        for t in texts:
            fn(t)
        runs += 1
        elapsed = clock() - start
    return preds, runs * len(texts) / elapsed


def _fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x * 100:6.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="number of texts (default 5000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--presidio-threshold",
        type=float,
        default=None,
        help="Presidio score_threshold (default: Presidio's own default, 0)",
    )
    ap.add_argument(
        "--presidio-python",
        default=None,
        metavar="PATH",
        help="interpreter with presidio-analyzer (make bench: .venv-presidio/bin/python), used "
        "when it is not importable here",
    )
    ap.add_argument(
        "--person-n", type=int, default=2000, help="texts in the PERSON name set (default 2000)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)

    corpus = build_corpus(args.n, args.seed)
    texts = [s.text for s in corpus]
    report: dict = {"n_texts": len(texts), "seed": args.seed, "engines": {}}

    our_preds, our_tps = timed(ours, texts, min_seconds=1.0)
    report["engines"]["feedbackloop"] = {"texts_per_s": our_tps, **score(corpus, our_preds)}

    presidio, presidio_clock, note = build_presidio(args.presidio_threshold, args.presidio_python)
    report["presidio"] = note
    if presidio is not None:
        try:
            pres_preds, pres_tps = timed(presidio, texts, min_seconds=0.0, clock=presidio_clock)
        except RuntimeError as exc:  # the worker died: report it, keep our figures
            presidio = None
            note = report["presidio"] = f"FAILED, {exc}"
    if presidio is not None:
        report["engines"]["presidio"] = {
            "texts_per_s": pres_tps,
            **score(corpus, pres_preds, PATTERN_TYPES),
        }
        report["speedup"] = our_tps / pres_tps

    report["person"] = person_scores(
        ours,
        build_name_set(args.person_n, args.seed + 4),
        build_name_set(args.person_n, args.seed + 5, unknown=True),
        build_lookalikes(args.person_n // 2, args.seed + 6),
    )

    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    engines = report["engines"]
    names = list(engines)
    print(f"corpus: {len(texts)} texts (seed {args.seed}); presidio: {note}")
    print(f"{'metric':<34}" + "".join(f"{n:>14}" for n in names))
    print(f"{'texts/s':<34}" + "".join(f"{engines[n]['texts_per_s']:>14,.0f}" for n in names))
    if "speedup" in report:
        print(f"{'speedup (feedbackloop/presidio)':<34}{report['speedup']:>14.1f}x")
    for t in ENTITY_TYPES:
        g = engines[names[0]]["types"][t]["gold"]
        for metric in ("recall", "precision"):
            label = f"{t} {metric} % (n={g})" if metric == "recall" else f"{t} {metric} %"
            print(
                f"{label:<34}"
                + "".join(f"{_fmt(engines[n]['types'].get(t, {}).get(metric)):>14}" for n in names)
            )
    print(
        f"{'false masks on look-alike texts %':<34}"
        + "".join(f"{_fmt(engines[n]['lookalike_false_mask_rate']):>14}" for n in names)
    )
    print(
        f"{'false-mask spans (all texts)':<34}"
        + "".join(f"{engines[n]['false_mask_spans']:>14}" for n in names)
    )
    person = report["person"]
    print(f"\nPERSON (feedbackloop; {person['names']} texts per name set, seed {args.seed + 4})")
    print(f"{'recall %, gazetteer names':<34}{_fmt(person['recall']):>14}")
    for context, value in person["recall_by_context"].items():
        print(f"{'  ' + context:<34}{_fmt(value):>14}")
    worst = sorted(person["recall_by_origin"].items(), key=lambda kv: kv[1])[:3]
    print(f"{'  lowest origins':<34}  " + ", ".join(f"{k} {v * 100:.1f}" for k, v in worst))
    print(f"{'recall %, names in no list':<34}{_fmt(person['recall_unknown_names']):>14}")
    print(f"{'false-mask spans in name texts':<34}{person['false_spans_in_name_texts']:>14}")
    label = f"false masks on look-alikes % (n={person['lookalike_texts']})"
    print(f"{label:<34}{_fmt(person['lookalike_false_mask_rate']):>14}")
    for text in person["lookalikes_masked"]:
        print(f"    masked: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
