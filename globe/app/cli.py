"""``globe-app``: the command that serves the page, against a running server or one it starts.

    globe-app --url http://127.0.0.1:8000/v1 [--model NAME] [--rm-url URL] [--host 127.0.0.1] [--port 7860]
    globe-app --serve tiny            # `make app`: a tiny random model via `swift deploy` (CPU, no download)
    globe-app --serve /path/to/ckpt   # `GLOBE_MODEL=/path make app`: serve_policy.sh on that checkpoint

With ``--serve`` the app starts the model server itself, in its own process group, and stops
it on exit, Ctrl-C or ``kill`` (the server must never outlive the page that started it).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


log = logging.getLogger("globe.app")

#: Environment variable for the model server's API key (never a flag: flags show up in `ps`).
API_KEY_ENV = "GLOBE_APP_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    from globe.data.images import DEFAULT_MAX_PIXELS

    parser = argparse.ArgumentParser(
        prog="globe-app", description="Try a geolocation model on your own photo, in the browser (offline map).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the model server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
                                     "(vLLM, `swift deploy`, serve_policy.sh)")
    where.add_argument("--serve", metavar="MODEL",
                       help="start a server first: 'tiny' (a tiny random Qwen2.5-VL via `swift deploy`, CPU) or a "
                            "checkpoint path (served by serve_policy.sh; SERVE_BACKEND etc. from the environment)")
    parser.add_argument("--model", help="model name to request (default: the server's first model)")
    parser.add_argument("--rm-url", help="a served reward model's base URL: shows the locatability P(yes)")
    parser.add_argument("--rm-model", help="the reward model's name (default: as the locatability reward picks it)")
    parser.add_argument("--host", default="127.0.0.1", help="address the page listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port of the page (default 7860)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="requests handled at once; more users wait in Gradio's queue (default 8)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the model server (default 120)")
    parser.add_argument("--max-tokens", type=int, default=1024, help="tokens a sample may generate (default 1024)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="photos with more pixels are downscaled to this many before sending, as globe-eval "
                             f"does (default: GLOBE_MAX_IMAGE_PIXELS, else {DEFAULT_MAX_PIXELS}; 0 sends photos as they are)")
    parser.add_argument("--samples-dir", type=Path, default=None,
                        help="the bundled sample folder offered on the page (default: data/sample of this checkout)")
    parser.add_argument("--no-samples", action="store_true", help="offer no sample images")
    return parser


@contextlib.contextmanager
def served_model(model: str, log_dir: Path) -> Iterator[str]:
    """Start a model server for ``model`` ('tiny' or a checkpoint path); yield its /v1 URL; stop it after."""
    from globe import REPO_ROOT
    from globe.swift_run import deploy_tiny_model, free_port, stop_process, wait_for_server

    log_dir.mkdir(parents=True, exist_ok=True)
    if model == "tiny":
        from globe.tiny_model import tiny_model_dir

        print("globe-app: starting `swift deploy` of the tiny random model (its answers are noise: it proves the "
              f"wiring); log: {log_dir / 'server.log'}", flush=True)
        with deploy_tiny_model(tiny_model_dir(), log_path=log_dir / "server.log", timeout=600,
                               extra_args=["--max_new_tokens", "256"]) as url:
            yield url
        return
    port = free_port()
    env = {**os.environ, "MODEL": model, "HOST": "127.0.0.1", "PORT": str(port)}
    script = REPO_ROOT / "examples" / "train" / "grpo" / "globe" / "serve_policy.sh"
    print(f"globe-app: starting {script.name} for {model} on port {port}; log: {log_dir / 'server.log'}", flush=True)
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)  # no Ctrl-C between Popen and the try
    with open(log_dir / "server.log", "w") as server_log:
        try:
            proc = subprocess.Popen(["bash", str(script)], env=env, stdout=server_log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        try:
            url = f"http://127.0.0.1:{port}/v1"
            wait_for_server(url, proc, timeout=1800)
            yield url
        finally:
            stop_process(proc)


def run_app(args: argparse.Namespace, url: str) -> None:
    """Build the locator and the page for ``url`` and serve until Ctrl-C."""
    from globe.app.locate import Locator

    locator = Locator(url, model=args.model, api_key=os.environ.get(API_KEY_ENV) or None, timeout=args.timeout,
                      max_pixels=args.max_pixels, rm_url=args.rm_url, rm_model=args.rm_model, max_tokens=args.max_tokens)
    from globe.app.samples import default_sample_root, load_samples, truths_by_digest
    from globe.app.ui import build_app, launch  # Gradio: seconds to import, so after the checks above
    from globe.app import worldmap
    from globe.geo import warm_up

    warm_up()  # the gazetteer loads now, not during the first user's request
    worldmap.warm_up()
    samples = [] if args.no_samples else load_samples(args.samples_dir or default_sample_root())
    locator.sample_truths = truths_by_digest(samples)
    app = build_app(locator, samples, concurrency=args.concurrency)
    print(f"globe-app: model server {url}; open http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    launch(app, args.host, args.port, block=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own health checks, one line each
    for name, value, low in (("--concurrency", args.concurrency, 1), ("--max-tokens", args.max_tokens, 1),
                             ("--max-pixels", 0 if args.max_pixels is None else args.max_pixels, 0)):
        if value < low:
            print(f"globe-app: {name} must be >= {low}, got {value}", file=sys.stderr)
            return 2
    # `kill` becomes KeyboardInterrupt too, so a server this command started is always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.url:
            run_app(args, args.url)
        else:
            with served_model(args.serve, Path(os.environ.get("GLOBE_APP_LOG_DIR", "app_out"))) as url:
                run_app(args, url)
    except KeyboardInterrupt:
        print("\nglobe-app: stopped", file=sys.stderr)
        return 130
    except ValueError as exc:  # a URL no client can use
        print(f"globe-app: {exc}", file=sys.stderr)
        return 2
    return 0
