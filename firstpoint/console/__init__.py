"""The supervisor console: a web application on the FirstPoint API (``/console``).

Build it with :func:`firstpoint.console.app.create_console_app` and mount it with
``init_app(..., subapps={"/console": console})`` (``firstpoint api`` does).
"""
