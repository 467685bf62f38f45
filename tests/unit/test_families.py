"""Each family entry says what the installed ms-swift registers, and the README's table is the code's."""
from __future__ import annotations

import inspect

import pytest

from globe.families import FAMILIES, RELEASED_VISUAL_TOKENS, backbones_table, family, main

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_the_readme_backbones_table_is_generated_from_the_families() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    start, end = readme.index("<!-- backbones:start -->\n"), readme.index("\n<!-- backbones:end -->")
    assert readme[start + len("<!-- backbones:start -->\n"):end] == backbones_table()


@pytest.mark.parametrize("name", FAMILIES)
def test_every_budget_is_the_released_visual_token_budget(name: str) -> None:
    entry = FAMILIES[name]
    assert entry.budget_tokens() in (RELEASED_VISUAL_TOKENS, None)
    assert (entry.budget_env is None) == (entry.budget_value is None) == (entry.budget_tokens() is None)


def test_the_released_qwen2_5_vl_budget_is_the_released_max_pixels() -> None:
    assert FAMILIES["qwen2_5_vl"].budget_env_assignment() == {"MAX_PIXELS": "1003520"}


@pytest.mark.parametrize("name", FAMILIES)
def test_model_type_template_and_checkpoint_are_ms_swift_registrations(name: str) -> None:
    from swift.model import MODEL_MAPPING
    from swift.template import TEMPLATE_MAPPING

    entry = FAMILIES[name]
    meta = MODEL_MAPPING[entry.model_type]
    groups = [group for group in meta.model_groups
              if any(entry.model in (model.hf_model_id, model.ms_model_id) for model in group.models)]
    assert groups, f"{entry.model} is not registered under --model_type {entry.model_type}"
    assert (groups[0].template or meta.template) == entry.template
    template_meta = TEMPLATE_MAPPING[entry.template]
    # ms-swift's rule (swift/template/base.py): unset -> thinking only for a thinking template without a
    # non-thinking prefix; the response prefix is the thinking or non-thinking prefix accordingly.
    default_thinking = template_meta.is_thinking and not template_meta.non_thinking_prefix
    for setting, thinking in ((None, default_thinking), (True, True), (False, False)):
        expected = template_meta.thinking_prefix if thinking else template_meta.non_thinking_prefix
        assert entry.prefill(setting) == expected, (name, setting)


def test_each_budget_variable_is_one_ms_swift_reads() -> None:
    from qwen_vl_utils import vision_process
    from swift.model.models import qwen
    from swift.template.templates.internvl import InternvlTemplate

    assert hasattr(vision_process, "IMAGE_MAX_TOKEN_NUM")
    # ms-swift turns MAX_PIXELS into IMAGE_MAX_TOKEN_NUM at (patch x 2)**2 pixels a token: 28 on
    # Qwen2.5-VL (so 1003520 stays 1280 tokens), 32 on Qwen3-VL / Qwen3.5 (hence their own variable)
    assert "'MAX_PIXELS': 'IMAGE_MAX_TOKEN_NUM'" in inspect.getsource(qwen.compat_qwen_vl_utils)
    assert "image_patch_size=14" in inspect.getsource(qwen.Qwen2VLLoader._check_qwen_vl_utils)
    assert "image_patch_size=16" in inspect.getsource(qwen.Qwen3VLLoader._check_qwen_vl_utils)
    assert "'max_num'" in inspect.getsource(InternvlTemplate.init_env_args)
    for entry in FAMILIES.values():
        assert entry.budget_env in (None, "MAX_PIXELS", "IMAGE_MAX_TOKEN_NUM", "MAX_NUM")
        if entry.budget_env == "MAX_NUM":
            assert entry.template != "internvl_hf"  # the native template does not read MAX_NUM


def test_an_unknown_family_names_the_known_ones(capsys) -> None:
    with pytest.raises(ValueError, match="unknown MODEL_FAMILY 'qwen4'.*qwen3_5"):
        family("qwen4")
    assert main(["qwen3_5"]) == 0
    assert "MODEL_TYPE=qwen3_5\nTEMPLATE=qwen3_5\nIMAGE_MAX_TOKEN_NUM=1280" in capsys.readouterr().out


@pytest.mark.parametrize("name", FAMILIES)
def test_the_extra_packages_are_those_ms_swift_lists_and_globe_lacks(name: str) -> None:
    from swift.model import MODEL_MAPPING

    entry = FAMILIES[name]
    meta = MODEL_MAPPING[entry.model_type]
    group = next(g for g in meta.model_groups if any(entry.model == m.hf_model_id for m in g.models))
    listed = {requirement.split("<")[0].split(">")[0].split("=")[0] for requirement in group.requires or meta.requires}
    assert set(entry.requires) == listed - {"transformers", "qwen_vl_utils"}
