"""A demo council web page that embeds the FirstPoint widget with one script tag.

Started by ``firstpoint run`` (``firstpoint.runner``) on ``FIRSTPOINT_WEB_PORT``
(8000 by default), on its own origin as a council's site would be::

    python -m connectors.web.demo --port 8000 --rasa-url http://127.0.0.1:5005

``GET /`` is the page, ``GET /privacy`` its privacy notice, ``GET /health``
answers ``{"status": "ok"}``. ``/?server=http://127.0.0.1:PORT`` points the
widget's socket at another local server (the tests use a closed port to show
the "cannot reach the assistant" message); only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from knowledge.loader import COUNCIL_FILE, read_yaml
from knowledge.schema import ContentError

LOCAL_SERVER_RE = re.compile(r"^http://(127\.0\.0\.1|localhost):\d{1,5}$")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - {council}</title>
<style>
  body {{ margin: 0; font-family: arial, sans-serif; color: #0b0c0c; background: #fff;
         font-size: 1.1875rem; line-height: 1.3; }}
  .skip {{ position: absolute; left: -9999px; }}
  .skip:focus {{ left: 1rem; top: 1rem; background: #ffdd00; color: #0b0c0c; padding: .5rem;
                 outline: 3px solid transparent; box-shadow: 0 4px #0b0c0c; }}
  header {{ background: #0b0c0c; color: #fff; padding: .75rem 1rem;
            border-bottom: 10px solid #1d70b8; }}
  header p {{ margin: 0; font-weight: 700; font-size: 1.5rem; }}
  main {{ max-width: 60rem; margin: 0 auto; padding: 1.5rem 1rem 6rem; }}
  h1 {{ font-size: 2.25rem; margin: 0 0 1.25rem; line-height: 1.1; }}
  h2 {{ font-size: 1.5rem; margin: 1.5rem 0 .75rem; }}
  a {{ color: #1d70b8; }}
  a:visited {{ color: #4c2c92; }}
  a:focus {{ outline: 3px solid transparent; color: #0b0c0c; background: #ffdd00;
             box-shadow: 0 -2px #ffdd00, 0 4px #0b0c0c; text-decoration: none; }}
  footer {{ border-top: 1px solid #b1b4b6; padding: 1rem; background: #f3f2f1; }}
  .demo-note {{ border-left: 5px solid #b1b4b6; padding: .5rem 1rem; }}
  @media (max-width: 40em) {{ h1 {{ font-size: 1.5rem; }} body {{ font-size: 1rem; }} }}
</style>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header><p>{council}</p></header>
<main id="main">
{body}
</main>
<footer><p>This is a demonstration page for FirstPoint. The council and its phone numbers are
fictional.</p></footer>
<script src="{widget}" defer data-council="{council}" data-phone="{phone}"
        data-privacy-url="/privacy"{server}></script>
</body>
</html>
"""

HOME = """<h1>Business support</h1>
<p>Business Support helps the council's teams with administration: minute-taking, post,
document management, room bookings and more.</p>
<div class="demo-note"><p>Use the <strong>Ask FirstPoint</strong> button at the bottom of
the page to ask the council's automated assistant a question. If anyone is in danger now,
call 999.</p></div>
<h2>Contact the council</h2>
<p>Phone {phone} or visit <a href="{website}">{website}</a>.</p>
"""

PRIVACY = """<h1>How we use your information</h1>
<p>When you use the automated assistant we keep a record of the conversation so that we can
answer you, pass your message to the right team if you ask us to, and improve our services.
Reports use counts only and never your name or contact details.</p>
<p><a href="/">Back to Business support</a></p>
"""


def council_details(content_dir: Path) -> dict[str, str]:
    """The council's name, phone and website from ``council.yml`` (example values if absent)."""
    details = {"name": "Example Borough Council", "phone": "01632 960000",
               "website": "https://www.example.org"}
    try:
        data = read_yaml(content_dir / COUNCIL_FILE)  # the content reader: duplicate keys refused
    except ContentError:
        return details
    council = (data.get("council") if isinstance(data, dict) else None) or {}
    if isinstance(council, dict):
        details.update({k: str(council[k]) for k in details if council.get(k)})
    return details


async def _no_content() -> web.Response:
    return web.Response(status=204)


def make_app(rasa_url: str, content_dir: Path) -> web.Application:
    """The demo site: the page, its privacy notice and a health route."""
    council = council_details(content_dir)
    widget = f"{rasa_url.rstrip('/')}/webhooks/socketio/widget.js"

    def render(title: str, body: str, server: str | None = None) -> web.Response:
        esc = {k: html.escape(v, quote=True) for k, v in council.items()}
        extra = f' data-server="{html.escape(server, quote=True)}"' if server else ""
        page = PAGE.format(
            title=html.escape(title), council=esc["name"], phone=esc["phone"],
            body=body.format(phone=esc["phone"], website=esc["website"]),
            widget=html.escape(widget, quote=True), server=extra,
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def home(request: web.Request) -> web.Response:
        server = request.query.get("server")
        if server and not LOCAL_SERVER_RE.match(server):
            raise web.HTTPBadRequest(text="server must be http://127.0.0.1:PORT")
        return render("Business support", HOME, server)

    async def privacy(request: web.Request) -> web.Response:
        return render("How we use your information", PRIVACY)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/health", health)
    app.router.add_get("/favicon.ico", lambda request: _no_content())
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the demo page until interrupted."""
    from firstpoint.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=settings.web_port)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rasa-url", default=f"http://127.0.0.1:{settings.rasa_port}")
    args: Any = parser.parse_args(argv)
    web.run_app(make_app(args.rasa_url, settings.content_dir), host=args.host, port=args.port,
                print=None)


if __name__ == "__main__":
    main()
