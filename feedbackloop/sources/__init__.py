"""Connectors that collect customer feedback from source systems into `raw`.

`base` holds what every API connector shares (sync types, cursor state in `ops.sync_state`,
the page commit); each source (`zendesk/`, `app_store`, `drops`) maps its records to raw rows.
HTTP (retries, rate limits, API usage accounting) is `feedbackloop.http`.
"""
