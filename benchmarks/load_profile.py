"""Where a full FirstPoint turn spends its time (pyinstrument), in one process.

Loads the trained model into a Rasa ``Agent`` (in-memory tracker store, no event
broker), starts a real action server (``firstpoint.actionserver``), then runs the
load scripts' messages through ``Agent.handle_text`` under pyinstrument. The
action server's share shows up as time waiting on its HTTP call; with
``--actions`` the action server itself is profiled instead (pyinstrument wraps
it in its own process). Prints the call tree above ``--min-percent`` and writes
``benchmarks/out/profile-*.txt``.

    .venv/bin/python benchmarks/load_profile.py [--turns 60] [--actions]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firstpoint.model import ensure_model, rasa_env  # noqa: E402
from firstpoint.runner import action_server_command  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scripts() -> tuple[tuple[str, ...], ...]:
    spec = importlib.util.spec_from_file_location("load_client", ROOT / "benchmarks" /
                                                  "load_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_client"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return tuple(module.FIRSTPOINT_SCRIPTS)


async def _turns(agent: object, turns: int) -> float:
    scripts = _scripts()
    done = 0
    started = time.perf_counter()
    conversation = 0
    while done < turns:
        script = scripts[conversation % len(scripts)]
        for text in script:
            await agent.handle_text(text, sender_id=f"profile-{conversation}")  # type: ignore
            done += 1
        conversation += 1
    return (time.perf_counter() - started) / done


def main(argv: list[str] | None = None) -> int:
    """Profile ``--turns`` turns; print and save the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--min-percent", type=float, default=2.0)
    parser.add_argument("--actions", action="store_true",
                        help="profile the action server process instead")
    parser.add_argument("--unpatched", action="store_true",
                        help="leave out firstpoint.rasa_patches (as before the speed fix)")
    args = parser.parse_args(argv)
    from pyinstrument import Profiler

    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    port = _free_port()
    env = rasa_env()
    env["FIRSTPOINT_ACTION_TOKEN"] = "profile-token"
    cmd = action_server_command(port)
    action_report = out / f"profile-actions-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    if args.actions:
        cmd = [sys.executable, "-m", "pyinstrument", "--show-all", "-o", str(action_report),
               "-m", "firstpoint.actionserver", *cmd[3:]]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        import logging

        from rasa.core.agent import load_agent
        from rasa.utils.common import configure_logging_and_warnings
        from rasa.utils.log_utils import configure_structlog

        if not args.unpatched:  # the running servers get it from endpoints.yml's modules
            from firstpoint.rasa_patches import install

            install()
        # as `rasa run` does: INFO, not the in-process debug default (it costs time)
        configure_logging_and_warnings(logging.INFO)
        configure_structlog(logging.INFO)
        from rasa.core.utils import AvailableEndpoints
        from rasa.utils.endpoints import EndpointConfig

        # as endpoints.yml has it (the digest option does nothing unpatched)
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook",
                                  headers={"Authorization": "Bearer profile-token"},
                                  domain_digest=not args.unpatched)

        async def run() -> tuple[float, float, str]:
            agent = await load_agent(model_path=str(ensure_model()),
                                     endpoints=AvailableEndpoints(action=endpoint))
            await _turns(agent, 12)  # warm-up: lazy loads, first TensorFlow calls
            profiler = Profiler(async_mode="enabled")
            profiler.start()
            per_turn = await _turns(agent, args.turns)
            profiler.stop()
            unprofiled = await _turns(agent, args.turns)
            from pyinstrument.renderers import ConsoleRenderer

            session = profiler.last_session
            tree = ConsoleRenderer(unicode=True, show_all=True, time="percent_of_total",
                                   processor_options={"filter_threshold": args.min_percent
                                                      / 100}).render(session)
            flat = ConsoleRenderer(unicode=True, flat=True, time="percent_of_total",
                                   flat_time="total").render(session)
            return per_turn, unprofiled, "\n".join(flat.splitlines()[:60]) + "\n\n" + tree

        per_turn, unprofiled, text = asyncio.run(run())
    finally:
        server.terminate()
        server.wait(30)
    path = out / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    header = (f"{'UNPATCHED ' if args.unpatched else ''}"
              f"{args.turns} turns, {per_turn * 1000:.1f} ms per turn under the profiler, "
              f"{unprofiled * 1000:.1f} ms without (in-process Agent, in-memory tracker, "
              "real action server; 2 shared cores)\n")
    path.write_text(header + text, encoding="utf-8")
    print(header)
    print(text)
    print(f"written to {path}" + (f" and {action_report}" if args.actions else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
