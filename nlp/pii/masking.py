"""Fast detection and masking of personal data in free text.

Seven entity types, named as Presidio names them so the two can be compared and swapped:
CREDIT_CARD, US_SSN, EMAIL_ADDRESS, PHONE_NUMBER, IBAN_CODE, IP_ADDRESS and PERSON.

Precision on look-alikes (order numbers, dates, prices, tracking codes, versions) comes from
strict boundaries (a number never starts or ends inside a longer run of digits, a word, a
decimal, a date or a path) and from validating every candidate in Python: Luhn + issuer
prefix for cards, SSA ranges for SSNs, mod-97 + country length for IBANs, octet ranges and
``ipaddress`` for IPs, country calling codes for international phone numbers.

Speed comes from cheap gates (``str.count``/``in`` run at C speed) that skip whole families
of rules on a typical text, and from one scan for the places a number can start instead of
one scan per rule.

Person names come from context rules (greetings, sign-offs, self-introductions, speaker
labels, signature lines, given name + surname) checked against a given-name/surname gazetteer
read from Faker's locale data (`names.py`). Everything else is the standard library.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nlp.pii import names as _names

CREDIT_CARD = "CREDIT_CARD"
US_SSN = "US_SSN"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
PHONE_NUMBER = "PHONE_NUMBER"
IBAN_CODE = "IBAN_CODE"
IP_ADDRESS = "IP_ADDRESS"
PERSON = "PERSON"
# The types found by patterns and checksums (what Presidio's pattern recognizers cover).
PATTERN_TYPES: tuple[str, ...] = (
    CREDIT_CARD,
    US_SSN,
    EMAIL_ADDRESS,
    PHONE_NUMBER,
    IBAN_CODE,
    IP_ADDRESS,
)
ENTITY_TYPES: tuple[str, ...] = (*PATTERN_TYPES, PERSON)
# Recorded with every masking audit row; bump it when what gets masked changes.
# v1: the six pattern types; v2: + PERSON (names in greetings, sign-offs, introductions).
MASKER_VERSION = "pii-v2"

# On overlap the longer span wins; on equal length the lower number wins (the more strongly
# validated type: a checksum beats a format).
_PRIORITY = {
    EMAIL_ADDRESS: 0,
    IBAN_CODE: 1,
    CREDIT_CARD: 2,
    US_SSN: 3,
    IP_ADDRESS: 4,
    PHONE_NUMBER: 5,
    PERSON: 6,
}


@dataclass(frozen=True, slots=True)
class PiiEntity:
    """One detected entity; ``start``/``end`` are offsets into the input text."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MaskResult:
    """The masked text and the entities found in the input (offsets into the input)."""

    text: str
    entities: tuple[PiiEntity, ...]


_Out = list[tuple[int, int, str]]

# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------

# Pattern fragments, spliced into the rules below as <NAME>.
_FRAGMENTS = {
    # separators people put inside numbers: spaces (also no-break/thin), hyphen, dashes
    "SP": "[ \u00a0\u2009\u202f]",
    "SEP": "[ \u00a0\u2009\u202f\\-\u2010\u2011\u2012\u2013]",
    "SEPD": "[ \u00a0\u2009\u202f.\\-\u2010\u2011\u2012\u2013]",
    # A number must not start glued to a word, a decimal/date/time/path, or after "#" (order
    # and ticket numbers; "SSN#"/"ph#" stay allowed). (Starting inside a longer run of
    # space-separated digits is ruled out in _candidates.)
    "EDGE": r"(?<![\w.,/+@\-])(?<![0-9]:)(?<![^A-Za-z]#)(?<!^#)",
    # It must not end glued to a word or followed by another decimal/date/path part.
    "RIGHT": r"(?![\w@]|[.,/:\-][0-9])",
    "EXT": "(?:[ \u00a0]?(?:ext\\.?|x|extension|#)[ \u00a0]?[0-9]{1,6})?",
}
_FRAGMENT_RE = re.compile(r"<(SP|SEPD|SEP|EDGE|RIGHT|EXT)>")


def _rx(pattern: str, flags: int = re.ASCII) -> re.Pattern[str]:
    return re.compile(_FRAGMENT_RE.sub(lambda m: _FRAGMENTS[m.group(1)], pattern), flags)


_NON_DIGIT = re.compile(r"[^0-9]")
_NON_DIGITS = re.compile(r"[^0-9]+")
_DIGIT_CHARS = "0123456789"

# Words right before a number that say it is an identifier, not a phone number
# ("order #", "Invoice no.", "tracking number:", "FedEx").
_ID_WORDS = frozenset(
    [
        "order", "invoice", "inv", "ticket", "case", "ref", "reference", "tracking", "track",
        "account", "acct", "sku", "po", "id", "serial", "s/n", "sn", "confirmation", "conf",
        "booking", "txn", "transaction", "reservation", "claim", "policy", "item", "part", "model",
        "version", "ver", "build", "release", "rev", "batch", "lot", "rma", "receipt", "awb",
        "shipment", "parcel", "package", "pkg", "cust", "customer", "member", "membership",
        "voucher", "coupon", "giftcard", "store", "isbn", "upc", "ean", "imei", "vin", "patch",
        "firmware", "fw", "kb", "fedex", "ups", "usps", "dhl", "tnt", "dpd", "gls",
    ]
)  # fmt: skip
_ID_SUFFIXES = frozenset({"no", "nr", "num", "number", "id"})
_WORD = re.compile(r"[a-z/]+")
# A mixed letters+digits code right before ("1Z 999 AA1 01 2345 6784", a UPS number).
_CODE_BEFORE = re.compile(r"(?<![\w-])(?=[A-Z0-9]*[A-Z])[A-Z0-9]*[0-9][ \u00a0]$")
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call|text|sms|whatsapp|fax|dial|ring|reach|"
    r"contact|number|handy|m\.)",
    re.IGNORECASE,
)
_SSN_CONTEXT = re.compile(
    r"(?:\bssn|\bss#|\bss\s?(?:no|num)|social\s*sec|soc\.?\s*sec|\bsocial\b|"
    r"taxpayer|\btin\b|\bsecurity\s*(?:no|number|#))",
    re.IGNORECASE,
)
_CARD_CONTEXT = re.compile(r"(?:card|credit|debit|uatp|airplus|\bcc\b|amex|visa)", re.I)
# Words before a dotted quad that make it a version or a section number, not an address.
_VERSION_CONTEXT = re.compile(
    r"(?:\bv|\bver\.?|\bversion|\bbuild|\brelease|\brev\.?|\brv|\bfirmware|\bfw|\bos|"
    r"\bkernel|\bpatch|\bupdate|\bsection|\bsec\.|\bchapter|\bclause|\bpara(?:graph)?|"
    r"\bstep|\bart(?:icle)?\.?|\bitem|\bfigure|\bfig\.|\btable|§)\s*[:#=]?\s*$",
    re.IGNORECASE,
)


