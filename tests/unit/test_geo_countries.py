"""Country names in any common form -> ISO 3166-1 alpha-2 (globe.geo.country_code and friends)."""
import pytest

from globe.geo import CONTINENT_NAMES, continent_of, country_code, country_name

CANONICAL = {
    "United States": "US", "Germany": "DE", "France": "FR", "Japan": "JP", "Brazil": "BR",
    "Czechia": "CZ", "South Korea": "KR", "North Korea": "KP", "New Zealand": "NZ", "Hong Kong": "HK",
    "Taiwan": "TW", "Kosovo": "XK", "Vatican": "VA", "Ivory Coast": "CI", "Côte d'Ivoire": "CI",
}
ABBREVIATIONS = {
    "USA": "US", "U.S.": "US", "U.S.A.": "US", "US": "US", "the US": "US", "America": "US",
    "UK": "GB", "U.K.": "GB", "the UK": "GB", "UAE": "AE", "DRC": "CD", "DR Congo": "CD",
    "PRC": "CN", "ROK": "KR", "DPRK": "KP", "KSA": "SA", "DE": "DE", "FRA": "FR",
}
CONSTITUENT = {"England": "GB", "Scotland": "GB", "Wales": "GB", "Northern Ireland": "GB", "Great Britain": "GB"}
ENDONYMS_AND_SCRIPTS = {
    "Deutschland": "DE", "España": "ES", "Россия": "RU", "日本": "JP", "中国": "CN", "Italia": "IT",
    "Nippon": "JP", "Türkiye": "TR", "Hellas": "GR", "Ελλάδα": "GR", "Suomi": "FI", "Sverige": "SE",
    "Polska": "PL", "Česko": "CZ", "Österreich": "AT", "Schweiz": "CH", "Nederland": "NL", "Éire": "IE",
    "대한민국": "KR", "Україна": "UA", "भारत": "IN", "مصر": "EG", "Brasil": "BR", "Magyarország": "HU",
}
ASCII_FOLDED = {"Espana": "ES", "Turkiye": "TR", "Osterreich": "AT", "Cesko": "CZ", "Mexico": "MX", "Peru": "PE"}
OLD_NAMES = {
    "Burma": "MM", "Swaziland": "SZ", "Zaire": "CD", "Ceylon": "LK", "Persia": "IR", "Holland": "NL",
    "Siam": "TH", "East Timor": "TL", "Czech Republic": "CZ", "Macedonia": "MK", "Dahomey": "BJ",
    "Upper Volta": "BF", "Turkey": "TR", "Cape Verde": "CV",
}
MISSPELLINGS = {"Phillipines": "PH", "Columbia": "CO", "Brazill": "BR", "Argentia": "AR", "Germny": "DE", "Untied States": "US"}
AMBIGUOUS = {"Georgia": "GE", "Korea": "KR", "Congo": "CG", "Republic of Ireland": "IE"}
QUALIFIED = {"Scotland, UK": "GB", "Korea (South)": "KR", "Korea, Republic of": "KR"}


