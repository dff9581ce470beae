"""What several commands share."""

from __future__ import annotations

from rich.table import Table


def cli_actor() -> str:
    """Who the audit log names for a command: `cli:<login name>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def counts_table(counts: dict[str, int]) -> Table:
    """One row of counts under their names, with thousands separators."""
    table = Table(*counts)
    table.add_row(*(f"{n:,}" for n in counts.values()))
    return table
