"""The residents' web widget: the socket.io channel (``channel``), its static files
(``static/``), the vendored socket.io browser client (``vendor/``, from
scripts/install.sh) and the demo council page (``demo``)."""