def _preceded_by(pattern: re.Pattern[str], text: str, start: int, window: int) -> bool:
    # search(text, pos, endpos): "$" anchors at `start`, lookbehinds still see the real text.
    return pattern.search(text, max(0, start - window), start) is not None


def _near(pattern: re.Pattern[str], text: str, start: int, end: int) -> bool:
    """A context word within 40 chars before or 25 chars after the span."""
    return (
        pattern.search(text, max(0, start - 40), start) is not None
        or pattern.search(text, end, end + 25) is not None
    )


def _id_before(text: str, start: int) -> bool:
    """Is the number at `start` labelled as an identifier (or glued to a code)?"""
    # Plain string work instead of a regex search: this runs for most candidates.
    head = text[max(0, start - 30) : start].rstrip(" \t\u00a0:#=.").lower()
    if head and head[-1].isalpha():
        words = _WORD.findall(head[-24:])
        if words and head.endswith(words[-1]):
            last = words[-1]
            before = words[-2] if len(words) > 1 else ""
            if (
                last in _ID_WORDS
                or (last in _ID_SUFFIXES and before in _ID_WORDS)
                or (last == "card" and before == "gift")
            ):
                return True
    return (
        start >= 2
        and text[start - 1] in " \u00a0"
        and text[start - 2] in _DIGIT_CHARS
        and _preceded_by(_CODE_BEFORE, text, start, 12)
    )


# --------------------------------------------------------------------------------------------
# Credit cards
# --------------------------------------------------------------------------------------------

