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
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

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


def warm_up() -> None:
    """Draw the backdrop and load the land points now (seconds), not in the first user's request."""
    map_svg([Pin(0.0, 0.0, "consensus")])


def _xy(lat: float, lon: float) -> tuple[float, float]:
    return lon + 180.0, 90.0 - lat


@lru_cache(maxsize=1)
def _land_points():
    """The backdrop's places as an (n, 2) array of (lon, lat), for the vector dots of the zoomed view."""
    import numpy as np

    from globe.eval.report import _backdrop_points

    lons, lats = _backdrop_points()
    return np.column_stack([np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)]) if lons else np.zeros((0, 2))


class _View:
    """A projection onto an SVG viewBox: the whole world, or a local zoom around the pins."""

    def __init__(self, xy: Callable[[float, float], tuple[float, float]], box: tuple[float, float, float, float],
                 unit: float):
        self.xy, self.box, self.unit = xy, box, unit  # box: (x, y, width, height); unit: one "degree" of size

    def anchor(self, x: float) -> str:
        fraction = (x - self.box[0]) / self.box[2]
        return "end" if fraction > 0.83 else "start" if fraction < 0.17 else "middle"


WORLD = _View(_xy, (0.0, 0.0, 360.0, 180.0), 1.0)


def _pin_svg(pin: Pin, view: _View = WORLD) -> str:
    fill, size, stroke = PIN_STYLES.get(pin.kind, PIN_STYLES["sample"])
    radius, u = size * view.unit, view.unit
    x, y = view.xy(pin.lat, pin.lon)
    title = f"<title>{html.escape(pin.label)}</title>" if pin.label else ""
    if pin.kind == "truth":  # a diamond, so it reads apart from the round answer pins in grey scale
        points = f"{x:.3f},{y - radius:.3f} {x + radius:.3f},{y:.3f} {x:.3f},{y + radius:.3f} {x - radius:.3f},{y:.3f}"
        shape = (f'<polygon class="pin pin-truth" points="{points}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{0.5 * u:.3f}">{title}</polygon>')
    else:
        shape = (f'<circle class="pin pin-{pin.kind}" cx="{x:.3f}" cy="{y:.3f}" r="{radius:g}" fill="{fill}" '
                 f'fill-opacity="{0.75 if pin.kind == "sample" else 1}" stroke="{stroke}" '
                 f'stroke-width="{0.5 * u:.3f}">{title}</circle>')
    if pin.kind != "sample" and pin.label:
        # The answer's label above its pin, the truth's below: close pins keep both readable.
        dy = -radius - 1.5 * u if pin.kind == "consensus" else radius + 5 * u
        shape += (f'<text x="{x:.3f}" y="{y + dy:.3f}" font-size="{6 * u:.3f}" text-anchor="{view.anchor(x)}" '
                  f'fill="#1b1b1b" stroke="#ffffff" stroke-width="{1.2 * u:.3f}" paint-order="stroke">'
                  f'{html.escape(pin.label)}</text>')
    return shape


def _line_svg(line: tuple[Pin, Pin], view: _View) -> str:
    (x1, y1), (x2, y2) = view.xy(line[0].lat, line[0].lon), view.xy(line[1].lat, line[1].lon)
    u = view.unit
    return (f'<line class="truth-line" x1="{x1:.3f}" y1="{y1:.3f}" x2="{x2:.3f}" y2="{y2:.3f}" stroke="#1b1b1b" '
            f'stroke-width="{0.6 * u:.3f}" stroke-dasharray="{2 * u:.3f},{1.2 * u:.3f}"/>')


def _pins_svg(pins: Sequence[Pin], view: _View) -> list[str]:
    order = {"sample": 0, "consensus": 1, "truth": 2}
    return [_pin_svg(pin, view) for pin in sorted(pins, key=lambda p: order.get(p.kind, 0))]


