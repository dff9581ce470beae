"""PII masking: detection per type, look-alikes, offsets, overlaps, JSON, logging, CLI."""

from __future__ import annotations

import io
import itertools
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from feedbackloop.cli.pii import app
from feedbackloop.governance import PiiMaskingFilter, install_pii_logging_filter
from feedbackloop.governance.logging import _MaskingRecordFactory
from nlp.pii import MaskResult, PiiEntity, find_pii, mask, mask_text, mask_value


def found(text: str) -> list[tuple[str, str]]:
    """(type, covered text) of every entity, in order."""
    return [(e.type, text[e.start : e.end]) for e in find_pii(text)]


def assert_only(text: str, kind: str, value: str) -> None:
    """`value` (a substring of `text`) is found exactly, as `kind`, and nothing else is."""
    assert found(text) == [(kind, value)], found(text)


# ------------------------------------------------------------------------------- per type

CARDS = [
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "5555 5555 5555 4444",  # Mastercard 5x
    "2223 0031 2200 3222",  # Mastercard 2-series
    "3782 822463 10005",  # Amex 4-6-5
    "378282246310005",
    "6011 0009 9013 9424",  # Discover
    "3566 0020 2036 0505",  # JCB
    "3056 930902 5904",  # Diners 4-6-4
    "6200000000000005",  # UnionPay
    "4222222222222",  # Visa, 13 digits
]


def test_card_followed_by_a_small_number_keeps_the_card() -> None:
    assert_only("card 4111 1111 1111 1111 12 months ago", "CREDIT_CARD", "4111 1111 1111 1111")


def test_uatp_card_needs_a_card_word() -> None:
    assert found("card number 135412345678911") == [("CREDIT_CARD", "135412345678911")]
    assert found("ref 135412345678911") == []


SSNS = ["219-09-9999", "078-05-1120", "219 09 9999", "536-90-4399"]


@pytest.mark.parametrize("ssn", SSNS)
def test_ssn_formats(ssn: str) -> None:
    assert_only(f"my ssn: {ssn}.", "US_SSN", ssn)
    assert_only(f"Here it is {ssn} thanks", "US_SSN", ssn)  # dashes/spaces need no context


@pytest.mark.parametrize(
    "text, ssn",
    [
        ("SSN 219099999", "219099999"),
        ("social security number: 219099999", "219099999"),
        ("SSN#219099999", "219099999"),
        ("219099999 is my SSN", "219099999"),
        ("SSN123-45-6789", "123-45-6789"),
        ("my ssn is 219.09.9999", "219.09.9999"),
    ],
)
def test_ssn_with_context(text: str, ssn: str) -> None:
    assert_only(text, "US_SSN", ssn)


EMAILS = [
    "john.doe@example.com",
    "j.doe+orders@sub.example.co.uk",
    "JOHN_DOE@EXAMPLE.COM",
    "o'connor-99@mail.ie",
    "jürgen@müller.de",
    "user-4155550123@help.example.org",  # digits of a phone inside an address
]


@pytest.mark.parametrize("email", EMAILS)
def test_email_formats(email: str) -> None:
    assert_only(f"Write to <{email}>.", "EMAIL_ADDRESS", email)
    assert_only(f"mailto:{email}", "EMAIL_ADDRESS", email)


PHONES = [
    "(415) 555-0123",
    "415-555-0123",
    "415.555.0123",
    "415 555 0123",
    "415/555-0123",
    "+1 415 555 0123",
    "+1-415-555-0123",
    "+1 (415) 555-0123",
    "+14155550123",
    "1-800-555-0199",
    "415-555-0123 ext. 204",
    "4155550123",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+49 30 123456",
    "0049 30 1234567",
    "0044 20 7946 0958",
    "+33 1 23 45 67 89",
    "+91 98765 43210",
    "+61 412 345 678",
    "+81 3-1234-5678",
    "+55 11 98765-4321",
    "020 7946 0958",
    "07911 123456",
    "030 1234567",
    "030/1234567",
    "01 23 45 67 89",
    "06.12.34.56.78",
    "(02) 9876 5432",
    "(11) 98765-4321",
    "98765 43210",
]


def test_phone_in_a_uri() -> None:
    assert_only("tel:+14155550123", "PHONE_NUMBER", "+14155550123")


IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "CH93 0076 2011 6238 5295 7",
    "CH56 0483 5012 3456 7800 9",
    "DE 89 3704 0044 0532 0130 00",  # a space after the country code
    "NO93 8601 1117 947",
    "BE68-5390-0754-7034",
]


