"""Connectors that collect customer feedback from source systems into `raw`.

`http` is the shared HTTP client (retries, rate limits, API usage accounting); each source
module (`zendesk`, ...) maps its API's records to raw rows and keeps its cursor state in
`ops.sync_state`.
"""