# 4 digits then 2-4 more groups with one consistent separator (4-4-4-4, 4-6-5, 4-6-4,
# 4-4-4-4-3, ...), or 13-19 digits in one piece.
_CARD = _rx(
    r"<EDGE>(?:[0-9]{4}(<SEP>)[0-9]{3,8}(?:\1[0-9]{3,8}){0,2}\1[0-9]{1,8}|[0-9]{13,19})"
    r"<RIGHT>"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    double = False
    for ch in reversed(digits):
        n = ord(ch) - 48
        if double:
            n *= 2
            if n > 9:
                n -= 9
        total += n
        double = not double
    return total % 10 == 0


def _card_iin_ok(d: str) -> bool:
    """Major issuer prefixes and their lengths."""
    n = len(d)
    p2 = int(d[:2])
    p4 = int(d[:4])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if p2 in (34, 37):  # Amex
        return n == 15
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if 2200 <= p4 <= 2204:  # Mir
        return 16 <= n <= 19
    if p4 in (1800, 2131):  # JCB, old 15-digit ranges
        return n == 15
    if p2 == 35:  # JCB
        return 16 <= n <= 19
    if p2 in (30, 36, 38, 39):  # Diners
        return 14 <= n <= 19
    # Maestro (50, 56-58, 6x), Discover (6011, 644-649, 65), UnionPay (62), RuPay (60, 65)
    return (p2 == 50 or 56 <= p2 <= 58 or d[0] == "6") and 13 <= n <= 19


def _card_ok(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _card_iin_ok(digits) and _luhn_ok(digits)


def _on_card(m: re.Match[str], text: str, out: _Out) -> None:
    raw = m.group()
    digits = _NON_DIGIT.sub("", raw)
    # "tracking 6123 4567 8901 234": a labelled identifier, unless a card word is near.
    if _id_before(text, m.start()) and not _near(_CARD_CONTEXT, text, m.start(), m.end()):
        return
    if _card_ok(digits):
        # 13 digits are an EAN-13 barcode as often as a card: only Visa's 13-digit range
        # stands alone, the rest needs a card word nearby.
        if len(digits) != 13 or digits[0] == "4" or _near(_CARD_CONTEXT, text, m.start(), m.end()):
            out.append((m.start(), m.end(), CREDIT_CARD))
    elif len(digits) == 15 and digits[0] == "1" and _luhn_ok(digits):
        # UATP airline cards: too common a shape to take without a card word nearby.
        if _near(_CARD_CONTEXT, text, m.start(), m.end()):
            out.append((m.start(), m.end(), CREDIT_CARD))
    elif not raw[4].isdigit():
        # "4111 1111 1111 1111 12 months": the regex also took the next small number. Drop
        # the last group once (the start stays anchored at the start of the digit run).
        head, sep, _ = raw.rpartition(raw[4])
        if head.count(sep) >= 2 and _card_ok(_NON_DIGIT.sub("", head)):
            out.append((m.start(), m.start() + len(head), CREDIT_CARD))


# --------------------------------------------------------------------------------------------
# US Social Security numbers
# --------------------------------------------------------------------------------------------

# "SSN123-45-6789" is glued to its label: the only word allowed right before.
_SSN = _rx(
    r"(?:(?<=[Ss][Ss][Nn])|<EDGE>)([0-9]{3})(<SEPD>)([0-9]{2})\2([0-9]{4})<RIGHT>"
    r"(?!<SEP>[0-9])"
)
_SSN_BARE = _rx(r"(?:(?<=[Ss][Ss][Nn])|<EDGE>)([0-9]{3})([0-9]{2})([0-9]{4})<RIGHT>")


def _ssn_parts_ok(area: str, group: str, serial: str) -> bool:
    # Never issued: area 000, 666 and 900-999, group 00, serial 0000.
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _on_ssn(m: re.Match[str], text: str, out: _Out) -> None:
    area, sep, group, serial = m.groups()
    if not _ssn_parts_ok(area, group, serial):
        return
    # Dotted 3.2.4 is also how versions and IDs look, and "part no. 123-45-6789" is labelled
    # as something else: only with an SSN word nearby.
    if (sep == "." or _id_before(text, m.start())) and not _near(
        _SSN_CONTEXT, text, m.start(), m.end()
    ):
        return
    out.append((m.start(), m.end(), US_SSN))


def _on_bare_ssn(m: re.Match[str], text: str, out: _Out) -> None:
    # Bare 9 digits are an SSN only when the text says so nearby.
    if _ssn_parts_ok(*m.groups()) and _near(_SSN_CONTEXT, text, m.start(), m.end()):
        out.append((m.start(), m.end(), US_SSN))


# --------------------------------------------------------------------------------------------
# Phone numbers
# --------------------------------------------------------------------------------------------

# ITU-T E.164 country calling codes (assigned ranges). They are prefix-free, so the code of
# a number is whichever of its first 1-3 digits is listed.
_CC_1_2 = {
    "1", "7",
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
    "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
    "95", "98",
}  # fmt: skip
_CC_3 = {
    "211", "212", "213", "216", "218", "290", "291", "297", "298", "299", "420", "421",
    "423", "800", "808", "850", "852", "853", "855", "856", "870", "878", "880", "881",
    "882", "883", "886", "888",
    *(str(n) for n in range(220, 270)),
    *(str(n) for n in range(350, 360)),
    *(str(n) for n in range(370, 390)),
    *(str(n) for n in range(500, 510)),
    *(str(n) for n in range(590, 600)),
    *(str(n) for n in range(670, 693)),
    *(str(n) for n in range(960, 980)),
    *(str(n) for n in range(992, 999)),
}  # fmt: skip


def _country_code(digits: str) -> str | None:
    if digits[:1] in _CC_1_2:
        return digits[:1]
    if digits[:2] in _CC_1_2:
        return digits[:2]
    if digits[:3] in _CC_3:
        return digits[:3]
    return None


# +CC / 00CC / (+CC), then groups; the national part may carry a "(0)" trunk marker:
# +44 20 7946 0958, +44 (0)20 7946 0958, 0049 30 123456, +14155550123, (+33) 1 23 45 67 89.
_INTL_PHONE = _rx(
    r"<EDGE>(?:\(\+[0-9]{1,3}\)<SP>?|\+<SP>?|00)"
    r"[0-9]{1,14}(?:(?:<SEPD>?\([0-9]{1,4}\)<SEPD>?|<SEPD>)[0-9]{1,14}){0,7}<EXT><RIGHT>",
    re.ASCII | re.IGNORECASE,
)
# North American numbering plan, national forms: (415) 555-0123, 415-555-0123,
# 415.555.0123, 415/555-0123, 1-800-555-0199, 4155550123.
_US_PHONE = _rx(
    r"<EDGE>(1<SEPD>?)?(?:\(([0-9]{3})\)<SEPD>?|([0-9]{3})(<SEPD>?|/))"
    r"([0-9]{3})(<SEPD>?)([0-9]{4})<EXT><RIGHT>(?!<SP>[0-9]{3})",
    re.ASCII | re.IGNORECASE,
)
# National forms with a trunk 0 (UK 020 7946 0958, DE 030 123456 and 030/123456,
# FR 01 23 45 67 89, AU (02) 9876 5432, IN 022 2345 6789, JP 03-1234-5678) and
# area-code-in-parentheses forms without it (BR (11) 98765-4321).
_NATIONAL_PHONE = _rx(
    r"<EDGE>(?:\(0?[1-9][0-9]{0,3}\)<SEPD>?|0[1-9][0-9]{0,3}(?:<SEPD>|/))"
    r"[0-9]{2,8}(?:<SEPD>[0-9]{2,8}){0,4}<EXT><RIGHT>(?!<SP>[0-9]{3})",
    re.ASCII | re.IGNORECASE,
)
# As usually written in India (98765 43210) and Brazil (11 98765-4321, 47 3344-1092).
_MOBILE = _rx(r"<EDGE>(?:[6-9][0-9]{4}<SP>[0-9]{5}|[1-9][0-9]<SP>9?[0-9]{4}<SEP>[0-9]{4})<RIGHT>")
# Trunk-0 numbers without any separator (07911123456, 0612345678, IT 092224654).
_BARE_NATIONAL = _rx(r"<EDGE>0[1-9][0-9]{7,9}<RIGHT>")
_EXT_TAIL = _rx(r"<SP>?(?:ext\.?|x|extension|#)<SP>?[0-9]{1,6}$", re.ASCII | re.IGNORECASE)


def _intl_ok(raw: str, text: str, start: int) -> bool:
    digits = _NON_DIGIT.sub("", _EXT_TAIL.sub("", raw.replace("(0)", "")))
    if raw.startswith("00"):
        digits = digits[2:]
        # 00-prefixed digit strings are common in IDs and tracking numbers: demand a
        # separator, no label, and not the 4-4-4(-4) grouping of a tracking number.
        if not any(c in raw for c in " \u00a0-.("):
            return False
        groups = _NON_DIGITS.split(raw)
        if (len(groups) >= 3 and all(len(g) == 4 for g in groups)) or _id_before(text, start):
            return False
    cc = _country_code(digits)
    if cc is None or not 8 <= len(digits) <= 15 or len(digits) - len(cc) < 6:
        return False
    # NANP: area codes start 2-9, exactly 10 national digits.
    return cc != "1" or (digits[1] not in "01" and len(digits) == 11)


def _on_intl_phone(m: re.Match[str], text: str, out: _Out) -> None:
    raw = m.group()
    start = m.start()
    while not _intl_ok(raw, text, start):
        # "+1 415 555 0123 219-09-9999": the groups ran on into the next number. Drop
        # space-separated groups from the end until the number is valid.
        cut = max(raw.rfind(" "), raw.rfind("\u00a0"))
        if cut <= 3:
            return
        raw = raw[:cut]
    out.append((start, start + len(raw), PHONE_NUMBER))


_DATE_PREFIX = re.compile(
    r"(?:19[89][0-9]|20[0-4][0-9])(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
)


def _on_us_phone(m: re.Match[str], text: str, out: _Out) -> None:
    one, area_paren, area, sep1, _exchange, sep2, _line = m.groups()
    area = area_paren or area
    if not (area_paren or sep1 or sep2):
        # Bare 10/11 digits: the area code must be possible (2-9, not N11; the exchange is
        # not checked: Indian and Italian mobiles are 10 bare digits too), and the number
        # not a YYYYMMDD.. timestamp.
        if area[0] in "01" or area[1:] == "11":
            return
        if _DATE_PREFIX.match(m.group(), 1 if one else 0):
            return
        if one and not _preceded_by(_PHONE_CONTEXT, text, m.start(), 40):
            return
    elif area[0] in "01" and not (one or area_paren or (sep1 and sep1 == sep2)):
        # An area code 0xx/1xx does not exist, but "012-345-6789" written as a phone
        # number is one; only mixed or missing separators make it doubtful.
        return
    if not _id_before(text, m.start()):
        out.append((m.start(), m.end(), PHONE_NUMBER))


def _on_national_phone(m: re.Match[str], text: str, out: _Out) -> None:
    raw = m.group()
    core = _EXT_TAIL.sub("", raw)
    digits = _NON_DIGIT.sub("", core)
    groups = [g for g in _NON_DIGITS.split(core) if g]
    if raw[0] == "(" and digits[0] != "0":
        ok = 10 <= len(digits) <= 11
    else:
        # 12 digits only as area + one block (DE mobiles "0151 12345678"); 4-4-4 with a
        # leading 0 is a FedEx tracking number.
        ok = 9 <= len(digits) <= 11 or (len(digits) == 12 and len(groups) == 2)
    if not ok or (len(groups) == 2 and len(groups[0]) == 5 and len(groups[1]) == 4):
        return  # wrong length, or ZIP+4 (New England ZIPs start with 0): 02139-4307
    if not _id_before(text, m.start()):
        out.append((m.start(), m.end(), PHONE_NUMBER))


def _on_plain_phone(m: re.Match[str], text: str, out: _Out) -> None:
    if not _id_before(text, m.start()):
        out.append((m.start(), m.end(), PHONE_NUMBER))


# --------------------------------------------------------------------------------------------
# IP addresses
# --------------------------------------------------------------------------------------------

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zeros, as ipaddress
_IPV4 = re.compile(
    rf"(?<![\w.\-])(?<![A-Za-z0-9]/)(?:{_OCTET}\.){{3}}{_OCTET}(?:/(?:3[0-2]|[12]?[0-9]))?(?!\w|\.\w|-\w)",
    re.ASCII,
)
# Candidate IPv6 (full, compressed, zone id, prefix, IPv4 tail); `ipaddress` decides.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}::?[0-9A-Fa-f]{0,4}:)"
    r"(?:[0-9A-Fa-f:]{2,29}(?<=:)(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f:]{2,40})"
    r"(?:%[0-9A-Za-z_.]+)?(?:/[0-9]{1,3})?(?![\w:])",
    re.ASCII,
)


def _on_ipv4(m: re.Match[str], text: str, out: _Out) -> None:
    # "v10.0.0.1" and "Chrome/120.0.0.0" cannot match (the regex's lookbehinds); "version
    # 4.2.1.0", "build 10.0.0.1" and "rv:1.9.6.20" are versions; a bare 10.0.0.1 is an
    # address.
    if not _preceded_by(_VERSION_CONTEXT, text, m.start(), 20):
        out.append((m.start(), m.end(), IP_ADDRESS))


def _find_ipv6(text: str, out: _Out) -> None:
    for m in _IPV6.finditer(text):
        raw = m.group()
        end = m.end()
        if raw.endswith(":") and not raw.endswith("::"):
            raw = raw[:-1]  # "from fe80::1: refused": the colon belongs to the sentence
            end -= 1
        addr, slash, prefix = raw.partition("/")
        if slash and int(prefix) > 128:
            continue
        # A digit is required: "dead::beef" / "add::" are more likely code than hosts.
        if not any(c in _DIGIT_CHARS for c in addr.partition("%")[0]):
            continue
        try:
            ipaddress.IPv6Address(addr)
        except ValueError:
            continue
        out.append((m.start(), end, IP_ADDRESS))


# --------------------------------------------------------------------------------------------
# Email addresses
# --------------------------------------------------------------------------------------------

# The domain is matched forward from each "@"; the local part is walked backwards from it
# (far cheaper than a regex that tries every word of the text as a local part).
_EMAIL_DOMAIN = re.compile(
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{2,59})(?![\w-])",
    re.IGNORECASE,
)
# RFC 5322 "atext" and dots; letters and digits of any script are accepted via isalnum().
_LOCAL_PUNCT = frozenset("!#$%&'*+/=?^_`{|}~-.")
# "logo@2x.png" is a retina asset name, not an address.
_FILE_EXT = frozenset(
    ["png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "json", "txt",
     "log", "html", "htm", "yaml", "yml", "xml", "csv"]
)  # fmt: skip


