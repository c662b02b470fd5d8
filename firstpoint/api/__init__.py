"""The FirstPoint JSON API (aiohttp). Build the application with :func:`init_app`."""

from firstpoint.api.app import ENGINE, REPORTING, SETTINGS, init_app

__all__ = ["ENGINE", "REPORTING", "SETTINGS", "init_app"]
