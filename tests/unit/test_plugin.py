"""Specification of globe/plugin.py: loaded the way ``--external_plugins`` loads it, called the way GRPO calls it."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

import globe
from globe import geo
from globe.plugin_path import main as plugin_path_main
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

PLUGIN_FILE = Path(globe.__file__).resolve().parent / "plugin.py"
NAMES = ["globe_accuracy", "globe_locatability", "globe_locatablity", "globe_visual_match", "globe_format",
         "globe_distance", "globe_accuracy_released", "external_math_format", "globe_visual_match_released"]
#: The released all-rewards command line's ``--reward_funcs`` (the one- and two-reward lines use a subset).
RELEASED_REWARD_FUNCS = ["globe_accuracy", "globe_locatablity", "globe_visual_match", "external_math_format"]
PARIS = geo.resolve("France", "Paris")


@pytest.fixture(scope="module")
def orms():
    """Import the plugin with ms-swift's own loader, then undo the sys.path entry it adds."""
    from swift.rewards import orms as registry
    from swift.utils import import_external_file

    saved = list(sys.path)
    try:
        import_external_file(str(PLUGIN_FILE))
    finally:
        sys.path[:] = saved
    return registry


def sample(completion: str, image: bytes, **columns):
    """One GRPO sample as ms-swift builds it from a dataset row plus its rollout."""
    from swift.rl_core.data import GRPOSample

    row = {
        "messages": [{"role": "user", "content": "<image>Where was this photo taken?"},
                     {"role": "assistant", "content": completion}],
        "images": [{"bytes": image, "path": None}],
        "image_id": "img-0",
        **columns,
    }
    return GRPOSample.from_row(row)


def rewards_like_grpo(names, samples, orms):
    """Instantiate by name and score through ms-swift's own reward loop (async ones via asyncio.run)."""
    import torch
    from swift.rl_core.grpo_algorithm import compute_rewards_per_func

    funcs = [orms[name](args=None) for name in names]
    table = compute_rewards_per_func(samples, funcs, None, device=torch.device("cpu"))
    return [[round(float(value), 6) for value in column] for column in table.T], [type(f).__name__ for f in funcs]


def test_every_reward_is_registered_under_its_name(orms):
    assert all(name in orms for name in NAMES)
    assert orms["globe_locatablity"] is orms["globe_locatability"]


def test_rewards_through_ms_swift_reward_loop(orms, monkeypatch):
    good = "<think>A red double-decker bus near the Eiffel Tower.</think><answer>country: France\ncity: Paris</answer>"
    near = "<think>A business district.</think><answer>country: France\ncity: Lyon</answer>"
    bad = "It is probably Rome."
    columns = dict(solution="France\tParis", country="France", city="Paris", lat=PARIS.lat, lon=PARIS.lon,
                   entities=[{"text": "bus"}, {"text": "Eiffel Tower"}])
    image = marked_jpeg("IMG-A")
    samples = [sample(text, image, **columns) for text in (good, near, bad)]
    with FakeOpenAIServer(default_answer="yes") as server:
        monkeypatch.setenv("GLOBE_RM_URL", server.url)
        table, class_names = rewards_like_grpo(NAMES[:2] + NAMES[3:6], samples, orms)
    accuracy, locatability, visual, fmt, distance = table
    assert accuracy == [1.0, 0.2, 0.0]
    assert locatability == [0.9, 0.9, 0.9]  # the fake RM answers "yes" with p=0.9, "no" with p=0.1
    assert visual == [1.0, 0.0, 0.0]
    assert fmt == [1.0, 1.0, 0.0]
    lyon = geo.resolve("France", "Lyon")
    assert distance == [1.0, round(math.exp(-geo.distance_km(lyon, PARIS) / 750.0), 6), 0.0]
    # ms-swift logs each reward as rewards/<class name>/mean
    assert class_names == ["GlobeAccuracy", "GlobeLocatability", "GlobeVisualMatch", "GlobeFormat", "GlobeDistance"]


def test_the_released_reward_funcs_are_all_registered(orms):
    assert [name for name in RELEASED_REWARD_FUNCS if name not in orms] == []


def test_the_plugin_registers_exactly_the_rewards_of_the_registry(orms):
    from globe.rewards import REWARDS

    ours = {name for name, cls in orms.items() if hasattr(cls, "reward_name")}
    assert ours == set(REWARDS)
    assert orms["globe_locatablity"] is orms["globe_locatability"]