def _find_emails(text: str, out: _Out) -> None:
    at = text.find("@")
    while at != -1:
        m = _EMAIL_DOMAIN.match(text, at)
        if m is not None:
            start = at
            while start > 0 and start > at - 64:
                ch = text[start - 1]
                if not (ch.isalnum() or ch in _LOCAL_PUNCT):
                    break
                start -= 1
            while start < at and text[start] == ".":
                start += 1  # a local part cannot start with a dot ("see:.john@x.org")
            domain = m.group()[1:]
            is_file = domain.count(".") == 1 and domain.rpartition(".")[2].lower() in _FILE_EXT
            if start < at and not is_file:
                out.append((start, m.end(), EMAIL_ADDRESS))
        at = text.find("@", at + 1)


# --------------------------------------------------------------------------------------------
# IBANs (ISO 13616)
# --------------------------------------------------------------------------------------------

# Country -> IBAN length: the SWIFT IBAN registry plus the widely used experimental formats.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
    "AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25,
    "DZ": 26, "GA": 27, "GQ": 27, "GW": 25, "IR": 26, "KM": 27, "MA": 28, "MG": 27,
    "ML": 28, "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28,
}  # fmt: skip

# Country + check digits, then BBAN characters, optionally grouped by spaces or dashes.
# Greedy on purpose: the exact length comes from the table, not from the regex.
_IBAN = _rx(r"(?<![A-Za-z0-9])[A-Z]{2}<SEP>?[0-9]{2}(?:<SEP>?[A-Z0-9]){11,30}")


def _iban_checksum_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _find_ibans(text: str, out: _Out) -> None:
    m = _IBAN.search(text)
    while m is not None:
        start = m.start()
        raw = m.group()
        end = 0
        length = _IBAN_LENGTHS.get(raw[:2])
        if length is not None:
            # Walk until `length` alphanumerics are seen: that is where the IBAN ends.
            seen = 0
            for i, ch in enumerate(raw):
                if ch.isalnum():
                    seen += 1
                    if seen == length:
                        end = start + i + 1
                        break
        if end and not (end < len(text) and text[end].isalnum()):
            compact = "".join(ch for ch in text[start:end] if ch.isalnum())
            if _iban_checksum_ok(compact):
                out.append((start, end, IBAN_CODE))
                m = _IBAN.search(text, end)
                continue
        # Not an IBAN here; one may still start inside what the greedy regex took.
        m = _IBAN.search(text, start + 1)


# --------------------------------------------------------------------------------------------
# Person names
# --------------------------------------------------------------------------------------------

# A name is masked where the text says it is one: after a greeting ("Hi Sam,"), a sign-off
# ("Thanks, Liam Miller", "Cheers,\nÉlodie"), a self-introduction ("my name is ...", "I'm
# ..."), an honorific ("Dr. Okafor"), as a speaker label at the start of a line ("Rep: ...",
# "Liam:"), alone on a line (a signature), before a verb ("Priya was great"), or as a given
# name followed by a surname anywhere ("spoke with Priya Sharma"). Which words are names
# comes from the gazetteer (`names.py`: Faker's 86 locales); an unknown word counts only
# where the context leaves no doubt (after "my name is" or an honorific, or name-shaped and
# alone after a greeting or a sign-off).

