"""Load benchmark: FirstPoint against a bare Rasa starter bot, 1 and 2 replicas, one run.

In the same run it:

1. trains Rasa's own starter bot (``rasa init --no-prompt`` in a temporary
   directory: the default pipeline and policies, no custom actions);
2. starts both bots the same way: PostgreSQL tracker store (Rasa's plain
   ``SQL`` store for the bare bot, FirstPoint's encrypted one), Rasa's Redis lock
   store, Rasa's RabbitMQ event broker, two replicas each, and nginx twice per
   bot (one server over replica 1 only, one over both). FirstPoint also runs its
   two action servers, the contact-log consumer, outbox and API
   (``firstpoint.production``);
3. measures, alternating the bots scenario by scenario: one conversation at a
   time (sequential p50), 10 and 50 concurrent conversations with no think time
   (saturated throughput), each with 1 and 2 replicas; and 200 conversations
   with 10 s think time (p95 at a realistic pace) for FirstPoint on 2 replicas;
4. prints one table and writes it as JSON (``benchmarks/out/load-*.json``).

Scripts (``benchmarks/load_client.py``): FirstPoint gets a knowledge answer with
a rating, the handoff form (five turns) and plain questions; the starter bot
greet / mood / goodbye. Latency is client side, through nginx.

The machine has 2 cores shared with other engineers' work: figures are only
comparable within one run; the ratios are the result.

    .venv/bin/python benchmarks/load_benchmark.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firstpoint.model import ensure_model, rasa_command, rasa_env  # noqa: E402
from firstpoint.production import (  # noqa: E402
    ENDPOINTS,
    Plan,
    ensure_databases,
    nginx_binary,
    production_env,
    render_nginx,
    start_production,
)
from firstpoint.runner import Stack, _wait_http, spawn_logged  # noqa: E402
from firstpoint.settings import get_settings  # noqa: E402


def _client() -> Any:
    spec = importlib.util.spec_from_file_location("load_client", ROOT / "benchmarks" /
                                                  "load_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_client"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_starter_bot(directory: Path) -> Path:
    """``rasa init --no-prompt`` (creates and trains the starter bot); returns its model."""
    started = time.monotonic()
    subprocess.run([*rasa_command(), "init", "--no-prompt", "--init-dir", str(directory)],
                   cwd=directory, env=rasa_env(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.STDOUT)
    models = sorted((directory / "models").glob("*.tar.gz"))
    if not models:
        raise RuntimeError("rasa init trained no model")
    print(f"bare starter bot trained in {time.monotonic() - started:.0f}s", flush=True)
    return models[-1]


def bare_endpoints(directory: Path) -> Path:
    """The production endpoints with Rasa's plain SQL tracker store and no action server."""
    text = ENDPOINTS.read_text(encoding="utf-8")
    text = text.replace("type: firstpoint.records.tracker_store.EncryptedSQLTrackerStore",
                        "type: SQL")
    text = text.replace("type: firstpoint.events.pika.OrderedPikaEventBroker", "type: pika")
    text = text.replace("  # a PostgreSQL restart delays a turn by up to this long instead of "
                        "losing it\n  retry_seconds: 30\n", "")
    # the starter bot runs plain Rasa (no firstpoint.rasa_patches) and calls no actions
    text = "\n".join(line for line in text.splitlines()
                     if "domain_digest" not in line and "(firstpoint/rasa_patches.py" not in line
                     and "send the domain's digest" not in line) + "\n"
    path = directory / "endpoints.bare.yml"
    path.write_text(text, encoding="utf-8")
    return path


