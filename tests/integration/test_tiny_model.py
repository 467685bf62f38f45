"""The tiny Qwen2.5-VL that every integration test stands on."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from globe.swift_run import TINY_MODEL_ARGS, run_swift
from globe.tiny_model import QWEN_SPECIAL_TOKENS
from tests.support.images import make_image, write_images

pytestmark = pytest.mark.integration


def test_special_tokens_sit_on_qwen_ids(tiny_model: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    for token_id, text in QWEN_SPECIAL_TOKENS.items():
        assert tokenizer.convert_tokens_to_ids(text) == token_id


def test_generates_from_an_image_with_yes_or_no_first(tiny_model: str) -> None:
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_model)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model).eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Is it locatable?"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=[prompt], images=[make_image(3)], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    top_two = {processor.tokenizer.decode([int(i)]) for i in logits.topk(2).indices}
    assert top_two == {"yes", "no"}
    generated = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 4


def test_swift_sft_trains_two_steps_and_saves_a_checkpoint(tiny_model: str, tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", 4)
    rows = [
        {
            "messages": [
                {"role": "user", "content": "<image>Where was this photo taken?"},
                {"role": "assistant", "content": "<answer>country: France\ncity: Paris</answer>"},
            ],
            "images": [str(path)],
        }
        for path in images
    ]
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("\n".join(json.dumps(row) for row in rows))
    output = tmp_path / "out"
    run_swift(
        ["sft", "--model", tiny_model, *TINY_MODEL_ARGS, "--dataset", dataset, "--tuner_type", "lora",
         "--max_steps", "2", "--per_device_train_batch_size", "2", "--save_steps", "2", "--logging_steps", "1",
         "--output_dir", output],
        timeout=300,
    )
    (run_dir,) = [p for p in output.iterdir() if p.is_dir()]
    assert (run_dir / "checkpoint-2" / "adapter_model.safetensors").exists()
    logs = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    losses = [float(entry["loss"]) for entry in logs if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