# Capital letters of cased scripts (Latin, Greek, Cyrillic, ...), from the Unicode tables.
_UPPER_CLASS = (
    "[" + re.escape("".join(c for c in map(chr, range(0x41, 0x2000)) if c.isupper())) + "]"
)
# A name token: letters, with inner apostrophes or hyphens (O'Brien, Jean-Luc, Al-Amin).
_TOK = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"
_CAP_TOK_REST = r"[^\W\d_]*(?:['’\-][^\W\d_]+)*"
_CAP_TOK = rf"{_UPPER_CLASS}{_CAP_TOK_REST}"
_TOKEN = re.compile(_TOK)
_SPACES = re.compile(r"[ \t\u00a0]{1,2}")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Lower-case words allowed inside a name: "Ludwig van Beethoven", "Maria da Silva".
_PARTICLES = _words(
    """
    van von de da del della di du la le der den ter ten bin ibn bint al el dos das ó o mac
    mc ní nic ua ap
    """
)
# Words that are never a name here, though Faker lists some of them as one (it has "The",
# "Street", "Best", "Kind" as surnames): function words, greeting and sign-off words,
# roles, teams, company, product and street words. A name stops before them, and a name
# followed by a team, company or street word ("Hi Acme Support", "Thanks, Alexa team",
# "Victoria Street") is not a person.
_FUNCTION_WORDS = _words(
    """
    the a an and or but of to in on at by for with from as is are was were be been am i
    you he she it we they me my your our their this that these those there here all any
    some every everyone everybody anyone someone nobody no yes not please hi hello hey
    dear thanks thank cheers regards best kind warm sincerely yours truly greetings good
    morning afternoon evening night again welcome ok okay viele beste liebe grüße grüsse
    mfg danke saludos gracias merci cordialement atenciosamente abraço obrigado obrigada
    i'm i’m im i've i'd i'll it's it’s that's we're you're
    """
)
_ORG_WORDS = _words(
    """
    team teams support customer
    customers client clients service services care desk help helpdesk sales billing admin
    admins staff agent agents rep reps manager management folks guys sir madam ladies
    gentlemen user users member members friend friends colleague colleagues partner
    partners owner owners company corp corporation inc ltd llc gmbh ag sa plc co group
    holdings bank airlines hotel university college school hospital clinic labs lab
    software systems solutions technologies tech cloud app apps store shop market mall pay
    card cards account premium pro plus max mini air ultra edition update version order
    refund delivery invoice street st road rd avenue ave lane ln boulevard blvd drive dr
    way place square sq court ct terrace park parkway highway hwy suite apt floor building
    mount lake river bridge station airport center centre jr
    """
)
_NOT_NAME = _FUNCTION_WORDS | _ORG_WORDS
# Common words that are also given names ("Will this work?", "in May", "Hope it helps"):
# a name after a greeting or sign-off or before a surname, never on their own.
_COMMON_WORDS = _words(
    """
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday will can must mark bill guy
    hope art summer winter spring autumn fall jack grace joy faith chase hunter rose ray
    sue pat don penny sandy rich page case price young king queen prince long little white
    black brown green gray grey bell hall wood stone star sky dawn eve ivy lily amber ruby
    pearl crystal jade iris daisy sunny love mercy honor baker cook carter mason porter
    major general north west ford bond cash sterling
    """
)
_CUE_PATTERN = (
    r"(?<![\w'’])(?:"
    r"(?P<greet>(?:hi|hello|hey|hiya|dear|greetings|good\s+(?:morning|afternoon|evening)"
    r"|hola|buenos\s+d[ií]as|bonjour|salut|hallo|guten\s+(?:tag|morgen)|moin|ciao"
    r"|ol[aá]|oi|bom\s+dia|namaste|salaam|salam)(?:\s+again|\s+de\s+nuevo)?)"
    r"|(?P<sign>thanks(?:\s+again|\s+so\s+much|\s+a\s+lot)?|thank\s+you(?:\s+so\s+much)?|thx"
    r"|many\s+thanks|cheers|(?:best|kind|warm|warmest)\s+regards|regards|best\s+wishes|best"
    r"|sincerely|yours(?:\s+truly|\s+sincerely)?|saludos|un\s+saludo|gracias|merci"
    r"|cordialement|bonne\s+journ[ée]e|(?:viele|beste|liebe|freundliche)\s+gr[üu](?:ß|ss)e"
    r"|gr[üu](?:ß|ss)e|mfg|danke|abra[çc]o|atenciosamente|obrigad[oa])"
    r"|(?P<intro>my\s+name\s+is|my\s+name's|name\s*:|je\s+m'appelle|me\s+llamo"
    r"|mi\s+nombre\s+es|mein\s+name\s+ist|ich\s+hei(?:ß|ss)e|meu\s+nome\s+[ée]|signed\s*:)"
    # notes: "Call with Omar (IT)", "Follow up with Priya at ..."
    r"|(?P<with>(?:call|meeting|chat|check-in|spoke|talked|met|follow\s+up|followed\s+up"
    r"|sync|catch\s+up|touch\s+base)\s+with)"
    r"|(?P<weak>i\s+am|i'm|i’m|this\s+is|it's|it’s|je\s+suis|soy|ich\s+bin|sou)"
    r"|(?P<honor>(?:mr|mrs|ms|miss|mx|dr|prof|sra|srta|herr|frau|mme|mlle)\.?)"
    r"|(?P<label>^[ \t]*(?:rep|agent|customer|client|caller|prospect|attendees?|participants?"
    r"|contact|host|ae|csm|sdr|champion|buyer|speaker)[ \t]*[:\-–])"
    r")(?![\w'’])"
)
# Run on the lower-cased text (2.5x faster than IGNORECASE); the slow twin is for the rare
# text whose lower-case form has another length ("İ").
_CUES = re.compile(_CUE_PATTERN, re.MULTILINE)
_CUES_ANY_CASE = re.compile(_CUE_PATTERN, re.MULTILINE | re.IGNORECASE)


# Where a cue can start, found fast. `_CUE_PATTERN` tries its seven named groups one after the
# other at every word start (each entered before its first letter is checked): most of the
# scan's time. `_CUE_STARTS` holds the same alternatives, the leading `(?:a|b)` groups spread
# out (`(?:best|kind)\s+regards` as `best\s+regards|kind\s+regards`) and grouped by first
# letter, without the group names: it matches at exactly the positions `_CUES` matches at,
# in about 60% of the time. `_cues` then takes `_CUES`'s own match at each of them.
def _scan(pattern: str) -> Iterator[tuple[int, str, int]]:
    """(index, char, group depth) of each char of `pattern` outside an escape or a class."""
    depth = 0
    in_class = escaped = False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        else:
            yield i, ch, depth
            depth += (ch == "(") - (ch == ")")


def _split_top(pattern: str) -> list[str]:
    """`pattern`'s alternatives at its top level."""
    cuts = [i for i, ch, depth in _scan(pattern) if ch == "|" and depth == 0]
    return [pattern[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(pattern)], strict=True)]


def _spread(alternative: str) -> list[str]:
    """`(?:a|b)rest` as `arest` and `brest`, recursively; a quantified group stays whole."""
    if not alternative.startswith("(?:"):
        return [alternative]
    end = next(i for i, ch, depth in _scan(alternative) if ch == ")" and depth == 1)
    inner, rest = alternative[3:end], alternative[end + 1 :]
    if rest[:1] in ("?", "*", "+", "{"):
        return [alternative]
    return [spread for alt in _split_top(inner) for spread in _spread(alt + rest)]


def _cue_starts() -> re.Pattern[str]:
    head, tail = r"(?<![\w'’])(?:", r")(?![\w'’])"
    assert _CUE_PATTERN.startswith(head) and _CUE_PATTERN.endswith(tail)
    by_letter: dict[str, list[str]] = {}
    others: list[str] = []
    for group in _split_top(_CUE_PATTERN[len(head) : -len(tail)]):
        named = re.match(r"\(\?P<\w+>", group)
        assert named is not None and group.endswith(")")
        for alt in _split_top(group[named.end() : -1]):
            for spread in _spread(alt):
                if spread[:1].isalpha():
                    by_letter.setdefault(spread[0], []).append(spread[1:])
                else:
                    others.append(spread)  # the speaker label: "^[ \t]*(?:rep|...)"
    letters = [f"{c}(?:{'|'.join(rests)})" for c, rests in sorted(by_letter.items())]
    return re.compile(head + "|".join(letters + others) + tail, re.MULTILINE)


