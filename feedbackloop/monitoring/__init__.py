"""Monitoring: flow-run records and failure alerts (`runs`), health pings with
alert-twice / recover logic (`health`)."""
