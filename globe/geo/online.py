"""Opt-in online geocoding through geopy (Nominatim or Azure Maps), cached and rate-limited.

The paper geocoded predicted names with a paid online API (Azure Maps). Use this only to
reproduce that exactly; everything else in ``globe.geo`` is offline. Nothing here runs unless
you construct an ``OnlineGeocoder`` and call it.

- Cache: one JSON object per line (``{"q": query, "r": result-or-null}``), appended and flushed
  after every network answer, so a killed run resumes without repeating requests. Network
  *errors* are not cached (a later run retries them); "not found" answers are.
- Rate limit: at least ``min_delay_s`` between requests from this object (Nominatim's usage
  policy asks for at most 1 request/s and an identifying User-Agent).
- Configuration: arguments first, then ``GLOBE_NOMINATIM_USER_AGENT``, ``GLOBE_NOMINATIM_DOMAIN``,
  ``GLOBE_AZURE_MAPS_KEY``; no keys or endpoints are hard-coded.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from .cache import cache_dir
from .countries import country_code
from .place import Place
from .text import clean_text

log = logging.getLogger(__name__)

PROVIDERS = ("nominatim", "azure")
_DEFAULT_DELAY = {"nominatim": 1.0, "azure": 0.05}


class OnlineGeocoder:
    """Drop-in for ``globe.geo.resolve`` backed by an online geocoder.

    ``geocoder`` lets tests or advanced users pass any object with a geopy-style
    ``geocode(query, exactly_one=True, **kwargs)`` method instead of building one.
    """

    def __init__(
        self,
        provider: str = "nominatim",
        *,
        cache_path: str | os.PathLike | None = None,
        min_delay_s: float | None = None,
        api_key: str | None = None,
        user_agent: str | None = None,
        domain: str | None = None,
        scheme: str | None = None,
        timeout: float = 10.0,
        language: str = "en",
        geocoder: Any = None,
    ):
        if provider not in PROVIDERS:
            raise ValueError(f"OnlineGeocoder(provider={provider!r}): choose one of {PROVIDERS}")
        self.provider = provider
        self.language = language
        self.min_delay_s = float(_DEFAULT_DELAY[provider] if min_delay_s is None else min_delay_s)
        self.cache_path = Path(cache_path) if cache_path else cache_dir() / f"geocode-{provider}.jsonl"
        self._geocoder = geocoder if geocoder is not None else self._make_geocoder(api_key, user_agent, domain, scheme, timeout)
        self._lock = threading.Lock()
        self._last_request = 0.0
        self._cache: dict[str, dict | None] = self._read_cache()
        self.requests_made = 0

    # ------------------------------------------------------------------ setup
    def _make_geocoder(self, api_key, user_agent, domain, scheme, timeout):
        if self.provider == "nominatim":
            from geopy.geocoders import Nominatim

            agent = user_agent or os.environ.get("GLOBE_NOMINATIM_USER_AGENT")
            if not agent:
                raise ValueError(
                    "OnlineGeocoder('nominatim') needs an identifying user agent (Nominatim usage policy): "
                    "pass user_agent='yourproject/1.0 (you@example.org)' or set GLOBE_NOMINATIM_USER_AGENT"
                )
            kwargs: dict[str, Any] = {"user_agent": agent, "timeout": timeout}
            domain = domain or os.environ.get("GLOBE_NOMINATIM_DOMAIN")
            if domain:
                kwargs["domain"] = domain
            if scheme:
                kwargs["scheme"] = scheme
            return Nominatim(**kwargs)
        from geopy.geocoders import AzureMaps

        key = api_key or os.environ.get("GLOBE_AZURE_MAPS_KEY")
        if not key:
            raise ValueError("OnlineGeocoder('azure') needs a subscription key: pass api_key=... or set GLOBE_AZURE_MAPS_KEY")
        kwargs = {"subscription_key": key, "timeout": timeout}
        if domain:
            kwargs["domain"] = domain
        if scheme:
            kwargs["scheme"] = scheme
        return AzureMaps(**kwargs)

    def _read_cache(self) -> dict[str, dict | None]:
        cache: dict[str, dict | None] = {}
        if not self.cache_path.exists():
            return cache
        with open(self.cache_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                    cache[row["q"]] = row["r"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a kill: skip it, the query is simply redone
        return cache

    def _append_cache(self, query: str, result: dict | None) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.cache_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"q": query, "r": result}, ensure_ascii=False) + "\n")
            fh.flush()

    # ------------------------------------------------------------------ lookups
    def _wait_turn(self) -> None:
        wait = self._last_request + self.min_delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _country_of(self, location: Any) -> str | None:
        raw = getattr(location, "raw", None) or {}
        address = raw.get("address") or {}
        code = address.get("country_code") or address.get("countryCode")
        return code.upper() if isinstance(code, str) and code else None

    def _lookup(self, query: str, cc: str | None) -> dict | None:
        kwargs: dict[str, Any] = {"exactly_one": True, "language": self.language}
        if self.provider == "nominatim":
            kwargs["addressdetails"] = True
            if cc:
                kwargs["country_codes"] = cc.lower()
        location = self._geocoder.geocode(query, **kwargs)
        if location is None:
            return None
        return {
            "name": getattr(location, "address", "") or query,
            "lat": float(location.latitude),
            "lon": float(location.longitude),
            "cc": self._country_of(location) or cc,
        }

    def resolve(self, country: object = None, city: object = None) -> Place | None:
        """Geocode "city, country" online (cached). None when not found or on a network error."""
        country_text, city_text = clean_text(country), clean_text(city)
        if not country_text and not city_text:
            return None
        cc = country_code(country_text) if country_text else None
        query = ", ".join(x for x in (city_text, country_text) if x)
        key = f"{query}|{cc or ''}"
        with self._lock:
            if key in self._cache:
                result = self._cache[key]
            else:
                self._wait_turn()
                self.requests_made += 1
                try:
                    result = self._lookup(query, cc)
                except Exception as exc:  # geopy errors, timeouts, HTTP failures: not cached
                    log.warning("online geocoding of %r failed: %s", query, exc)
                    return None
                self._cache[key] = result
                self._append_cache(key, result)
        if result is None or not result.get("cc"):
            return None
        return Place(
            name=result["name"],
            country_code=result["cc"],
            lat=result["lat"],
            lon=result["lon"],
            level="city" if city_text else "country",
            confidence=0.9 if city_text else 0.3,
            geonameid=None,
            population=0,
        )
