"""HubSpot CRM v3: tasks, and the contact property that carries the "feedback-loop" tag.

- `POST /crm/v3/objects/tasks` with `{"properties": {hs_task_subject, hs_task_body,
  hs_timestamp (required), hs_task_status, hs_task_priority, hs_task_type}, "associations":
  [{"to": {"id"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
  "associationTypeId": 204 (contact) | 192 (company)}]}]}` -> 201 with the task's `id`.
- `POST /crm/v3/objects/tasks/search` with a `filterGroups` filter `EQ` on `hs_task_subject`:
  HubSpot has no idempotency key, so a task whose creation may have happened is looked up by
  its subject (which carries the action's reference) before it is created again.
- `PATCH /crm/v3/objects/contacts/{id}` with `{"properties": {...}}` and
  `GET /crm/v3/objects/contacts/{id}?properties=...` for the tag.

Authentication: a private app's access token as `Authorization: Bearer`. Errors are JSON with
`status`, `message`, `category` (`VALIDATION_ERROR`, `RATE_LIMITS`, ...).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from feedbackloop.config import Settings
from feedbackloop.http import SourceError
from feedbackloop.notify.http import Check, JsonApi, Reply

__all__ = ["HubSpotCrm"]


class HubSpotCrm:
    def __init__(self, base_url: str, token: str, **options: Any) -> None:
        """`options` (on_call, timeout, sleep, max_wait, ...) go to `JsonApi`."""
        headers = {"Authorization": f"Bearer {token}"}
        self.api = JsonApi("hubspot", base_url, headers=headers, **options)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HubSpotCrm:
        settings.require("HubSpot", "hubspot_base_url", "hubspot_token")
        assert settings.hubspot_base_url and settings.hubspot_token
        return cls(settings.hubspot_base_url, settings.hubspot_token.get_secret_value(), **kwargs)

    def close(self) -> None:
        self.api.close()

    def create_task(self, properties: dict[str, Any], associations: list[dict[str, Any]]) -> Reply:
        body: dict[str, Any] = {"properties": properties}
        if associations:
            body["associations"] = associations
        return self.api.request(
            "POST", "/crm/v3/objects/tasks", endpoint="/crm/v3/objects/tasks", json_body=body
        )

    def find_task(self, subject: str) -> tuple[Check, str | None]:
        """Is there a task with exactly this subject? (check, its id)."""
        reply = self.api.request(
            "POST",
            "/crm/v3/objects/tasks/search",
            endpoint="/crm/v3/objects/tasks/search",
            json_body={
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "hs_task_subject", "operator": "EQ", "value": subject}
                        ]
                    }
                ],
                "properties": ["hs_task_subject"],
                "limit": 1,
            },
        )
        if not reply.ok or not isinstance(reply.body, dict):
            return "unknown", None
        results = reply.body.get("results") or []
        if results:
            return "applied", str(results[0].get("id"))
        return "absent", None

    def set_contact_property(self, contact_id: str, name: str, value: str) -> Reply:
        return self.api.request(
            "PATCH",
            f"/crm/v3/objects/contacts/{quote(contact_id, safe='')}",
            endpoint="/crm/v3/objects/contacts/{id}",
            json_body={"properties": {name: value}},
        )

    def contact_has(self, contact_id: str, name: str, value: str) -> Check:
        try:
            body = self.api.get_json(
                f"/crm/v3/objects/contacts/{quote(contact_id, safe='')}", {"properties": name}
            )
        except SourceError:
            return "unknown"
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            return "unknown"
        return "applied" if props.get(name) == value else "absent"
