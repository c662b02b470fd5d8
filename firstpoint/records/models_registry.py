"""Imports every module that declares tables, so Base.metadata is complete.

Add a module here when it declares SQLAlchemy models.
"""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "firstpoint.records.contacts.models",
    "firstpoint.records.handoffs.models",
    "firstpoint.notify.models",
    "firstpoint.console.models",
)

for _name in MODEL_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a module not written yet in this checkout
        if exc.name != _name:
            raise