def start_bare(plan: Plan, model: Path, directory: Path) -> Stack:
    """Two replicas of the starter bot behind nginx (same services as FirstPoint)."""
    settings = plan.settings
    ensure_databases(plan)
    env = production_env(plan, settings.data_key or "", {
        "FIRSTPOINT_ACTION_TOKEN": "unused", "FIRSTPOINT_API_TOKEN": "unused",
        "FIRSTPOINT_RASA_API_TOKEN": "unused"})
    stack = Stack(settings)
    log_dir = Path(settings.var_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = bare_endpoints(directory)
    for i, port in enumerate(plan.replica_ports, start=1):
        spawn_logged(stack, f"bare-{i}", [*rasa_command(), "run", "--model", str(model),
                                          "--endpoints", str(endpoints), "--port", str(port),
                                          "--interface", "127.0.0.1"],
                     cwd=directory, env=env, log_dir=log_dir)
    for port in plan.replica_ports:
        _wait_http(f"http://127.0.0.1:{port}/", stack, 900)  # 2 shared cores: slow loads
    return stack


def extra_nginx(stack: Stack, plan: Plan, replicas: int, name: str) -> int:
    """Another nginx over the first ``replicas`` replicas; returns its public port."""
    sub = replace(plan, public_port=free_port(), action_port=free_port(),
                  replica_ports=plan.replica_ports[:replicas],
                  action_ports=plan.action_ports[:replicas] or [9])
    conf = render_nginx(sub, Path(plan.settings.var_dir) / f"nginx-{name}")
    spawn_logged(stack, f"nginx-{name}", [nginx_binary(), "-c", str(conf), "-p",
                                          str(conf.parent), "-g", "daemon off;"],
                 cwd=ROOT, env=dict(os.environ), log_dir=Path(plan.settings.var_dir) / "logs")
    _wait_http(f"http://127.0.0.1:{sub.public_port}/", stack, 30)
    return sub.public_port


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: The machine's shared services, counted by process name (other engineers use them too).
SERVICES = {"postgres": "postgresql", "redis-server": "redis", "beam.smp": "rabbitmq"}


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, name, CPU seconds) for every process (Linux /proc)."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        # fields[1] = ppid, [11] utime, [12] stime (man 5 proc, counting from state)
        table[int(entry.name)] = (int(fields[1]), name,
                                  (int(fields[11]) + int(fields[12])) / TICK)
    return table


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each process of ``stack`` (with its children, e.g. nginx's
    workers), grouped by kind (``rasa``, ``actions``, ``nginx`` ...), and of the shared
    services (PostgreSQL, Redis, RabbitMQ: every process of theirs on the machine)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)

    def tree(pid: int) -> float:
        total, todo = 0.0, [pid]
        while todo:
            current = todo.pop()
            if current in table:
                total += table[current][2]
            todo.extend(children.get(current, ()))
        return total

    out: dict[str, float] = {}
    for name, proc in stack.processes.items():
        kind = name.split("-")[0] if name.split("-")[-1].isdigit() else name
        kind = "nginx" if kind.startswith("nginx") else kind
        out[kind] = out.get(kind, 0.0) + tree(proc.pid)
    for _pid, (_, pname, cpu) in table.items():
        if pname in SERVICES:
            key = f"shared {SERVICES[pname]}"
            out[key] = out.get(key, 0.0) + cpu
    out["load generator"] = time.process_time()
    return out