def test_iban_after_an_unknown_prefix_is_still_found() -> None:
    assert found("XX12 DE89 3704 0044 0532 0130 00") == [
        ("IBAN_CODE", "DE89 3704 0044 0532 0130 00")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 01",  # checksum
        "DE89370400440532013000X",  # runs on
        "DE8937040044053201300",  # one character short for DE
        "ZZ89 3704 0044 0532 0130 00",  # no such country
    ],
)
def test_iban_invalid(text: str) -> None:
    assert all(t != "IBAN_CODE" for t, _ in found(text))


IPS = [
    "10.0.0.1",
    "192.168.1.254",
    "8.8.8.8",
    "255.255.255.255",
    "10.0.0.0/8",
    "2001:db8::1",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "fe80::1ff:fe23:4567:890a",
    "fe80::1%eth0",
    "::1",
    "::ffff:192.0.2.128",
    "2001:db8::/32",
]


def test_ip_with_port_keeps_the_port() -> None:
    assert found("host 192.168.1.254:8080 down") == [("IP_ADDRESS", "192.168.1.254")]


@pytest.mark.parametrize("ip", ["fe80::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"])
def test_ipv6_followed_by_a_colon(ip: str) -> None:
    assert found(f"connection from {ip}: refused") == [("IP_ADDRESS", ip)]


# Per type: its formats and a sentence to find each in.
FORMATS = {
    "CREDIT_CARD": (CARDS, "I paid with {}, please refund."),
    "PHONE_NUMBER": (PHONES, "Call me on {} tomorrow."),
    "IBAN_CODE": (IBANS, "IBAN: {}."),
    "IP_ADDRESS": (IPS, "Login from {}, blocked."),
}


@pytest.mark.parametrize(
    ("kind", "value", "sentence"),
    [
        pytest.param(kind, value, sentence, id=f"{kind}-{value}")
        for kind, (values, sentence) in FORMATS.items()
        for value in values
    ],
)
def test_formats_are_found_exactly(kind: str, value: str, sentence: str) -> None:
    assert_only(sentence.format(value), kind, value)


# ------------------------------------------------------------------- look-alikes, together

# Per type, texts that look like one and are no PII of any type.
NOT_PII = {
    "card": [
        "4111 1111 1111 1112",  # fails Luhn
        "4111111111111112",
        "1234 5678 9012 3456",
        "9111 1111 1111 1111",  # no such issuer (passes Luhn)
        "tracking 6011 0009 9013 9424",  # labelled as something else
    ],
    "ssn": [
        "219099999",  # bare 9 digits without SSN context
        "ticket 219099999 closed",
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "912-12-3456",  # area 9xx
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "release 219.09.9999",  # dotted without context
        "part no. 123-45-6789",
    ],
    "email": [
        "logo@2x.png",
        "react@18.2.0",
        "@john said hi",
        "user@localhost",
        "a @ b.com",
    ],
    "phone": [
        "order 4155550123",
        "Order number 2345678901",
        "ticket #4155550123",
        "#1029384",
        "MA 02139-4307",  # ZIP+4 with a leading 0
        "94105-1234",
        "FedEx 0921 8821 5389",
        "Reference 4993 0045 7647 7894",  # "0045 ..." inside a longer number
        "ts 2024031512",  # YYYYMMDDHH
        "+30%",
        "SKU 100-200-3000",
        "ISBN 978-0-306-40615-7",
        "Amazon order 112-3456789-1234567",
        "1Z 999 AA1 01 2345 6784",
    ],
    "ip": [
        "10.0.0.256",
        "1.2.3.4.5",
        "010.001.002.003",
        "v10.0.0.1",
        "build 10.0.0.1",
        "version 4.2.1.0",
        "see section 2.3.1.4",
        "14:30:00",
        "00:1A:2B:3C:4D:5E",
        "std::vector<int>",
        "dead::beef",
    ],
}


@pytest.mark.parametrize(
    "text",
    [pytest.param(text, id=f"{kind}-{text}") for kind, texts in NOT_PII.items() for text in texts],
)
def test_lookalikes_of_each_type_are_not_found(text: str) -> None:
    assert found(text) == []