@pytest.mark.parametrize(
    "name, code",
    [
        *CANONICAL.items(), *ABBREVIATIONS.items(), *CONSTITUENT.items(), *ENDONYMS_AND_SCRIPTS.items(),
        *ASCII_FOLDED.items(), *OLD_NAMES.items(), *MISSPELLINGS.items(), *AMBIGUOUS.items(), *QUALIFIED.items(),
    ],
)
def test_country_code_recognises_common_names(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize("name", ["  germany ", "GERMANY", "germany."])
def test_country_code_ignores_case_spacing_and_punctuation(name):
    assert country_code(name) == "DE"


@pytest.mark.parametrize(
    "name",
    ["Europe", "Asia", "Africa", "South America", "Sout America", "North America", "Middle East", "Scandinavia",
     "Caribbean", "European Union", "EU", "World", "Unknown", "N/A", "Bavaria", "California", "Tuscany"],
)
def test_country_code_rejects_regions_and_subdivisions(name):
    assert country_code(name) is None


@pytest.mark.parametrize("junk", [None, "", "   ", 42, 3.5, ["France"], "asdfgh qwerty", "x" * 10_000, "Narnia"])
def test_country_code_returns_none_for_junk(junk):
    assert country_code(junk) is None


def test_two_letter_codes_count_only_in_capitals():
    assert country_code("IT") == "IT"
    assert country_code("it") is None


def test_fuzzy_can_be_disabled():
    assert country_code("Germny", fuzzy=False) is None


@pytest.mark.parametrize(
    "code, name",
    [("US", "United States"), ("CZ", "Czechia"), ("GB", "United Kingdom"), ("KR", "South Korea"),
     ("NL", "Netherlands"), ("de", "Germany"), ("XK", "Kosovo")],
)
def test_country_name_is_the_english_short_name(code, name):
    assert country_name(code) == name


@pytest.mark.parametrize("code", ["ZZ", "", None, "USA", 7])
def test_country_name_of_unknown_code_is_none(code):
    assert country_name(code) is None


def test_country_name_round_trips_through_country_code():
    for code in ["US", "GB", "CZ", "KR", "CD", "CG", "CI", "VA", "MM", "TR", "SZ", "TL"]:
        assert country_code(country_name(code)) == code


@pytest.mark.parametrize(
    "country, continent",
    [("FR", "EU"), ("JP", "AS"), ("BR", "SA"), ("US", "NA"), ("AU", "OC"), ("EG", "AF"), ("AQ", "AN"), ("Deutschland", "EU")],
)
def test_continent_of(country, continent):
    assert continent_of(country) == continent
    assert continent in CONTINENT_NAMES


def test_continent_of_unknown_is_none():
    assert continent_of("Narnia") is None
    assert continent_of(None) is None


@pytest.mark.parametrize(
    "name, code",
    [("Sakartvelo", "GE"), ("Hayastan", "AM"), ("Rossiya", "RU"), ("Ellada", "GR"), ("Srbija", "RS"),
     ("Ukraina", "UA"), ("Qazaqstan", "KZ")],
)
def test_a_countrys_own_name_romanised_from_its_alphabet_is_recognised(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize(
    "name, code",
    [("Commonwealth of Australia", "AU"), ("Kingdom of Thailand", "TH"), ("Arab Republic of Egypt", "EG"),
     ("Union of the Comoros", "KM"), ("Republic of the Union of Myanmar", "MM"),
     ("Democratic Socialist Republic of Sri Lanka", "LK")],
)
def test_a_form_of_state_before_the_name_is_read_past(name, code):
    assert country_code(name) == code


def test_an_exact_official_name_wins_over_reading_past_the_form_of_state():
    assert country_code("Republic of China") == "TW"
    assert country_code("People's Republic of China") == "CN"
    assert country_code("Democratic Republic of the Congo") == "CD"
    assert country_code("Republic of the Congo") == "CG"
    assert country_code("Isle of Man") == "IM"  # "Isle" is no form of state


@pytest.mark.parametrize(
    "name, code",
    [("Isreal", "IL"), ("Thialand", "TH"), ("Veitnam", "VN"), ("Sweeden", "SE"), ("Phillippines", "PH"),
     ("Belguim", "BE")],
)
def test_one_common_slip_in_a_long_name_is_forgiven(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize("city", ["Chiba", "Konya", "Tainan", "Manama", "Almería", "Opole"])
def test_a_city_one_letter_away_from_a_country_is_not_that_country(city):
    assert country_code(city) is None


@pytest.mark.parametrize(
    "name, code",
    [("UK/England", "GB"), ("Germany/Deutschland", "DE"), ("EE.UU.", "US"), ("P.R. China", "CN"),
     ("Rhodesia", "ZW"), ("Nyasaland", "MW"), ("Cymru", "GB"), ("Inglaterra", "GB")],
)
def test_slashed_pairs_abbreviations_and_colonial_names(name, code):
    assert country_code(name) == code


def test_zero_width_joiners_do_not_change_a_name():
    assert country_code("ශ්\u200dරී ලංකාව") == country_code("ශ්රී ලංකාව") == "LK"
