"""``globe-infer IMAGE --url URL``: ask a served model where one photo was taken, streaming the answer.

The released README's inference snippet as a command: the answer streams to stdout as it is
generated, then the parsed country/city, the resolved place and the timings (time to first
token, total, tokens per second as the server counts chunks) go to stderr.

A file that is not a decodable image stops the command before any request (an LLM server
answers a text file sent as an image with a confident guess). A server that ignores
``stream`` and answers with one JSON body is read as one chunk; the answer is bounded by
``--timeout`` per chunk, ``--deadline`` overall and the client's response size limit.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Sequence, TextIO


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
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-tokens", "--max_tokens", dest="max_tokens", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each chunk")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole answer")
    parser.add_argument("--no-stream", "--no_stream", dest="stream", action="store_false",
                        help="one non-streamed request instead (no time to first token)")
    return parser


async def infer(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from globe.chat_client import ChatClient, ServerUnavailable, user_message
    from globe.prompts import geo_prompt

    api_key = args.api_key or os.environ.get("GLOBE_API_KEY") or os.environ.get("OPENAI_API_KEY")
    from globe.data.images import ImageError, request_image

    try:  # the one bounded reader eval uses: size cap, regular files only, downscaled to the pixel budget
        image = request_image(args.image)
    except (OSError, ImageError) as exc:
        print(f"error: cannot read {args.image}: {exc}", file=err)
        return 2
    messages = [user_message(geo_prompt(args.use_cot), image)]
    async with ChatClient(args.url, api_key=api_key, model=args.model, timeout=args.timeout, retries=0,
                          concurrency=1, deadline=args.deadline) as client:
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
    args = build_parser().parse_args(argv)
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
    return asyncio.run(infer(args))


if __name__ == "__main__":
    sys.exit(main())
