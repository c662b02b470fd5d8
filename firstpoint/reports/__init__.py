"""Channel-shift reports over the contact log.

* :mod:`~firstpoint.reports.queries` — ``build_report`` and the per-section queries
  (all aggregation in SQL).
* :mod:`~firstpoint.reports.value` — the value of the shift from unit costs.
* :mod:`~firstpoint.reports.render` — table, tidy CSV and JSON output.
* :mod:`~firstpoint.reports.params` — parameter parsing shared by the CLI and API.
* :mod:`~firstpoint.reports.model` — the result dataclasses and the definitions.
"""