_CUE_STARTS = _cue_starts()


def _cues(lowered: str) -> Iterator[re.Match[str]]:
    """`_CUES.finditer(lowered)`: the same matches, found through `_CUE_STARTS`."""
    pos = 0
    while (start := _CUE_STARTS.search(lowered, pos)) is not None:
        found = _CUES.match(lowered, start.start())
        assert found is not None  # the same alternatives match at the same places
        yield found
        pos = found.end()  # a cue is never empty


# Before "name:" these make it something else's name ("file name: Report").
_OTHER_NAMES = _words(
    """
    file user username product host domain display company app account business store
    project workspace team device brand model screen
    """
)
# A name as a speaker label ("Liam:", "Liam Miller:") or alone on a line (a signature).
# The words are one atomic group: giving back part of a word or a word can only leave a letter
# or a space before the ":" or the line end the rest needs, so backtracking into them never
# finds a match and only cost time (the same matches, about 40% less scanning).
_LINE_NAME = re.compile(
    rf"^[ \t]*(?P<dash>[-–—~][ \t]*)?(?P<seq>(?>{_TOK}(?:[ \t]{{1,2}}{_TOK}){{0,3}}))"
    r"(?:(?P<end>:)(?!:)|[ \t]*$)",
    re.MULTILINE,
)
# Runs of capitalized words: a given name then a surname, anywhere.
# Also one capitalized word before a verb: "Priya was super helpful", "Sam said ..." (one
# scan for both). The capital comes first and the "not inside a word" test is a lookbehind
# over it, so the regex engine skips ahead to capitals instead of testing every position
# (the same matches, about 30% less scanning).
_CAP_RUN = re.compile(
    rf"{_UPPER_CLASS}(?<![\w'’\-].){_CAP_TOK_REST}"
    rf"(?:(?:[ \t\u00a0]{{1,2}}(?:(?:{'|'.join(sorted(_PARTICLES))})"
    rf"[ \t\u00a0]+)?{_CAP_TOK})+(?![\w'’])|(?P<verb>(?=[ \t]+(?:was|is|has|had|helped|fixed"
    r"|solved|resolved|answered|replied|said|asked|told|called|emailed|mentioned|confirmed"
    r"|explained|agreed|wants|needs|loved|liked|from)(?![\w'’]))))"
)
# Words after a name that end a self-introduction ("I'm Sam from Acme", "this is Ana here").
_FOLLOWERS = _words("from and with at here speaking again calling writing of on in")
_STRICT_END = frozenset(",!:;\n\r")
# A line break may come as HTML: "Thanks,<br>Ryan".
_SIGN_SEP = re.compile(r"[ \t]*(,?)[ \t]*(?:[!.]?[ \t]*(?:\r?\n|<br\s*/?>)[ \t]*)?", re.I)
_CUE_SEP = re.compile(r"[ \t]*,?[ \t]*")


def _is_cap(tok: str) -> bool:
    return tok[0].isupper() or not tok[0].islower()  # caseless scripts have no capitals


def _seq(text: str, pos: int, known: frozenset[str] | None = None) -> list[tuple[int, int]]:
    """Name tokens from `pos`: capitalized words (or, with `known`, lower-case known names),
    particles allowed between them, one or two spaces apart, at most four; stops before a
    word that is never a name."""
    out: list[tuple[int, int]] = []
    while len(out) < 4:
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        tok = m.group()
        low = tok.casefold()
        particle = bool(out) and low in _PARTICLES
        if low in _NOT_NAME and not particle:
            break
        if not (_is_cap(tok) or particle or (known is not None and low in known)):
            break
        out.append(m.span())
        sp = _SPACES.match(text, m.end())
        if sp is None:
            break
        pos = sp.end()
    while out and text[out[-1][0] : out[-1][1]].casefold() in _PARTICLES:
        out.pop()
    return out


def _after(text: str, end: int) -> str:
    """The first character after `end` that is not a space or tab ("" at the end)."""
    n = len(text)
    while end < n and text[end] in " \t\u00a0":
        end += 1
    return text[end] if end < n else ""


def _next_word(text: str, end: int) -> str:
    sp = _SPACES.match(text, end)
    m = _TOKEN.match(text, sp.end()) if sp else None
    return m.group() if m else ""


def _org_follows(text: str, end: int) -> bool:
    """A team, company or street word follows: "Acme Support", "Alexa team", "Elm Street"."""
    return _next_word(text, end).casefold() in _ORG_WORDS


def _has(word: str, names: frozenset[str]) -> bool:
    """`word` (casefolded) is a listed name, or a hyphenated pair of them (Hans-Henning)."""
    return word in names or ("-" in word and all(p in names for p in word.split("-")))


def _name_shaped(tok: str) -> bool:
    # "Xochitl" yes; "PayPal", "IBM", "iPhone" no.
    return len(tok) >= 3 and (tok[1:].islower() or not tok[0].isupper())


def _on_cue(
    m: re.Match[str], text: str, given: frozenset[str], known: frozenset[str]
) -> tuple[int, int] | None:
    kind = m.lastgroup
    pos = m.end()
    if kind == "sign":
        # "Thanks, Sam" / "Thanks Sam!" / "Cheers,\nSam"; never across a full stop ("Thanks.
        # Will this ...") and one-word sign-offs ("Best") only before a comma or line break.
        sep = _SIGN_SEP.match(text, pos)
        assert sep is not None  # every part is optional
        comma, newline = sep.group(1), "\n" in sep.group() or "<" in sep.group()
        if not (comma or newline) and (
            " " not in sep.group() or m.group().casefold() in ("best", "yours", "cheers")
        ):
            return None
    else:
        if kind == "intro" and m.group()[:4].casefold() == "name":
            before = text[max(0, m.start() - 20) : m.start()].split()
            if before and before[-1].casefold() in _OTHER_NAMES:
                return None
        sep = _CUE_SEP.match(text, pos)
        assert sep is not None
        if sep.end() == pos and kind != "label":
            return None  # the cue must be followed by a space or a comma
    toks = _seq(text, sep.end(), known if kind == "intro" else None)
    if not toks:
        return None
    start, end = toks[0][0], toks[-1][1]
    if _org_follows(text, end):
        return None
    if kind in ("intro", "honor"):
        return start, end
    words = [text[s:e].casefold() for s, e in toks]
    first = words[0]
    nxt = _after(text, end)
    strict = nxt == "" or nxt in _STRICT_END or (nxt == "." and _after(text, end + 1) in "\n")
    if kind == "with":
        return (start, end) if _has(first, given) and first not in _COMMON_WORDS else None
    if kind == "weak":
        follower = _next_word(text, end).casefold()
        if _has(first, given) and first not in _COMMON_WORDS:
            return (start, end) if strict or nxt in ".?" or follower in _FOLLOWERS else None
        # An unknown word only as in "I'm Nudo from ...", "this is Xeti speaking".
        named = all(_name_shaped(text[s:e]) for s, e in toks)
        return (start, end) if named and follower in ("from", "here", "speaking") else None
    if len(words) == 1 and first in _COMMON_WORDS and not strict:
        return None  # "Thanks Will do", "Hi May I ask"
    if any(_has(w, known) for w in words):
        return start, end
    # Unknown words: name-shaped, with nothing else after them on the line or sentence.
    if strict and len(words) <= 3 and all(_name_shaped(text[s:e]) for s, e in toks):
        return start, end
    return None