def test_released_rewards_through_ms_swift_reward_loop(orms):
    tagged = "<think>Zinc roofs.</think><answer>country: France\ncity: Paris</answer>"
    cases = [
        tagged,
        "<think>Zinc roofs.</think><answer>country: USA\ncity: NYC</answer>",
        "country: France\ncity: Paris",  # untagged: 0 for both accuracies
        "<think>country: France\ncity: Paris</think><answer>not sure</answer>",
        "<think>x</think><answer>country: United States\ncity: Cambridge</answer>",
        "<think>x</think><answer>country: Massachusetts\ncity: Boston</answer>",
        tagged + "\n",  # anything after </answer> fails the released format
    ]
    solutions = ["France\tParis", "United States\tNew York City", "France\tParis", "France\tParis",
                 "United States\tBoston", "United States\tBoston", "France\tParis"]
    samples = [sample(text, marked_jpeg("IMG-A"), solution=sol) for text, sol in zip(cases, solutions)]
    table, class_names = rewards_like_grpo(["globe_accuracy", "globe_accuracy_released", "external_math_format"],
                                           samples, orms)
    accuracy, released, fmt = table
    assert accuracy == [1.0, 1.0, 0.0, 0.0, 0.2, 0.0, 1.0]
    assert released == [1.0, 0.0, 0.0, 0.0, 0.2, 0.0, 1.0]
    assert fmt == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert class_names == ["GlobeAccuracy", "GlobeAccuracyReleased", "ReleasedFormat"]


def test_released_visual_match_through_ms_swift_reward_loop(orms):
    """The dataset's ``entities`` column reaches both visual matches; only the released one reads substrings
    before ``</think>`` (and the whole text without it)."""
    entities = [{"text": "Bus"}, {"text": "palm tree"}]
    cases = [
        "<think>a business district with palm trees</think><answer>country: France\ncity: Paris</answer>",
        "A bus. <think>nothing</think><answer>palm tree</answer>",
        "<think>a bus stop, no answer yet: palm tree",
    ]
    samples = [sample(text, marked_jpeg("IMG-A"), entities=entities) for text in cases]
    (globe_match, released), class_names = rewards_like_grpo(["globe_visual_match", "globe_visual_match_released"],
                                                             samples, orms)
    assert released == [1.0, 0.5, 1.0]
    assert globe_match == [0.5, 0.0, 1.0]
    assert class_names == ["GlobeVisualMatch", "GlobeVisualMatchReleased"]


def test_locatability_without_rm_url_fails_when_the_trainer_starts(orms, monkeypatch):
    monkeypatch.delenv("GLOBE_RM_URL", raising=False)
    with pytest.raises(ValueError, match="GLOBE_RM_URL is not set"):
        orms["globe_locatability"](args=None)


def test_locatability_is_an_async_reward_so_ms_swift_batches_it(orms, monkeypatch):
    import asyncio

    monkeypatch.setenv("GLOBE_RM_URL", "http://127.0.0.1:9/v1")
    assert asyncio.iscoroutinefunction(orms["globe_locatability"](args=None).__call__)


def test_distance_tau_comes_from_env(orms, monkeypatch):
    monkeypatch.setenv("GLOBE_DISTANCE_TAU_KM", "100")
    london = "<answer>country: UK\ncity: London</answer>"
    [reward] = orms["globe_distance"](args=None)([london], lat=[PARIS.lat], lon=[PARIS.lon])
    km = geo.distance_km(geo.resolve("United Kingdom", "London"), PARIS)
    assert reward == pytest.approx(math.exp(-km / 100.0), rel=1e-12)


def test_bad_distance_tau_is_an_error_naming_the_variable(orms, monkeypatch):
    monkeypatch.setenv("GLOBE_DISTANCE_TAU_KM", "far")
    with pytest.raises(ValueError, match="GLOBE_DISTANCE_TAU_KM='far'"):
        orms["globe_distance"](args=None)


# --------------------------------------------------------------------------- globe-plugin-path


def test_plugin_path_prints_both_plugin_files(capsys):
    assert plugin_path_main([]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["plugin.py", "dataset.py"]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in printed)


def test_plugin_path_prints_one_file_on_request(capsys):
    assert plugin_path_main(["--plugin"]) == 0
    assert capsys.readouterr().out.strip() == str(PLUGIN_FILE)


def test_plugin_path_fails_clearly_when_a_file_is_missing(capsys, monkeypatch, tmp_path):
    import globe.plugin_path as plugin_path

    monkeypatch.setitem(plugin_path.PLUGIN_FILES, "dataset", tmp_path / "dataset.py")
    assert plugin_path.main([]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "missing" in captured.err and "dataset.py" in captured.err
