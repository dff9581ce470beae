"""The demo, beside the product and never imported by it (only `feedbackloop demo` does, when
it runs): the seeded generator (`generator`, its texts in `templates/*.yaml`), the governed
loader of reference data (`load`), fakes of the outside APIs on 127.0.0.1 (`fake_zendesk`,
`fake_app_store`, `fake_targets`, sharing `fake_http`; served together by `sources`), the
demo-loop flow (`flow`) and its report (`report`). `person_names` is the labelled name set of
the PERSON masker's benchmark."""

from demo.generator import DemoDataset, generate, pii_samples

__all__ = ["DemoDataset", "generate", "pii_samples"]