LOOKALIKES = [
    "order #A-1029384",
    "#1029384",
    "2024-03-15",
    "03/15/2024",
    "15.03.2024",
    "$1,299.00",
    "€49.99",
    "1.299,00 €",
    "1Z999AA10123456784",
    "9400 1000 0000 0000 0000 00",
    "v2.14.3",
    "10.0.19045.2965",
    "version 10.0.19045.2965",
    "invoice INV-2024-00123",
    "Invoice 20240315-0042",
    "4111 1111 1111 1112",
    "at 14:30",
    "2:45 PM",
    "12.5%",
    "99.9% uptime",
    "Chrome 122.0.6261.112",
    "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
    "rv:1.9.6.20",
    "EAN 5801004021412",  # passes Luhn, Maestro-like prefix: a barcode without a card word
    "1710500000",  # unix time
    "2024-03-15T14:30:00Z",
    "qty 12 x 3",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_no_false_masks_on_lookalikes(text: str) -> None:
    sentence = f"Hi, about {text} - any update?"
    assert mask(sentence) == sentence


def test_bare_ip_is_an_ip_but_a_version_is_not() -> None:
    assert found("server 10.0.0.1 is down") == [("IP_ADDRESS", "10.0.0.1")]
    assert found("Windows 10.0.19045.2965") == []


# ---------------------------------------------------------------- offsets, overlaps, API


def test_offsets_point_into_the_input_and_mask_keeps_the_rest() -> None:
    text = "Mail jo@x.io, card 4111 1111 1111 1111, SSN 219-09-9999, call +44 20 7946 0958!"
    result = mask_text(text)
    assert isinstance(result, MaskResult)
    assert [(e.type, text[e.start : e.end]) for e in result.entities] == [
        ("EMAIL_ADDRESS", "jo@x.io"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("US_SSN", "219-09-9999"),
        ("PHONE_NUMBER", "+44 20 7946 0958"),
    ]
    assert result.text == (
        "Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>, SSN <US_SSN>, call <PHONE_NUMBER>!"
    )
    assert mask(text) == result.text


def test_entities_are_frozen_dataclasses() -> None:
    ent = find_pii("ip 10.0.0.1")[0]
    assert ent == PiiEntity("IP_ADDRESS", 3, 11)
    with pytest.raises(AttributeError):
        ent.start = 0  # type: ignore[misc]


def test_no_pii_returns_the_same_text() -> None:
    assert mask_text("nothing to see") == MaskResult("nothing to see", ())
    assert find_pii("") == []


def test_email_with_digits_is_one_email_not_a_phone() -> None:
    assert_only("from 4155550123@txt.example.com", "EMAIL_ADDRESS", "4155550123@txt.example.com")


def test_iban_does_not_also_yield_a_card_or_phone() -> None:
    text = "PL61 1090 1014 0000 0712 1981 2874 and NL91 ABNA 0417 1643 00"
    assert [t for t, _ in found(text)] == ["IBAN_CODE", "IBAN_CODE"]


def test_ipv4_mapped_ipv6_is_one_address() -> None:
    assert_only("peer ::ffff:10.1.2.3 reset", "IP_ADDRESS", "::ffff:10.1.2.3")


def test_entities_never_overlap() -> None:
    text = "x 4155550123@a.io 10.0.0.1 DE89370400440532013000 +1 415 555 0123 219-09-9999"
    ents = find_pii(text)
    assert len(ents) == 5
    for a, b in itertools.pairwise(ents):
        assert a.end <= b.start


def test_mask_value_masks_nested_json_without_touching_the_input() -> None:
    payload = {
        "id": 7,
        "requester": {"email": "ann@example.com", "phones": ["415-555-0123", None]},
        "comments": [{"body": "card 4111111111111111"}, ("ip", "10.0.0.1")],
        "ann@example.com": True,
        "score": 0.5,
    }
    masked = mask_value(payload)
    assert masked == {
        "id": 7,
        "requester": {"email": "<EMAIL_ADDRESS>", "phones": ["<PHONE_NUMBER>", None]},
        "comments": [{"body": "card <CREDIT_CARD>"}, ("ip", "<IP_ADDRESS>")],
        "<EMAIL_ADDRESS>": True,
        "score": 0.5,
    }
    assert payload["requester"]["email"] == "ann@example.com"  # type: ignore[index]
    assert "ann@example.com" not in json.dumps(masked)


# ------------------------------------------------------------------------------- logging


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Undo what install_pii_logging_filter does to process-wide logging state."""
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    yield
    logging.setLogRecordFactory(factory)
    for handler in root.handlers:
        for flt in list(handler.filters):
            if isinstance(flt, PiiMaskingFilter):
                handler.removeFilter(flt)


def _logger_with_stream(name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream, handler


def test_filter_masks_message_and_args(clean_logging: None) -> None:
    logger, stream, _ = _logger_with_stream("test_pii.args")
    install_pii_logging_filter(logger)
    logger.info("customer %s paid with %s", "ann@example.com", "4111 1111 1111 1111")
    logger.warning("ssn %(ssn)s", {"ssn": "219-09-9999"})
    out = stream.getvalue()
    assert "customer <EMAIL_ADDRESS> paid with <CREDIT_CARD>" in out
    assert "ssn <US_SSN>" in out
    assert "4111" not in out and "219-09" not in out and "ann@" not in out


def test_exception_message_and_traceback_are_masked(clean_logging: None) -> None:
    logger, stream, _ = _logger_with_stream("test_pii.exc")
    install_pii_logging_filter(logger)
    try:
        raise ValueError("rejected card 4111-1111-1111-1111 for 219-09-9999")
    except ValueError:
        logger.exception("payment failed")
    out = stream.getvalue()
    assert "payment failed" in out
    assert "Traceback" in out and "ValueError: rejected card <CREDIT_CARD> for <US_SSN>" in out
    assert "4111" not in out and "219-09-9999" not in out


def test_filter_alone_masks_records_that_bypass_the_factory() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PiiMaskingFilter())
    try:
        raise RuntimeError("db said: ssn=219-09-9999")
    except RuntimeError:
        exc_info = sys.exc_info()
    # A record built directly, as a socket/queue listener does: no factory involved.
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "lookup %s", ("ann@example.com",), exc_info
    )
    handler.handle(record)
    out = stream.getvalue()
    assert "lookup <EMAIL_ADDRESS>" in out and "ssn=<US_SSN>" in out
    assert "ann@example.com" not in out and "219-09-9999" not in out


def test_record_factory_masks_loggers_without_the_filter(clean_logging: None) -> None:
    install_pii_logging_filter()
    # A logger and handler created afterwards, not attached to root: only the factory sees it.
    logger, stream, handler = _logger_with_stream("test_pii.late")
    assert not any(isinstance(f, PiiMaskingFilter) for f in handler.filters)
    logger.error("call me at %s", "+44 20 7946 0958")
    assert stream.getvalue().strip() == "ERROR call me at <PHONE_NUMBER>"


def test_install_is_idempotent(clean_logging: None) -> None:
    logger, _, handler = _logger_with_stream("test_pii.idem")
    first = install_pii_logging_filter(logger)
    second = install_pii_logging_filter(logger)
    assert first is second
    assert sum(isinstance(f, PiiMaskingFilter) for f in handler.filters) == 1
    factory = logging.getLogRecordFactory()
    assert isinstance(factory, _MaskingRecordFactory)
    assert not isinstance(factory.previous, _MaskingRecordFactory)


def test_root_handlers_get_the_filter(clean_logging: None) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        install_pii_logging_filter()
        assert any(isinstance(f, PiiMaskingFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)


# ----------------------------------------------------------------------------------- CLI


def test_cli_round_trip_keeps_ids_and_input_offsets() -> None:
    rows = [
        {"id": "t-1", "text": "Call me at (415) 555-0123 or mail ann@example.com"},
        {"id": 2, "text": "nothing here"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    result = CliRunner().invoke(app, ["mask"], input=stdin)
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["t-1", 2]
    assert out[0]["text"] == "Call me at <PHONE_NUMBER> or mail <EMAIL_ADDRESS>"
    src = rows[0]["text"]
    assert [(e["type"], src[e["start"] : e["end"]]) for e in out[0]["entities"]] == [
        ("PHONE_NUMBER", "(415) 555-0123"),
        ("EMAIL_ADDRESS", "ann@example.com"),
    ]
    assert out[1] == {"id": 2, "text": "nothing here", "entities": []}


def test_cli_reports_bad_lines_by_number_without_content_and_exits_2() -> None:
    stdin = (
        json.dumps({"id": 1, "text": "ip 10.0.0.1"})
        + "\n{broken json with ssn 219-09-9999\n"
        + '["a list", "ann@example.com"]\n'
        + json.dumps({"id": 4, "body": "no text key 4111111111111111"})
        + "\n\n"
        + json.dumps({"id": 6, "text": "SSN 219-09-9999"})
        + "\n"
    )
    result = CliRunner().invoke(app, ["mask"], input=stdin)
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["id"], o["text"]) for o in out] == [(1, "ip <IP_ADDRESS>"), (6, "SSN <US_SSN>")]
    err = result.stderr
    assert "line 2:" in err and "line 3:" in err and "line 4:" in err
    assert "line 5" not in err  # blank lines are not errors
    assert "3 malformed line(s)" in err
    for secret in ("219-09-9999", "ann@example.com", "4111111111111111"):
        assert secret not in err


def test_cli_rejects_invalid_utf8_by_line_number() -> None:
    stdin = b'{"id": 1, "text": "\xff\xfe"}\n' + json.dumps({"id": 2, "text": "ok"}).encode()
    result = CliRunner().invoke(app, ["mask"], input=stdin)
    assert result.exit_code == 2
    assert "line 1: not valid UTF-8" in result.stderr
    assert json.loads(result.stdout) == {"id": 2, "text": "ok", "entities": []}
