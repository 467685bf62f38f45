"""The think-prefill rules hold on a Qwen3.5 built here from transformers' own defaults, not by GLOBE's builder.

The model is ``Qwen3_5Config()``'s defaults with only the sizes shrunk, random and unscripted; only
the tokenizer files are borrowed from the tiny builder (ms-swift's template needs Qwen3.5's token
ids). ms-swift's own inference engine runs it under the ``qwen3_5`` template for each thinking
setting, and what it really puts in front of the reply must be :mod:`globe.families`' prefill; GLOBE's
format written after that real prefix must score and read as the same text written with both tags.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from globe.answers import parse_answer, think_text
from globe.families import FAMILIES
from globe.rewards import accuracy_rewards, format_rewards, visual_match_rewards
from tests.support.images import write_images
from tests.support.tiny_families import tiny_family_dir

pytestmark = pytest.mark.integration

OWN = "<think>A red bus under the Eiffel Tower.</think><answer>country: France\ncity: Paris</answer>"


def defaults_then_shrunk(out: Path) -> Path:
    import torch
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5TextConfig, Qwen3_5VisionConfig

    text = Qwen3_5TextConfig().to_dict()
    rope = dict(text["rope_parameters"], mrope_section=[3, 3, 2])
    text.update(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                head_dim=64, layer_types=["linear_attention", "full_attention"], linear_num_key_heads=2,
                linear_num_value_heads=2, linear_key_head_dim=16, linear_value_head_dim=16, rope_parameters=rope)
    vision = Qwen3_5VisionConfig().to_dict()
    vision.update(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                  num_position_embeddings=64)
    torch.manual_seed(1)
    model = Qwen3_5ForConditionalGeneration(Qwen3_5Config(text_config=text, vision_config=vision)).float()
    model.save_pretrained(out)
    borrowed = tiny_family_dir("qwen3_5")
    for path in borrowed.iterdir():
        if path.suffix in (".json", ".jinja") and not path.name.startswith(("config", "model", "generation",
                                                                            "globe_tiny")):
            shutil.copy(path, out / path.name)
    return out


def scores(texts: list[str]) -> list[tuple]:
    n = len(texts)
    return list(zip(format_rewards(texts), accuracy_rewards(texts, solution=["France\tParis"] * n),
                    visual_match_rewards(texts, entities=[[{"text": "Eiffel Tower"}, {"text": "bus"}]] * n),
                    map(think_text, texts), (parse_answer(t)[2:4] for t in texts)))


def test_ms_swift_prefixes_replies_with_the_familys_prefill_and_globe_reads_past_it(tmp_path: Path) -> None:
    import torch
    from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine

    model_dir = defaults_then_shrunk(tmp_path / "qwen3_5")
    engine = TransformersEngine(str(model_dir), model_type="qwen3_5", template_type="qwen3_5", torch_dtype=torch.float32)
    image = write_images(tmp_path / "images", 1)[0]
    request = InferRequest(messages=[{"role": "user", "content": "<image>Where was this photo taken?"}],
                           images=[str(image)])
    family = FAMILIES["qwen3_5"]
    template_default = engine.template.enable_thinking  # what --enable_thinking unset means
    for setting in (None, True, False):
        engine.template.enable_thinking = template_default if setting is None else setting
        [response] = engine.infer([request], RequestConfig(max_tokens=4, temperature=0))
        reply = response.choices[0].message.content
        prefill = family.prefill(setting)
        assert reply.startswith(prefill), (setting, reply)
        real_prefix = reply[: len(prefill)]
        own_after = OWN if not real_prefix.endswith("<think>\n") else OWN.removeprefix("<think>")
        assert scores([real_prefix + own_after]) == scores([OWN]), setting