def measure(client: Any, port: int, scripts: Any, conversations: int, concurrency: int,
            think: float = 0.0, ramp: float = 0.0, stack: Stack | None = None) -> dict[str, Any]:
    """One load run against nginx on ``port``; with ``stack``, also CPU ms per message by
    process kind (``cpu_ms_per_msg``) and the load average after it."""
    before = cpu_snapshot(stack) if stack is not None else {}
    result = client.run_load_sync(f"http://127.0.0.1:{port}/webhooks/rest/webhook", scripts,
                                  conversations, concurrency=concurrency, think=think,
                                  ramp=ramp, retries=0, timeout=300)
    summary: dict[str, Any] = result.summary()
    if stack is not None and summary["messages"]:
        after = cpu_snapshot(stack)
        summary["cpu_ms_per_msg"] = {
            kind: round((after[kind] - before.get(kind, 0.0)) * 1000 / summary["messages"], 1)
            for kind in after}
    summary["loadavg_1m"] = round(os.getloadavg()[0], 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the table and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages per figure")
    parser.add_argument("--skip-realistic", action="store_true",
                        help="leave out the 200 conversations at 10 s think time")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow threads per replica (both bots)")
    parser.add_argument("--starter", type=Path, default=None,
                        help="directory for the starter bot: reused if it holds a trained "
                             "model, else trained there (default: a temporary one)")
    parser.add_argument("--model", type=Path, default=None,
                        help="FirstPoint model to use (default: train if the inputs changed)")
    args = parser.parse_args(argv)
    client = _client()
    base = get_settings()
    work = Path(tempfile.mkdtemp(prefix="fp-load-"))
    run = uuid.uuid4().hex[:6]
    from cryptography.fernet import Fernet

    stacks: list[Stack] = []
    try:
        starter = args.starter or work / "starter"
        starter.mkdir(parents=True, exist_ok=True)
        trained = sorted((starter / "models").glob("*.tar.gz"))
        bare_model = trained[-1] if trained else train_starter_bot(starter)
        fp_model = args.model or ensure_model(base)

        def settings_for(name: str) -> Any:
            return replace(base, var_dir=work / name / "var", secrets_dir=work / name / "sec",
                           data_key=Fernet.generate_key().decode(), data_key_file=None,
                           rasa_port=free_port(), action_port=free_port(),
                           api_port=free_port(), smtp_port=free_port(),
                           rabbitmq_queue=f"fp_load_{name}_{run}",
                           database_url=f"postgresql://postgres@127.0.0.1:5432/fp_load_{name}_"
                                        f"{run}", action_token=None, api_token=None,
                           rasa_api_token=None)

        fp_plan = Plan.from_settings(settings_for("fp"), replicas=2,
                                     exchange=f"fp-load-fp-{run}", redis_prefix=f"lfp{run}",
                                     rasa_threads=args.threads)
        bare_plan = Plan.from_settings(settings_for("bare"), replicas=2,
                                       exchange=f"fp-load-bare-{run}",
                                       redis_prefix=f"lbare{run}", rasa_threads=args.threads)
        print("starting the bare bot (2 replicas) and FirstPoint (2 replicas + 2 action "
              "servers) ...", flush=True)
        started = time.monotonic()
        bare = start_bare(bare_plan, bare_model, starter)
        stacks.append(bare)
        fp = start_production(fp_plan, model=fp_model, timeout=900)
        stacks.append(fp)
        print(f"both stacks up after {time.monotonic() - started:.0f}s", flush=True)
        ports = {("bare", 1): extra_nginx(bare, bare_plan, 1, "one"),
                 ("bare", 2): extra_nginx(bare, bare_plan, 2, "two"),
                 ("fp", 1): extra_nginx(fp, fp_plan, 1, "one"),
                 ("fp", 2): extra_nginx(fp, fp_plan, 2, "two")}
        scripts = {"bare": client.STARTER_SCRIPTS, "fp": client.FIRSTPOINT_SCRIPTS}
        # warm up each replica (first turns load lazily)
        for (bot, replicas), port in ports.items():
            if replicas == 2:
                measure(client, port, scripts[bot], 6, 6)
        scale = 1 if args.quick else 2
        figures: dict[str, Any] = {}
        plan_runs = [("sequential", 1, 8 * scale, 1), ("saturated_10", 2, 20 * scale, 10),
                     ("saturated_50", 2, 50 * scale, 50)]
        for name, _, conversations, concurrency in plan_runs:
            for replicas in (1, 2):
                for bot in ("bare", "fp"):
                    key = f"{bot}/{name}/{replicas}r"
                    figures[key] = measure(client, ports[(bot, replicas)], scripts[bot],
                                           conversations, concurrency,
                                           stack=bare if bot == "bare" else fp)
                    print(f"{key}: {figures[key]}", flush=True)
        if not args.skip_realistic:
            for bot in ("fp", "bare"):
                key = f"{bot}/realistic_200_think10/2r"
                figures[key] = measure(client, ports[(bot, 2)], scripts[bot], 200, 200,
                                       think=10.0, ramp=10.0,
                                       stack=bare if bot == "bare" else fp)
                print(f"{key}: {figures[key]}", flush=True)
        report = summarise(figures)
        out = ROOT / "benchmarks" / "out"
        out.mkdir(exist_ok=True)
        path = out / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps({"figures": figures, "ratios": report,
                                    "cpu": os.cpu_count(),
                                    "loadavg_at_end": os.getloadavg(),
                                    "git": _git_head(),
                                    "note": "2 cores shared with other engineers' work",
                                    "tf_threads_per_replica": args.threads}, indent=2))
        print(json.dumps(report, indent=2))
        print(f"written to {path}")
    finally:
        for stack in reversed(stacks):
            stack.stop()
        drop = [p for p in (locals().get("fp_plan"), locals().get("bare_plan")) if p]
        for plan in drop:
            try:
                from firstpoint.production import drop_databases

                drop_databases(plan)
            except Exception as exc:  # noqa: BLE001 - cleanup only
                print(f"could not drop {plan.records_db}: {exc}")
            _delete_queue(plan)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _git_head() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


def _delete_queue(plan: Plan) -> None:
    try:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(plan.amqp_url))
        channel = connection.channel()
        channel.queue_delete(plan.queue)
        channel.exchange_delete(plan.exchange)
        connection.close()
    except Exception as exc:  # noqa: BLE001 - cleanup only
        print(f"could not delete queue {plan.queue}: {exc}")


def summarise(figures: dict[str, Any]) -> dict[str, Any]:
    """The ratios the issue asks for."""
    def thr(key: str) -> float:
        return float(figures[key]["throughput_msg_s"])

    report: dict[str, Any] = {}
    for name in ("saturated_10", "saturated_50"):
        for replicas in (1, 2):
            report[f"throughput fp/bare {name} {replicas}r"] = round(
                thr(f"fp/{name}/{replicas}r") / thr(f"bare/{name}/{replicas}r"), 2)
        for bot in ("fp", "bare"):
            report[f"scaling 2r/1r {bot} {name}"] = round(
                thr(f"{bot}/{name}/2r") / thr(f"{bot}/{name}/1r"), 2)
    for replicas in (1, 2):
        report[f"sequential p50 fp/bare {replicas}r"] = round(
            figures[f"fp/sequential/{replicas}r"]["p50_ms"]
            / figures[f"bare/sequential/{replicas}r"]["p50_ms"], 2)
    for key, value in figures.items():
        if "realistic" in key:
            report[f"{key} p95_ms"] = value["p95_ms"]
    return report


if __name__ == "__main__":
    sys.exit(main())
