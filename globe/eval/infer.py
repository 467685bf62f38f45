"""``globe-infer IMAGE --url URL``: ask a served model where one photo was taken, streaming the answer.

The released README's inference snippet as a command: the answer streams to stdout as it is
generated, then the parsed country/city, the resolved place and the timings (time to first
token, total, tokens per second as the server counts chunks) go to stderr. GLOBE's defaults
(greedy, 1024 tokens, no system prompt, the image within the pixel budget) differ from the
snippet's; ``--released-settings`` sends the snippet's request: system prompt "You are a helpful
assistant.", temperature 0.6, 512 tokens, the file's bytes unchanged as ``data:image;base64``,
60 s, one non-streamed request with the OpenAI client's 2 retries (explicit options override).

A file that is not a decodable image stops the command before any request (an LLM server
answers a text file sent as an image with a confident guess). A server that ignores
``stream`` and answers with one JSON body is read as one chunk; the answer is bounded by
``--timeout`` per chunk, ``--deadline`` overall and the client's response size limit.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence, TextIO

from globe import aio


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="globe-infer", description="Geolocate one image with a served model.")
    parser.add_argument("image", help="image file (JPEG/PNG/...)")
    parser.add_argument("--url", default=os.environ.get("GLOBE_EVAL_URL"),
                        help="server base URL ending in /v1 (env GLOBE_EVAL_URL)")
    parser.add_argument("--model", default=None, help="model name (default: the server's first model)")
    parser.add_argument("--api-key", "--api_key", dest="api_key", default=None,
                        help="API key (default: env GLOBE_API_KEY, then OPENAI_API_KEY)")
    parser.add_argument("--use-cot", "--use_cot", dest="use_cot", action=argparse.BooleanOptionalAction, default=True,
                        help="reasoning prompt (default) or --no-use-cot for a direct answer")
    parser.add_argument("--temperature", type=float, default=None, help="default 0 (released settings: 0.6)")
    parser.add_argument("--max-tokens", "--max_tokens", dest="max_tokens", type=int, default=None,
                        help="default 1024 (released settings: 512)")
    parser.add_argument("--system-prompt", "--system_prompt", dest="system_prompt", default=None,
                        help="optional system message (default none; released settings: \"You are a helpful assistant.\")")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds to wait for each chunk (default 120; released settings: 60)")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole answer")
    parser.add_argument("--stream", dest="stream", action="store_true", default=None,
                        help="stream the answer (the default, except with --released-settings)")
    parser.add_argument("--no-stream", "--no_stream", dest="stream", action="store_false",
                        help="one non-streamed request instead (no time to first token)")
    parser.add_argument("--released-settings", "--released_settings", dest="released_settings", action="store_true",
                        help="the released README's inference snippet: system prompt \"You are a helpful assistant.\", "
                             "temperature 0.6, 512 tokens, the file's bytes unchanged, 60 s, one non-streamed request "
                             "with 2 retries (explicit options override)")
    return parser


#: The released README's inference snippet (``infer_image``): what ``--released-settings`` sends.
RELEASED_INFER_SETTINGS = {"system_prompt": "You are a helpful assistant.", "temperature": 0.6, "max_tokens": 512,
                           "timeout": 60.0, "stream": False}
#: Without ``--released-settings``.
DEFAULT_INFER_SETTINGS = {"system_prompt": None, "temperature": 0.0, "max_tokens": 1024, "timeout": 120.0,
                          "stream": True}
#: The OpenAI client's default retries, which the released snippet kept (a non-streamed request here).
RELEASED_RETRIES = 2


def apply_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset from the released snippet's values or GLOBE's defaults."""
    defaults = RELEASED_INFER_SETTINGS if args.released_settings else DEFAULT_INFER_SETTINGS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


