"""The feedback dashboard: server-rendered pages in the webhook app (`feedbackloop web`).

Marts are read as `bi_reader`; answers to "why did it do that" come from the stored
explanations, delivery attempts and audit rows; FAQ decisions and review ratings go through
`feedbackloop.faq` and `feedbackloop.review`. Charts are SVG drawn on the server.
"""

from __future__ import annotations

from feedbackloop.web.dashboard.pages import Dashboard, mount_dashboard

__all__ = ["Dashboard", "mount_dashboard"]
