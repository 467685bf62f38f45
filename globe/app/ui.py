"""The Gradio page and the ``/locate`` API over one :class:`globe.app.locate.Locator`.

Offline by construction: analytics off, a theme with system fonts only (no Google Fonts), and
the map is inline SVG (``globe.app.worldmap``). Faults never escape a handler: the page shows
the message in its status box and the API raises ``gr.Error`` with the same text, which
``gradio_client`` raises as ``AppError``; the queue keeps serving the next request.
"""
from __future__ import annotations

import asyncio
import html
import logging
import os
from typing import Any, AsyncIterator, Sequence

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # always: the page promises that nothing leaves the machine

import gradio as gr  # noqa: E402 - after the analytics switch

from globe.app.locate import MAX_SAMPLES, AppError, LocateOptions, LocateResult, Locator, Progress  # noqa: E402
from globe.chat_client import redact_url  # noqa: E402
from globe.data.images import DEFAULT_MAX_BYTES  # noqa: E402
from globe.app.samples import SampleImage  # noqa: E402
from globe.app.worldmap import Pin, map_svg  # noqa: E402

log = logging.getLogger(__name__)

MODES = {"Reasoning (CoT)": True, "Direct answer": False}
API_MODES = {"cot": True, "direct": False}


def offline_theme() -> gr.themes.Base:
    """Gradio's default look with system font stacks: nothing is fetched from a font CDN."""
    return gr.themes.Default(
        font=[gr.themes.Font("system-ui"), gr.themes.Font("Segoe UI"), gr.themes.Font("Helvetica"), "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("Menlo"), gr.themes.Font("Consolas"), "monospace"],
    )


# ---------------------------------------------------------------------------- rendering


def status_html(message: str, kind: str = "info") -> str:
    colours = {"info": ("#eef4fb", "#1f4e8c"), "error": ("#fdecea", "#a12622"), "warning": ("#fff6e0", "#7a5300"),
               "ok": ("#eaf6ec", "#1d6b34")}
    background, colour = colours.get(kind, colours["info"])
    return (f'<div class="globe-status globe-status-{kind}" style="padding:8px 12px;border-radius:6px;'
            f'background:{background};color:{colour}">{html.escape(message)}</div>')


def reasoning_text(texts: Sequence[str]) -> str:
    """Every sample's text so far; with one sample, just its text."""
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"--- sample {i + 1} ---\n{text}" for i, text in enumerate(texts))


def _fmt_km(km: float | None) -> str:
    return "-" if km is None else (f"{km:.1f} km" if km < 100 else f"{km:,.0f} km")


def answer_markdown(result: LocateResult) -> str:
    data = result.as_json()
    lines = []
    if result.status == "ok":
        lines.append(f"### {data['place']}")
        lines.append(f"**country:** {data['country'] or '-'} &nbsp; **city:** {data['city'] or '-'} &nbsp; "
                     f"**level:** {data['level']} &nbsp; ({data['lat']:.4f}, {data['lon']:.4f})")
    else:
        lines.append(f"### No place: {result.message}")
        if data["country"] or data["city"]:
            lines.append(f"**country:** {data['country'] or '-'} &nbsp; **city:** {data['city'] or '-'}")
    n = len(result.samples)
    if n > 1:
        lines.append(f"**agreement:** {data['votes']} of {n} samples ({100 * data['agreement']:.0f}%) "
                     "name this place (within 25 km)")
    if result.truth is not None:
        truth = result.truth
        where = f"{truth.label} " if truth.label else ""
        lines.append(f"**truth** ({truth.source}): {where}({truth.lat:.4f}, {truth.lon:.4f})")
        if result.distance_km is not None:
            lines.append(f"**distance:** {_fmt_km(result.distance_km)} &nbsp; **GeoScore:** {result.geoscore:,.0f} / 5000")
    if result.locatability is not None:
        lines.append(f"**locatability** (reward model P(yes)): {result.locatability:.3f}")
    elif result.locatability_note:
        lines.append(f"*{result.locatability_note}*")
    if n > 1:
        table = ["| # | country | city | resolved place | level |", "|---|---|---|---|---|"]
        for s in result.samples:
            place = s.place or {"failed": "(request failed)", "no_answer": "(no answer)",
                                "unresolved": "(not found)"}.get(s.status, "")
            table.append(f"| {s.index + 1} | {s.country or ''} | {s.city or ''} | {place} | {s.level or ''} |")
        lines.append("\n".join(table))
    image = result.image
    note = f"model `{result.model}`, first token after {result.first_token_s or 0:.2f} s, done in {result.total_s:.1f} s"
    if image.downscaled:
        note += f"; photo downscaled from {image.width}x{image.height} to {image.sent_width}x{image.sent_height}"
    lines.append(f"\n<small>{note}</small>")
    return "\n\n".join(lines)


