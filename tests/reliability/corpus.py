"""The bad-input corpus: texts and values that break naive pipelines."""

from __future__ import annotations

NASTY_TEXTS: dict[str, str] = {
    "empty_after_strip": "   ",
    "nul_bytes": "before\x00after\x00",
    "one_megabyte": "refund " * (1024 * 1024 // 7),
    "html_and_script": "<p>Hi</p><script>alert('x')</script><img src=x onerror=alert(1)>",
    "emoji_only": "😡😡😡🔥💸",
    "right_to_left": "مرحبا، لم أتلق استرداد أموالي بعد",
    "cjk": "我的订单还没有到，已经等了三个星期",
    "sql_injection": "'; DROP TABLE raw.notes; --",
    "template_injection": "{{ 7*7 }} ${jndi:ldap://x/a} {% raw %}",
    "zero_width_and_bidi": "pay\u200bment\u202e fails",
    "lone_surrogate": "bad \ud800 escape",  # json.dumps writes it as a \ud800 escape
    "control_chars": "tab\tbell\x07escape\x1b[31mred",
    "very_long_word": "a" * 100_000,
}
