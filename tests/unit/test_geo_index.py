"""Index plumbing: text keys, the on-disk cache, lazy loading, the alias table."""
import pickle
import subprocess
import sys

import pytest

from globe.geo import cache
from globe.geo.countries import read_aliases
from globe.geo.text import ascii_key, clean_text, index_keys, is_latin, lookup_keys, name_key


@pytest.mark.parametrize(
    "text, key",
    [("St. Petersburg", "st petersburg"), ("Xi'an", "xian"), ("Mont-Saint-Michel", "mont saint michel"),
     ("  NEW   YORK ", "new york"), ("東京", "東京"), ("U.S.A.", "u s a"), ("Straße", "strasse"),
     ("Ｔｏｋｙｏ", "tokyo"), ("ＰＡＲＩＳ", "paris"), ("Côte d’Ivoire", "côte divoire"),
     ("Xi`an​", "xian"), ("Ha‍noi's", "hanois"), ("ǅakovica", "džakovica")],
)
def test_name_key(text, key):
    assert name_key(text) == key


@pytest.mark.parametrize("text, latin", [("paris", True), ("são paulo", True), ("ḥalab", True), ("e\u0301", True),
                                         ("東京", False), ("москва", False), ("paris 東", False), ("", True)])
def test_is_latin_is_true_only_when_every_character_is_latin_script(text, latin):
    assert is_latin(text) is latin


def test_index_keys_fold_latin_names_only():
    assert index_keys("Köln") == ["köln", "koln"]
    assert index_keys("Москва") == ["москва"]


def test_ascii_key_folds_diacritics():
    assert ascii_key(name_key("München")) == "munchen"
    assert ascii_key(name_key("São Paulo")) == "sao paulo"


def test_lookup_keys_tries_the_faithful_key_first():
    assert lookup_keys("Köln") == ["köln", "koln"]
    assert lookup_keys("...") == []


@pytest.mark.parametrize("junk", [None, 5, "", "  ", "x" * 121])
def test_clean_text_drops_unusable_input(junk):
    assert clean_text(junk) is None


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GLOBE_CACHE_DIR", str(tmp_path))
    assert cache.cache_dir() == tmp_path
    assert cache.cache_path("cities").parent == tmp_path


def test_load_or_build_builds_once_then_loads(monkeypatch, tmp_path):
    monkeypatch.setenv("GLOBE_CACHE_DIR", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"answer": 42}

    assert cache.load_or_build("unit", build) == {"answer": 42}
    assert cache.load_or_build("unit", build) == {"answer": 42}
    assert len(calls) == 1
    assert pickle.loads(cache.cache_path("unit").read_bytes()) == {"answer": 42}


def test_a_corrupt_cache_file_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("GLOBE_CACHE_DIR", str(tmp_path))
    cache.cache_path("unit").write_bytes(b"not a pickle")
    assert cache.load_or_build("unit", lambda: "fresh") == "fresh"
    assert cache.load_or_build("unit", lambda: "never") == "fresh"


def test_an_unwritable_cache_dir_only_costs_speed(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GLOBE_CACHE_DIR", str(blocker / "sub"))  # a directory under a file cannot exist
    assert cache.load_or_build("unit", lambda: "in memory") == "in memory"


def test_import_is_lazy():
    code = "import globe.geo, globe.geo.gazetteer as g, globe.geo.countries as c; print(g._SHARED._value is None and c._INDEX is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_alias_table_rows_are_well_formed():
    rows = read_aliases()
    kinds = {kind for kind, *_ in rows}
    assert kinds == {"country", "not_country", "city", "not_city"}
    for kind, alias, country, target in rows:
        assert alias, "empty alias"
        if kind == "country":
            assert len(country) == 2
        if kind == "city":
            assert len(country) == 2 and target


def test_every_city_alias_points_at_a_real_place():
    from globe.geo.gazetteer import gazetteer

    gaz = gazetteer()
    for kind, alias, country, target in read_aliases():
        if kind == "city":
            assert gaz.exact(target, country), f"aliases.tsv: {alias!r} -> {target!r} ({country}) not in the gazetteer"