def result_map(result: LocateResult | None) -> str:
    """The map for a result: every placed sample, the consensus, the truth and the line between them."""
    if result is None:
        return map_svg([])
    pins: list[Pin] = []
    if len(result.samples) > 1:
        pins += [Pin(s.lat, s.lon, "sample", f"sample {s.index + 1}: {s.place}")
                 for s in result.samples if s.lat is not None and s.lon is not None]
    consensus = None
    if result.top is not None:
        label = result.representative.place or ""
        if len(result.samples) > 1:
            label += f" ({result.top.votes}/{len(result.samples)})"
        consensus = Pin(result.top.lat, result.top.lon, "consensus", label)
        pins.append(consensus)
    truth = None
    if result.truth is not None:
        truth = Pin(result.truth.lat, result.truth.lon, "truth", f"truth: {result.truth.label or result.truth.source}")
        pins.append(truth)
    line = (consensus, truth) if consensus is not None and truth is not None else None
    caption = f"{_fmt_km(result.distance_km)} from the truth" if result.distance_km is not None else ""
    return map_svg(pins, line=line, caption=caption)


# ---------------------------------------------------------------------------- the app


def build_app(locator: Locator, samples: Sequence[SampleImage] = (), concurrency: int = 8) -> gr.Blocks:
    """The page and the ``/locate`` API (queue: ``concurrency`` requests at once, the rest wait in line)."""

    async def page_locate(path: str | None, mode: str, n_samples: float, temperature: float) -> AsyncIterator[tuple]:
        """Page handler: (status, reasoning, answer, map, json) updates, streamed."""
        try:
            options = LocateOptions(use_cot=MODES.get(mode, True), samples=int(n_samples),
                                    temperature=float(temperature), max_tokens=locator.max_tokens).checked()
            image = await asyncio.to_thread(locator.prepare, path)  # decoding must not stall other users
            waiting = f"asking {redact_url(locator.url)} ({options.samples} sample{'s' * (options.samples > 1)})..."
            async for update in locator.stream(image, options):
                if isinstance(update, Progress) and update.first_token_s is None:
                    yield status_html(waiting), "", "", result_map(None), None
                elif isinstance(update, Progress):
                    yield status_html("the model is writing..."), reasoning_text(update.texts), gr.skip(), gr.skip(), gr.skip()
                else:
                    kind = "ok" if update.status == "ok" else "warning"
                    done = "done" if update.status == "ok" else update.message
                    world_map = await asyncio.to_thread(result_map, update)  # ~0.1 s of drawing: off the loop
                    yield (status_html(done, kind), reasoning_text([s.text for s in update.samples]),
                           answer_markdown(update), world_map, update.as_json())
        except AppError as exc:
            yield status_html(str(exc), "error"), gr.skip(), "", result_map(None), {"status": "error", "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the page must keep serving whatever went wrong
            log.exception("locate failed")
            message = f"internal error ({type(exc).__name__}: {exc}); the app keeps running, try again"
            yield status_html(message, "error"), gr.skip(), "", result_map(None), {"status": "error", "message": message}

    async def api_locate(image: str | None, mode: str = "cot", samples: float = 1, temperature: float = 0.0) -> dict:
        """``/locate``: an image file -> the result JSON (``gr.Error`` with a clear message on a fault)."""
        try:
            if mode not in API_MODES:
                raise AppError(f"mode must be one of {', '.join(API_MODES)}, got {mode!r}")
            if samples is None or float(samples) != int(float(samples)):
                raise AppError(f"samples must be a whole number from 1 to {MAX_SAMPLES}, got {samples!r}")
            options = LocateOptions(use_cot=API_MODES[mode], samples=int(samples), temperature=float(temperature),
                                    max_tokens=locator.max_tokens)
            result = await locator.locate(image, options)
        except AppError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001
            log.exception("/locate failed")
            raise gr.Error(f"internal error ({type(exc).__name__}: {exc})", print_exception=False) from None
        return result.as_json()

    model_line = f"model server: `{redact_url(locator.url)}`" + (f", model `{locator.model}`" if locator.model else "")
    if locator.rm_url:
        model_line += f"; locatability from `{redact_url(locator.rm_url)}`"
    with gr.Blocks(title="GLOBE: where was this photo taken?", analytics_enabled=False) as app:
        gr.Markdown(f"## GLOBE: where was this photo taken?\n{model_line}")
        with gr.Row():
            with gr.Column(scale=2):
                image = gr.Image(label="Photo (upload, drop or paste)", type="filepath", image_mode=None,
                                 sources=["upload", "clipboard"], height=300, elem_id="photo")
                if samples:
                    gr.Examples(examples=[[str(s.path)] for s in samples], inputs=[image],
                                label="Sample images (with their known place)", examples_per_page=12)
                mode = gr.Radio(list(MODES), value="Reasoning (CoT)", label="Prompt")
                with gr.Row():
                    n_samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples")
                    temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="Temperature",
                                            info="several samples differ only above 0")
                run = gr.Button("Locate", variant="primary", elem_id="locate")
            with gr.Column(scale=3):
                status = gr.HTML(status_html("upload a photo or pick a sample, then press Locate"), elem_id="status")
                answer = gr.Markdown(elem_id="answer")
                world = gr.HTML(result_map(None), elem_id="map")
                reasoning = gr.Textbox(label="Reasoning (streams in as the model writes)", lines=8, max_lines=24,
                                       autoscroll=True, elem_id="reasoning")
                with gr.Accordion("Result as JSON (what the /locate API returns)", open=False):
                    details = gr.JSON(elem_id="json")
        run.click(page_locate, inputs=[image, mode, n_samples, temperature],
                  outputs=[status, reasoning, answer, world, details], api_name="locate_stream",
                  api_visibility="undocumented")  # streamed updates: bench/app.py times the first token
        # The API: a file (any file, checked here with a clear message) and plain parameters.
        with gr.Column(visible=False):
            api_file = gr.File(label="image", type="filepath")
            api_mode = gr.Textbox(value="cot", label="mode")  # checked by api_locate, with the choices in the message
            api_samples = gr.Number(value=1, precision=0, label="samples")
            api_temperature = gr.Number(value=0.0, label="temperature")
            api_result = gr.JSON(label="result")
            api_trigger = gr.Button("locate")
        api_trigger.click(api_locate, inputs=[api_file, api_mode, api_samples, api_temperature],
                          outputs=[api_result], api_name="locate")
    app.queue(default_concurrency_limit=concurrency, max_size=max(64, 8 * concurrency))
    return app


def launch(app: gr.Blocks, host: str, port: int, block: bool = True) -> Any:
    """Serve ``app`` on ``host:port`` with the offline theme; blocks until Ctrl-C when ``block``."""
    return app.launch(server_name=host, server_port=port, theme=offline_theme(), show_error=False, quiet=False,
                      prevent_thread_lock=not block, footer_links=["api"], ssr_mode=False, pwa=False,
                      enable_monitoring=False, mcp_server=False, max_file_size=DEFAULT_MAX_BYTES)