def _line_names(text: str, given: frozenset[str], known: frozenset[str], out: _Out) -> None:
    for m in _LINE_NAME.finditer(text):
        s, e = m.span("seq")
        toks = _seq(text, s)
        if not toks or toks[-1][1] != e:
            continue  # a lower-case or never-a-name word on the line
        words = [text[a:b].casefold() for a, b in toks]
        if words[0] in _COMMON_WORDS and (len(words) == 1 or words[-1] in _COMMON_WORDS):
            continue  # "May:", "Will", "Grace Hall"
        if len(words) == 1 and not _name_shaped(text[s:e]):
            continue  # "IRL", "FAQ": codes and acronyms
        if len(words) == 1 or m.group("end") is None:
            # "Liam:", "Élodie" alone on a line, "Priya Sharma"
            ok = _has(words[0], given) or all(_has(w, known) for w in words[1:] or ["-"])
        else:
            ok = _has(words[0], known)  # "Liam Miller:", "Okafor Chinedu:"
        if not ok and m.group("dash") and m.end() == len(text.rstrip()):
            # "— Xeti" closing the text: a signature, whatever the name
            ok = all(_name_shaped(text[a:b]) for a, b in toks)
        if ok:
            out.append((s, e, PERSON))


def _full_names(
    text: str, given: frozenset[str], surnames: frozenset[str], known: frozenset[str], out: _Out
) -> None:
    for m in _CAP_RUN.finditer(text):
        if m.group("verb") is not None:
            w = m.group().casefold()
            if _has(w, given) and w not in _COMMON_WORDS and w not in _NOT_NAME:
                out.append((m.start(), m.end(), PERSON))
            continue
        toks = [t.span() for t in _TOKEN.finditer(text, m.start(), m.end())]
        words = [text[a:b].casefold() for a, b in toks]
        n = len(words)
        if any(w in _ORG_WORDS for w in words) or _org_follows(text, toks[-1][1]):
            continue  # "Martin Luther King Jr Blvd", "Morgan Stanley Bank": not a person
        i = 0
        while i < n - 1:
            w = words[i]
            if w in _NOT_NAME:
                i += 1
                continue
            if not _has(w, given) and w not in _COMMON_WORDS:
                # Surname first, as Chinese, Vietnamese, Hungarian names are written:
                # "Zhang Wei", "Nguyễn Văn An".
                if (
                    _has(w, surnames)
                    and _has(words[i + 1], given)
                    and (words[i + 1] not in _COMMON_WORDS | _NOT_NAME)
                ):
                    j = i + 1
                    while j + 1 < n and _has(words[j + 1], known) and words[j + 1] not in _NOT_NAME:
                        j += 1
                    out.append((toks[i][0], toks[j][1], PERSON))
                    i = j + 1
                else:
                    i += 1
                continue
            if not _has(w, given):
                i += 1
                continue
            j = i + 1
            while j + 1 < n and words[j] in _PARTICLES:
                j += 1
            last = words[j]
            surname = _has(last, surnames) and last not in _NOT_NAME
            if surname and w in _COMMON_WORDS:
                # "Mark Ortega" yes; "May Day", "Will Power", "Grace Kelly Award" no.
                surname = len(last) >= 4 and last not in _COMMON_WORDS and last not in given
            if surname:
                # More surnames after it belong to the name: "Luis Miguel Irizarry".
                while j + 1 < n and _has(words[j + 1], known) and words[j + 1] not in _NOT_NAME:
                    j += 1
                first = i
                # Given names before it belong to the name: "Francisco Javier Galindo".
                while (
                    first > 0
                    and _has(words[first - 1], given)
                    and (words[first - 1] not in _NOT_NAME)
                ):
                    first -= 1
                out.append((toks[first][0], toks[j][1], PERSON))
                i = j + 1
            else:
                i += 1


def _find_persons(text: str, out: _Out) -> None:
    gaz = _names.gazetteer()
    given, known = gaz.given, gaz.known
    lowered = text.lower()
    cues = _cues(lowered) if len(lowered) == len(text) else _CUES_ANY_CASE.finditer(text)
    for m in cues:
        span = _on_cue(m, text, given, known)
        if span is not None:
            out.append((span[0], span[1], PERSON))
    if ":" in text or "\n" in text or len(text) <= 60:
        _line_names(text, given, known, out)
    _full_names(text, given, gaz.surnames, known, out)


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------

_Check = Callable[[re.Match[str], str, _Out], None]
_Rules = tuple[tuple[re.Pattern[str], _Check], ...]

# Every numeric rule starts at "+", "(" or a digit run that follows a non-alphanumeric. One
# scan finds those starts; the start's kind and the length of its leading digit run select
# the few rules that can begin there, tried with an anchored `match`: one pass over the text
# instead of one per rule, and most starts (years, prices, quantities) try nothing. (The
# character class comes first so the regex engine can skip ahead; the "not after an
# alphanumeric" test is a lookbehind over the consumed character.)
_NUM_START = re.compile(
    r"[+(](?<![0-9A-Za-z_].)|[0-9](?:(?<![0-9A-Za-z_].)|(?<=[Ss][Ss][Nn].))[0-9]*", re.ASCII
)
_MAX_RUN = 19


def _rules_for(kind: str, run: int, level: int, with_ip: bool) -> _Rules:
    """Rules that can match at a start of `kind` ("+", "(", "00", "0", or "d" for 1-9) whose
    leading digit run is `run` long. `level`: 1 = phones, 2 = + SSNs, 3 = + cards."""
    rules: list[tuple[re.Pattern[str], _Check]] = []
    if kind == "ip":  # only an IPv4 address may start here
        return ((_IPV4, _on_ipv4),) if with_ip and run <= 3 else ()
    if kind in ("+", "("):
        if level >= 1:
            rules.append((_INTL_PHONE, _on_intl_phone))
            if kind == "(":
                rules += [(_US_PHONE, _on_us_phone), (_NATIONAL_PHONE, _on_national_phone)]
        return tuple(rules)
    if level >= 1:
        if kind == "00":
            rules.append((_INTL_PHONE, _on_intl_phone))
        if kind == "d" and run in (1, 3, 10, 11):  # "1-800-...", "415-...", bare NANP
            rules.append((_US_PHONE, _on_us_phone))
        if kind == "d" and run in (2, 5):  # "11 98765-4321", "98765 43210"
            rules.append((_MOBILE, _on_plain_phone))
        if kind == "0" and 2 <= run <= 5:
            rules.append((_NATIONAL_PHONE, _on_national_phone))
        if kind == "0" and 9 <= run <= 11:
            rules.append((_BARE_NATIONAL, _on_plain_phone))
    if level >= 2:
        if run == 3:
            rules.append((_SSN, _on_ssn))
        elif run == 9:
            rules.append((_SSN_BARE, _on_bare_ssn))
    if level >= 3 and kind == "d" and (run == 4 or 13 <= run <= 19):
        rules.append((_CARD, _on_card))
    if with_ip and run <= 3:
        rules.append((_IPV4, _on_ipv4))
    return tuple(rules)


