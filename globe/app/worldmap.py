"""A world map that needs no network: an inline SVG over a backdrop drawn from the gazetteer.

Web maps fetch tiles or outlines from a server (plotly loads its world outlines from a CDN);
this app must work on an offline machine and load nothing from outside the page. The backdrop
is the evaluation report's tile-free world (``globe.eval.report``: GeoNames places of 15,000+
people, which outline the land), drawn once by matplotlib into a PNG and embedded as a
``data:`` URL; pins, the truth and the line between them are SVG shapes on top, in an
equirectangular projection (x = lon + 180, y = 90 - lat).
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

#: Pixel size of the backdrop PNG (2:1, equirectangular).
BACKDROP_SIZE = (1440, 720)
OCEAN = "#dcebf7"
LAND = "#8fa98a"

#: How each kind of pin is drawn: (fill, radius in degrees, stroke).
PIN_STYLES = {
    "sample": ("#3b6fd4", 2.0, "#ffffff"),
    "consensus": ("#d62828", 3.4, "#ffffff"),
    "truth": ("#1a9e3f", 3.4, "#ffffff"),
}


@dataclass(frozen=True)
class Pin:
    lat: float
    lon: float
    kind: str  # "sample", "consensus" or "truth"
    label: str = ""


@lru_cache(maxsize=1)
def backdrop_data_url() -> str:
    """The land backdrop as a ``data:image/png`` URL (rendered once per process, about a second)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from globe.eval.report import _backdrop_points

    width, height = BACKDROP_SIZE
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_facecolor(OCEAN)
    fig.patch.set_facecolor(OCEAN)
    lons, lats = _backdrop_points()
    if lons:
        ax.scatter(lons, lats, s=1.1, color=LAND, linewidths=0, marker="s")
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=OCEAN)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _xy(lat: float, lon: float) -> tuple[float, float]:
    return lon + 180.0, 90.0 - lat


def _pin_svg(pin: Pin) -> str:
    fill, radius, stroke = PIN_STYLES.get(pin.kind, PIN_STYLES["sample"])
    x, y = _xy(pin.lat, pin.lon)
    title = f"<title>{html.escape(pin.label)}</title>" if pin.label else ""
    if pin.kind == "truth":  # a diamond, so it reads apart from the round answer pins in grey scale
        points = f"{x:.3f},{y - radius:.3f} {x + radius:.3f},{y:.3f} {x:.3f},{y + radius:.3f} {x - radius:.3f},{y:.3f}"
        shape = f'<polygon class="pin pin-truth" points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="0.5">{title}</polygon>'
    else:
        shape = (f'<circle class="pin pin-{pin.kind}" cx="{x:.3f}" cy="{y:.3f}" r="{radius}" fill="{fill}" '
                 f'fill-opacity="{0.75 if pin.kind == "sample" else 1}" stroke="{stroke}" stroke-width="0.5">{title}</circle>')
    if pin.kind != "sample" and pin.label:
        # The answer's label above its pin, the truth's below: close pins keep both readable.
        anchor = "end" if x > 300 else "start" if x < 60 else "middle"
        dy = -radius - 1.5 if pin.kind == "consensus" else radius + 5
        shape += (f'<text x="{x:.3f}" y="{y + dy:.3f}" font-size="6" text-anchor="{anchor}" fill="#1b1b1b" '
                  f'stroke="#ffffff" stroke-width="1.2" paint-order="stroke">{html.escape(pin.label)}</text>')
    return shape


def map_svg(pins: Sequence[Pin], line: tuple[Pin, Pin] | None = None, caption: str = "") -> str:
    """The whole map as an HTML snippet: ``<figure>`` with an inline ``<svg>`` and a legend.

    ``line`` draws a dashed great-circle-less (straight, in this projection) segment, e.g. from the
    consensus answer to the truth. Samples are drawn first, so the consensus and truth stay on top.
    """
    order = {"sample": 0, "consensus": 1, "truth": 2}
    parts = [f'<image href="{backdrop_data_url()}" x="0" y="0" width="360" height="180" preserveAspectRatio="none"/>']
    for lon in range(-150, 180, 30):
        parts.append(f'<line x1="{lon + 180}" y1="0" x2="{lon + 180}" y2="180" stroke="#ffffff" stroke-width="0.2"/>')
    for lat in range(-60, 90, 30):
        parts.append(f'<line x1="0" y1="{90 - lat}" x2="360" y2="{90 - lat}" stroke="#ffffff" stroke-width="0.2"/>')
    if line is not None:
        (x1, y1), (x2, y2) = _xy(line[0].lat, line[0].lon), _xy(line[1].lat, line[1].lon)
        parts.append(f'<line class="truth-line" x1="{x1:.3f}" y1="{y1:.3f}" x2="{x2:.3f}" y2="{y2:.3f}" '
                     'stroke="#1b1b1b" stroke-width="0.6" stroke-dasharray="2,1.2"/>')
    for pin in sorted(pins, key=lambda p: order.get(p.kind, 0)):
        parts.append(_pin_svg(pin))
    legend = (
        '<span style="color:#3b6fd4">&#9679;</span> sample &nbsp; '
        '<span style="color:#d62828">&#9679;</span> answer (consensus) &nbsp; '
        '<span style="color:#1a9e3f">&#9670;</span> truth'
    )
    caption_html = f"<div>{html.escape(caption)}</div>" if caption else ""
    return (
        '<figure class="globe-map" style="margin:0">'
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 180" width="100%" '
        'style="display:block;border:1px solid #b8c7d6;border-radius:6px;background:' + OCEAN + '" '
        'role="img" aria-label="world map with the answer">' + "".join(parts) + "</svg>"
        f'<figcaption style="font-size:0.85em;margin-top:4px">{legend}{caption_html}</figcaption></figure>'
    )