def zoom_view(pins: Sequence[Pin]) -> tuple[_View, float]:
    """A square local view around every pin (at least ~330 km across), and its width in km.

    Longitudes are scaled by cos(latitude) so shapes look right where the pins are.
    """
    lats = [p.lat for p in pins]
    lons = [p.lon for p in pins]
    lat0, lon0 = (max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2
    k = max(0.2, math.cos(math.radians(lat0)))
    half = max((max(lons) - min(lons)) * k, max(lats) - min(lats)) * 0.65 + 1.5
    view = _View(lambda lat, lon: ((lon - lon0) * k, lat0 - lat), (-half, -half, 2 * half, 2 * half), half / 70)
    return view, 2 * half * 111.2


def _zoom_svg(pins: Sequence[Pin], line: tuple[Pin, Pin] | None) -> str:
    view, width_km = zoom_view(pins)
    x0, y0, width, height = view.box
    u = view.unit
    points = _land_points()
    parts = []
    if len(points):  # the land as vector dots: crisp at any zoom, unlike the world backdrop's pixels
        projected = [view.xy(float(lat), float(lon)) for lon, lat in _points_near(points, pins, width)]
        parts += [f'<circle cx="{x:.3f}" cy="{y:.3f}" r="{1.4 * u:.3f}" fill="{LAND}"/>' for x, y in projected
                  if x0 <= x <= x0 + width and y0 <= y <= y0 + height]
    if line is not None:
        parts.append(_line_svg(line, view))
    parts += _pins_svg(pins, view)
    scale = f"{width_km:,.0f} km across" if width_km >= 10 else f"{width_km:.1f} km across"
    parts.append(f'<text x="{x0 + 2 * u:.3f}" y="{y0 + height - 2.5 * u:.3f}" font-size="{5.5 * u:.3f}" '
                 f'fill="#45607a">zoom: {scale}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="globe-zoom" viewBox="{x0:.3f} {y0:.3f} {width:.3f} '
            f'{height:.3f}" style="display:block;width:100%;border:1px solid #b8c7d6;border-radius:6px;'
            f'background:{OCEAN}" role="img" aria-label="zoomed map around the answer">' + "".join(parts) + "</svg>")


def _points_near(points, pins: Sequence[Pin], width_deg: float):
    """The land points within a generous lat/lon box around the pins (a cheap pre-filter)."""
    lats = [p.lat for p in pins]
    lons = [p.lon for p in pins]
    margin = width_deg * 3 + 1
    mask = ((points[:, 1] >= min(lats) - margin) & (points[:, 1] <= max(lats) + margin)
            & (points[:, 0] >= min(lons) - margin * 5) & (points[:, 0] <= max(lons) + margin * 5))
    return points[mask]


def map_svg(pins: Sequence[Pin], line: tuple[Pin, Pin] | None = None, caption: str = "") -> str:
    """The whole map as an HTML snippet: a world ``<svg>``, a zoom around the pins, and a legend.

    ``line`` draws a dashed straight segment (in this projection), e.g. from the consensus answer
    to the truth. Samples are drawn first, so the consensus and truth stay on top.
    """
    parts = [f'<image href="{backdrop_data_url()}" x="0" y="0" width="360" height="180" preserveAspectRatio="none"/>']
    for lon in range(-150, 180, 30):
        parts.append(f'<line x1="{lon + 180}" y1="0" x2="{lon + 180}" y2="180" stroke="#ffffff" stroke-width="0.2"/>')
    for lat in range(-60, 90, 30):
        parts.append(f'<line x1="0" y1="{90 - lat}" x2="360" y2="{90 - lat}" stroke="#ffffff" stroke-width="0.2"/>')
    if line is not None:
        parts.append(_line_svg(line, WORLD))
    parts += _pins_svg(pins, WORLD)
    legend = (
        '<span style="color:#3b6fd4">&#9679;</span> sample &nbsp; '
        '<span style="color:#d62828">&#9679;</span> answer (consensus) &nbsp; '
        '<span style="color:#1a9e3f">&#9670;</span> truth'
    )
    caption_html = f"<div>{html.escape(caption)}</div>" if caption else ""
    world = ('<svg xmlns="http://www.w3.org/2000/svg" class="globe-world" viewBox="0 0 360 180" '
             'style="display:block;width:100%;border:1px solid #b8c7d6;border-radius:6px;background:' + OCEAN + '" '
             'role="img" aria-label="world map with the answer">' + "".join(parts) + "</svg>")
    if pins:
        body = (f'<div style="display:flex;gap:8px;align-items:flex-start"><div style="flex:2.4">{world}</div>'
                f'<div style="flex:1">{_zoom_svg(pins, line)}</div></div>')
    else:
        body = world
    return (f'<figure class="globe-map" style="margin:0">{body}'
            f'<figcaption style="font-size:0.85em;margin-top:4px">{legend}{caption_html}</figcaption></figure>')
