"""The demo's customers answer the survey links of the replies they got, through the real
form: `feedbackloop web`'s app under uvicorn on 127.0.0.1, a GET of each link that is opened
(the open is recorded) and a POST of the form for each answer, exactly as a browser without
JavaScript sends it; a few answers come without a link and one with a forged token.

Which links are opened and answered, and the answers, follow the seed (demo/templates/
survey_answers.yaml holds the texts), so `mart_survey_funnel` has the same rows every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
import yaml
from sqlalchemy import Engine, text

from feedbackloop.config import Settings

OPEN_SHARE = 0.6  # of the links sent, opened
ANSWER_SHARE = 0.6  # of the links opened, answered
AGAIN_SHARE = 0.15  # of the answers, answered a second time (it replaces the first)
_LINK = re.compile(r"/feedback\?t=([A-Za-z0-9_\-.]+)")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class SurveyDemoReport:
    links_sent: int = 0
    opened: int = 0
    answered: int = 0
    answered_again: int = 0
    unlinked: int = 0
    refused: int = 0  # answers the form did not take (should stay 0)


def _answers() -> dict[str, Any]:
    raw = resources.files("demo").joinpath("templates", "survey_answers.yaml").read_text("utf-8")
    return yaml.safe_load(raw)


@contextmanager
def form_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The web app (webhooks, dashboard, form) on a free port of 127.0.0.1, in a thread."""
    from feedbackloop.web import create_app
    from feedbackloop.web.server import serve_app

    with serve_app(create_app(settings, engine=engine), name="demo-form") as url:
        yield url


def sent_survey_tokens(engine: Engine) -> list[str]:
    """The survey tokens of the replies the fakes received, read from the sent reply text as a
    customer reads the link in it, in action order."""
    with engine.connect() as conn:
        bodies = conn.execute(
            text(
                "SELECT a.payload ->> 'body' FROM ops.actions a "
                "JOIN ops.survey_links l ON l.action_id = a.id "
                "WHERE a.status = 'sent' ORDER BY a.id"
            )
        ).scalars()
        return [m.group(1) for body in bodies if body and (m := _LINK.search(body))]


def _post(client: httpx.Client, base: str, fields: dict[str, str]) -> bool:
    params = {"t": fields["t"]} if "t" in fields else None
    page = client.get(f"{base}/feedback", params=params)
    token = _CSRF.search(page.text)
    if page.status_code != 200 or token is None:
        return False
    answer = client.post(f"{base}/feedback", data={"csrf_token": token.group(1), **fields})
    return answer.status_code == 200 and 'id="thanks"' in answer.text


def answer_surveys(settings: Settings, engine: Engine, seed: int) -> SurveyDemoReport:
    rng = random.Random(seed)
    texts = _answers()
    report = SurveyDemoReport()
    tokens = sent_survey_tokens(engine)
    report.links_sent = len(tokens)
    # The demo is one client: the per-client limit would stop it after a few answers.
    demo_settings = settings.model_copy(update={"feedback_form_rate_limit": 100_000})
    with form_server(demo_settings, engine) as base, httpx.Client(timeout=120) as client:
        for token in tokens:
            if rng.random() >= OPEN_SHARE:
                continue
            client.get(f"{base}/feedback", params={"t": token}).raise_for_status()
            report.opened += 1
            if rng.random() >= ANSWER_SHARE:
                continue
            times = 2 if rng.random() < AGAIN_SHARE else 1
            for n in range(times):
                rating = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
                fields = {
                    "t": token,
                    "rating": str(rating),
                    "text": rng.choice(texts["answers"][rating]),
                    "consent": "yes" if rng.random() < 0.8 else "",
                }
                if _post(client, base, fields):
                    report.answered += n == 0
                    report.answered_again += n == 1
                else:
                    report.refused += 1
        for rating, words in texts["unlinked"]:
            if _post(client, base, {"rating": str(rating), "text": words, "consent": "yes"}):
                report.unlinked += 1
            else:
                report.refused += 1
        # A made-up token: the form still takes the answer, unlinked.
        if _post(client, base, {"t": "bm90LWEtdG9rZW4.1999999999.forged", "rating": "3"}):
            report.unlinked += 1
        else:
            report.refused += 1
    return report