_DISPATCH: dict[tuple[int, bool], dict[tuple[str, int], _Rules]] = {
    (level, with_ip): {
        (kind, run): _rules_for(kind, run, level, with_ip)
        for kind in ("+", "(", "00", "0", "d", "ip")
        for run in range(_MAX_RUN + 1)
    }
    for level in range(4)
    for with_ip in (False, True)
}


def _count_digits(text: str) -> int:
    # Ten C-level scans beat a Python loop or a regex findall.
    count = text.count
    return (
        count("0") + count("1") + count("2") + count("3") + count("4")
        + count("5") + count("6") + count("7") + count("8") + count("9")
    )  # fmt: skip


def _candidates(text: str) -> _Out:
    out: _Out = []
    if "@" in text:
        _find_emails(text, out)
    digits = _count_digits(text)
    if digits >= 2:
        _find_ibans(text, out)  # "CH93 0076 2011 6238 5295 7" can be mostly letters
    if digits >= 4:
        level = 3 if digits >= 13 else 2 if digits >= 9 else 1 if digits >= 8 else 0
        with_ip = text.count(".") >= 3
        if level or with_ip:
            table = _DISPATCH[level, with_ip]
            seen = len(out)
            ends = {c[1] for c in out}
            for start in _NUM_START.finditer(text):
                pos, end = start.span()
                first = text[pos]
                if first in "+(":
                    key = (first, 0)
                elif end - pos > _MAX_RUN:
                    continue
                else:
                    run = end - pos
                    if first != "0":
                        key = ("d", run)
                    else:
                        key = ("00" if text.startswith("00", pos) else "0", run)
                    # Inside a run of space-separated numbers ("9400 1000 0000 0000",
                    # "Reference 4993 0045 7647 7894") nothing starts, unless the number
                    # before was itself found: "+1 415 555 0123 219-09-9999". One digit
                    # before the space is a word's tail: "mc2 4111 ...", "24/7 415-...".
                    if (
                        pos >= 3
                        and text[pos - 1] in " \u00a0"
                        and text[pos - 2] in _DIGIT_CHARS
                        and text[pos - 3] in _DIGIT_CHARS
                    ):
                        if len(out) != seen:
                            ends.update(c[1] for c in out[seen:])
                            seen = len(out)
                        if pos - 1 not in ends:
                            key = ("ip", run)
                for rx, check in table[key]:
                    m = rx.match(text, pos)
                    if m is not None:
                        check(m, text, out)
    if digits >= 1 and text.count(":") >= 2:
        _find_ipv6(text, out)
    return out


def _resolve(cands: _Out) -> list[PiiEntity]:
    if len(cands) > 1:
        cands.sort()
        prev_end = -1
        for s, e, _ in cands:
            if s < prev_end:
                return _resolve_overlaps(cands)
            prev_end = e
    return [PiiEntity(t, s, e) for s, e, t in cands]


def _resolve_overlaps(cands: _Out) -> list[PiiEntity]:
    # Longest first, then the better-validated type; keep what overlaps no keeper. So an
    # email holding digits beats the phone inside it, an IBAN beats the "card" inside it.
    cands.sort(key=lambda c: (c[0] - c[1], _PRIORITY[c[2]], c[0]))
    kept: _Out = []
    for cand in cands:
        s, e, _ = cand
        if all(e <= ks or s >= ke for ks, ke, _ in kept):
            kept.append(cand)
    kept.sort()
    return [PiiEntity(t, s, e) for s, e, t in kept]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def find_pii(text: str, *, persons: bool = True) -> list[PiiEntity]:
    """The PII entities in ``text``: non-overlapping, sorted by start offset. ``persons=False``
    looks for the pattern types only (identifiers, codes)."""
    if not text:
        return []
    out = _candidates(text)
    if persons and len(text) >= 2:
        _find_persons(text, out)
    return _resolve(out)


def _apply(text: str, entities: list[PiiEntity]) -> str:
    parts: list[str] = []
    pos = 0
    for ent in entities:
        parts.append(text[pos : ent.start])
        parts.append(f"<{ent.type}>")
        pos = ent.end
    parts.append(text[pos:])
    return "".join(parts)


def mask_text(text: str, *, persons: bool = True) -> MaskResult:
    """``text`` with every entity replaced by ``<TYPE>``, and the entities (offsets into
    ``text``)."""
    entities = find_pii(text, persons=persons)
    if not entities:
        return MaskResult(text, ())
    return MaskResult(_apply(text, entities), tuple(entities))


class MaskCache:
    """`mask_text` (people included) once per distinct text: support text repeats (templated
    replies, subjects, "Thanks!", tags), and the result is a pure function of the text.

    Bounded by the characters of the texts it holds (`max_chars`; the oldest go first), and
    held in memory only, like the records the texts come from; `clear` drops them all (the
    caller clears it when a run ends). Safe to share between threads."""

    def __init__(self, max_chars: int = 2_000_000) -> None:
        self.max_chars = max_chars
        self._results: OrderedDict[str, MaskResult] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def mask_text(self, text: str) -> MaskResult:
        found = self._results.get(text)
        if found is not None:
            return found
        result = mask_text(text)
        size = len(text)
        if size <= self.max_chars:
            with self._lock:
                if text not in self._results:
                    self._results[text] = result
                    self._chars += size
                    while self._chars > self.max_chars:
                        self._chars -= len(self._results.popitem(last=False)[0])
        return result

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._chars = 0

    def __len__(self) -> int:
        return len(self._results)


class CountingMasker:
    """`mask_text` for row builders: returns the masked text and counts what it replaced, by
    entity type, for audit rows and reports."""

    def __init__(self, counts: Counter[str] | None = None) -> None:
        self.counts: Counter[str] = counts if counts is not None else Counter()

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        result = mask_text(text)
        self.counts.update(e.type for e in result.entities)
        return result.text


def mask(text: str, *, persons: bool = True) -> str:
    """``text`` with every entity replaced by ``<TYPE>``."""
    entities = find_pii(text, persons=persons)
    return _apply(text, entities) if entities else text


def mask_value(obj: Any) -> Any:
    """A copy of ``obj`` with every string inside nested dicts/lists/tuples/sets masked.

    Dict keys are masked too (a key can be an e-mail address); non-string leaves are
    returned as they are.
    """
    if isinstance(obj, str):
        return mask(obj)
    if isinstance(obj, dict):
        return {mask_value(k): mask_value(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_value(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(mask_value(v) for v in obj)
    if isinstance(obj, (set, frozenset)):
        return type(obj)(mask_value(v) for v in obj)
    return obj
