"""The Data Docs site configuration: GX builds the site, our view classes make it offline.

The file context's `local_site` keeps GX's renderers (expectation and result pages as GX draws
them) and swaps the views: `OfflinePageView` passes each page through
`docs_html.make_offline`, and the index is drawn by `OfflineIndexView` from the links GX's
`DefaultSiteIndexBuilder` collects. The configuration is written to the context's
`great_expectations.yml`, so a checkpoint run by hand (`UpdateDataDocsAction`) or
`context.build_data_docs()` produces the same offline site.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from great_expectations.data_context import AbstractDataContext
from great_expectations.render.view import DefaultJinjaPageView

from expectations.docs_html import SITE_BASE, SITE_NAME, make_offline, render_index

__all__ = [
    "IndexLinks",
    "OfflineIndexView",
    "OfflinePageView",
    "ensure_offline_site",
    "site_config",
]

_VIEW = {"module_name": __name__, "class_name": "OfflinePageView"}
# The newest validation results the site renders and indexes: a build costs the same on the
# hundredth run as on the first (GX keeps every result in its store; older pages stay as built).
VALIDATION_RESULTS_LIMIT = 100


def site_config() -> dict[str, Any]:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": SITE_BASE},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            # Also the validations section's limit (GX passes it down to its default builder).
            "validation_results_limit": VALIDATION_RESULTS_LIMIT,
            "renderer": {"module_name": __name__, "class_name": "IndexLinks"},
            "view": {"module_name": __name__, "class_name": "OfflineIndexView"},
        },
        "site_section_builders": {
            "expectations": {"view": dict(_VIEW)},
            "validations": {"view": dict(_VIEW)},
            "profiling": {"view": dict(_VIEW)},
        },
    }


def ensure_offline_site(context: AbstractDataContext) -> None:
    """Point the context's local site at our views; written only when it differs (the file
    context rewrites its YAML on every change)."""
    wanted = site_config()
    sites = context.list_data_docs_sites()
    current = sites.get(SITE_NAME)
    if current is None:
        context.add_data_docs_site(SITE_NAME, wanted)  # type: ignore[arg-type]
    elif _plain(current) != wanted:
        context.update_data_docs_site(SITE_NAME, wanted)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    """GX hands the config back as its own mapping types: compare as plain dicts."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class OfflinePageView(DefaultJinjaPageView):
    """GX's page view, its output made offline."""

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> str:
        return make_offline(super().render(document, template, **kwargs))


class IndexLinks:
    """Index "renderer": hands the links GX collected to the view unchanged."""

    def __init__(self, **_: Any) -> None:
        pass

    def render(self, index_links_dict: Mapping[str, Any]) -> Mapping[str, Any]:
        return index_links_dict


class OfflineIndexView:
    """The index as plain HTML (GX's own needs bootstrap-table from a CDN to show anything)."""

    def __init__(self, **_: Any) -> None:
        pass

    def render(self, links: Mapping[str, Any], **_: Any) -> str:
        return render_index(links, str(links.get("site_name") or SITE_NAME))