async def infer(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from globe.chat_client import ChatClient, ServerUnavailable, user_message
    from globe.prompts import geo_prompt, released_eval_prompt

    api_key = args.api_key or os.environ.get("GLOBE_API_KEY") or os.environ.get("OPENAI_API_KEY")
    from globe.data.images import ImageError, released_image_url, request_image

    try:  # the one bounded reader eval uses: size cap, regular files only, downscaled to the pixel budget
        image = released_image_url(args.image) if args.released_settings else request_image(args.image)
    except (OSError, ImageError) as exc:
        print(f"error: cannot read {args.image}: {exc}", file=err)
        return 2
    # The snippet's CoT prompt is the training prompt; it had no direct one: the released eval's.
    prompt = released_eval_prompt(False) if args.released_settings and not args.use_cot else geo_prompt(args.use_cot)
    messages = ([{"role": "system", "content": args.system_prompt}] if args.system_prompt else []) + [
        user_message(prompt, image)]
    retries = RELEASED_RETRIES if args.released_settings and not args.stream else 0
    async with ChatClient(args.url, api_key=api_key, model=args.model, timeout=args.timeout, retries=retries,
                          concurrency=1, deadline=args.deadline, backoff=0.5) as client:
        try:
            model = await client.resolve_model()
        except ServerUnavailable as exc:
            print(f"error: {exc}", file=err)
            return 2
        started = time.perf_counter()
        first_token_s: float | None = None
        pieces: list[str] = []
        if args.stream:
            try:
                async for piece in client.stream(messages, max_tokens=args.max_tokens, temperature=args.temperature):
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                    pieces.append(piece)
                    out.write(piece)
                    out.flush()
            except Exception as exc:  # noqa: BLE001 - one interactive request: report and exit
                print(f"\nerror: {type(exc).__name__}: {exc}", file=err)
                return 1
        else:
            result = await client.chat(messages, max_tokens=args.max_tokens, temperature=args.temperature)
            if not result.ok:
                print(f"error: {result.status}: {result.error}", file=err)
                return 1
            pieces.append(result.text or "")
            out.write(result.text or "")
        total_s = time.perf_counter() - started
    out.write("\n")
    out.flush()
    report_answer("".join(pieces), model, first_token_s, total_s, len(pieces), err)
    return 0


def report_answer(text: str, model: str, first_token_s: float | None, total_s: float, n_chunks: int, err: TextIO) -> None:
    """Parsed answer, resolved place and timings, on stderr so stdout stays the model's text."""
    from globe.geo import country_name
    from globe.scoring import score_answer

    parsed = score_answer(text, lenient=True)  # what globe-eval would place for this answer
    place = parsed.place
    print(f"model: {model}", file=err)
    print(f"answer: country={parsed.country!r} city={parsed.city!r}", file=err)
    if place is not None:
        print(f"place: {place.name}, {country_name(place.country_code) or place.country_code} "
              f"({place.lat:.4f}, {place.lon:.4f}; {place.level} level)", file=err)
    else:
        print("place: could not be resolved", file=err)
    ttft = f"{first_token_s:.3f} s" if first_token_s is not None else "n/a"
    per_chunk = f", {1000 * (total_s - (first_token_s or 0)) / max(1, n_chunks - 1):.1f} ms/chunk after the first" \
        if first_token_s is not None and n_chunks > 1 else ""
    print(f"TTFT: {ttft}  total: {total_s:.3f} s  chunks: {n_chunks}{per_chunk}", file=err)


def main(argv: Sequence[str] | None = None) -> int:
    args = apply_settings(build_parser().parse_args(argv))
    if not args.url:
        print("error: --url is required (or set GLOBE_EVAL_URL), e.g. --url http://127.0.0.1:8000/v1", file=sys.stderr)
        return 2
    from globe.data.images import image_problem

    problem = image_problem(args.image, "decode")
    if problem is not None:
        reason, detail = problem
        what = "image not found" if reason == "missing_image" else "not an image globe-infer can send (JPEG/PNG/WebP...)"
        print(f"error: {what}: {detail}", file=sys.stderr)
        return 2
    for name in ("timeout", "deadline"):
        if not getattr(args, name) > 0:
            print(f"error: --{name} must be > 0 seconds, got {getattr(args, name)}", file=sys.stderr)
            return 2
    return aio.run(infer(args))


if __name__ == "__main__":
    sys.exit(main())
