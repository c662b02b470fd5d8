"""Sub-commands of the ``firstpoint`` CLI.

Each module here exposes ``register(subparsers)`` which adds its sub-command(s)
with ``parser.set_defaults(func=...)``; ``func(args) -> int`` is the exit code.
"""
