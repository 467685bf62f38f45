"""Build a tiny, randomly initialised Qwen2.5-VL that ms-swift accepts as ``qwen2_5_vl``.

The real architecture and special-token ids with a few hundred thousand parameters, built fully
offline, so real ``swift sft`` / ``swift rlhf`` / ``swift deploy`` runs take seconds on a CPU. It
lives in the package, not with the test support, because ``make app`` (``globe-app --serve tiny``)
and ``make demo`` deploy it at run time. ``python -m globe.tiny_model [OUT_DIR]`` prints the
directory it built or reused (see the README, "Two commands").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

FORMAT_VERSION = "2"  # bump when the recipe below changes, so caches rebuild

QWEN_SPECIAL_TOKENS: dict[int, str] = {
    151643: "<|endoftext|>",
    151644: "<|im_start|>",
    151645: "<|im_end|>",
    151646: "<|object_ref_start|>",
    151647: "<|object_ref_end|>",
    151648: "<|box_start|>",
    151649: "<|box_end|>",
    151650: "<|quad_start|>",
    151651: "<|quad_end|>",
    151652: "<|vision_start|>",
    151653: "<|vision_end|>",
    151654: "<|vision_pad|>",
    151655: "<|image_pad|>",
    151656: "<|video_pad|>",
    151657: "<tool_call>",
    151658: "</tool_call>",
    151659: "<|fim_prefix|>",
    151660: "<|fim_middle|>",
    151661: "<|fim_suffix|>",
    151662: "<|fim_pad|>",
    151663: "<|repo_name|>",
    151664: "<|file_sep|>",
}
MODEL_VOCAB_SIZE = 151936  # Qwen2.5's embedding rows (larger than the tokenizer, as in the real model)
BPE_VOCAB_SIZE = 1200

# A Qwen2-style chat template, so plain transformers users (and `apply_chat_template`) see what
# ms-swift's `qwen2_5_vl` template produces.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _training_corpus() -> list[str]:
    """Text the tiny BPE learns merges from: GLOBE's prompts, answers and some place names."""
    from globe import prompts

    places = (
        "France Paris Germany Berlin Munich Italy Rome Florence Spain Madrid Barcelona Japan Tokyo "
        "United States New York Los Angeles Brazil Rio de Janeiro Australia Sydney Canada Toronto "
        "China Beijing Shanghai India Mumbai Delhi Russia Moscow Egypt Cairo Kenya Nairobi Mexico "
        "Czechia Prague United Kingdom London Argentina Buenos Aires South Africa Cape Town"
    )
    texts = [
        prompts.GEO_COT_PROMPT,
        prompts.GEO_DIRECT_PROMPT,
        prompts.LOCATABILITY_SYSTEM_PROMPT,
        prompts.TEACHER_PROMPT,
        "You are a helpful assistant.",
        "<think>The signs are in Cyrillic and the trams are Tatra T3.</think>"
        "<answer>country: Czechia\ncity: Prague</answer> yes no Yes No",
        places,
    ]
    return texts * 4


def build_tokenizer(out_dir: Path):
    """Train the tiny byte-level BPE and wrap it as a ``Qwen2TokenizerFast``-compatible tokenizer.

    ms-swift's ``qwen2_5_vl`` template hard-codes Qwen's special-token ids (``<|image_pad|>`` =
    151655 and friends), so a small BPE (trained on GLOBE's own prompts, so prompts stay short) is
    padded with filler entries up to Qwen's ids. Fillers are plain ASCII strings no merge produces:
    encoding never emits them, and they decode to readable noise when the random model samples them.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)

    spec = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = spec["model"]["vocab"]
    first_special = min(QWEN_SPECIAL_TOKENS)
    next_id = len(vocab)
    filler = 0
    while next_id < first_special:
        token = f"w{filler}"
        filler += 1
        if token in vocab:
            continue
        vocab[token] = next_id
        next_id += 1
    spec["model"]["vocab"] = vocab
    spec["added_tokens"] = [
        {"id": token_id, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for token_id, text in sorted(QWEN_SPECIAL_TOKENS.items())
    ]
    full = Tokenizer.from_str(json.dumps(spec))
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=full,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    assert wrapped.convert_tokens_to_ids("<|image_pad|>") == 151655
    return wrapped


def build_tiny_qwen2_5_vl(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL (weights, config, tokenizer, processor) to ``out_dir``."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(out)
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": MODEL_VOCAB_SIZE,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "pad_token_id": 151643,
            "tie_word_embeddings": True,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
        },
        tie_word_embeddings=True,
    )
    config.architectures = ["Qwen2_5_VLForConditionalGeneration"]
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32)
    model.generation_config.eos_token_id = [151645, 151643]
    model.generation_config.pad_token_id = 151643
    model.generation_config.do_sample = False

    # Small images keep sequences short on a CPU; the real model's defaults are far larger.
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    video_processor = Qwen2VLVideoProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )
    _nudge_first_token_to_yes_no(model, processor, seed)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "globe_tiny_model.json").write_text(json.dumps({"format_version": FORMAT_VERSION, "seed": seed}))
    return out


def _nudge_first_token_to_yes_no(model, processor, seed: int) -> None:
    """Make "yes" and "no" the two likeliest first tokens of any answer (P(yes) ~ 0.6 of the pair).

    A random model almost never puts "yes"/"no" among its top logprobs, so a locatability reward
    served by it would only ever exercise the fallback path. In a random 2-layer model the final
    hidden state at the generation position points in nearly the same direction whatever the
    input (it is dominated by the template's last token), so aligning the two (tied) embedding
    rows with that direction gives real, input-dependent logprobs with yes and no on top.
    """
    import torch

    from PIL import Image

    from globe import prompts

    tokenizer = processor.tokenizer
    yes_id, no_id = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    states = []
    for i, text in enumerate(["<think>Cyrillic signs.</think><answer>country: Russia\ncity: Moscow</answer>", "x"]):
        messages = [
            {"role": "system", "content": prompts.LOCATABILITY_SYSTEM_PROMPT},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]},
        ]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = processor(text=[prompt], images=[Image.new("RGB", (96, 80), (60 + 120 * i, 140, 200 - 90 * i))], return_tensors="pt")
        with torch.no_grad():
            states.append(model(**inputs, output_hidden_states=True).hidden_states[-1][0, -1])
    hidden = torch.stack(states)
    direction = torch.nn.functional.normalize(hidden.mean(0), dim=0)
    generator = torch.Generator().manual_seed(seed)
    other = torch.randn(direction.shape[0], generator=generator)
    other = torch.nn.functional.normalize(other - (other @ direction) * direction, dim=0)
    scale = 12.0 / float(hidden.norm(dim=-1).mean())
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings[yes_id] = scale * direction
        embeddings[no_id] = scale * (0.97 * direction + 0.25 * other)


def default_cache_dir() -> Path:
    """``$GLOBE_CACHE_DIR`` or ``~/.cache/globe``: shared by tests, benchmarks and the demo."""
    return Path(os.environ.get("GLOBE_CACHE_DIR") or Path.home() / ".cache" / "globe")


def _is_complete(directory: Path) -> bool:
    marker = directory / "globe_tiny_model.json"
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("format_version") == FORMAT_VERSION
    except (OSError, ValueError):
        return False


def built_once(target: Path, build: Callable[[Path], None], is_complete: Callable[[Path], bool]) -> Path:
    """``target`` built by ``build`` into a staging folder renamed into place, unless already complete.

    Atomic, so parallel callers (test workers, the demo and the app) never see half a model; the
    first to finish wins and the others drop their copy.
    """
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(staging)
        if is_complete(target):  # another process won the race
            return target
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def tiny_model_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached tiny model, built once (:func:`built_once`)."""
    target = Path(cache_dir) if cache_dir else default_cache_dir() / "tiny-qwen2_5_vl"
    return built_once(target, build_tiny_qwen2_5_vl, _is_complete)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", help="where to build it (default: the shared cache)")
    args = parser.parse_args(argv)
    print(tiny_model_dir(args.out_dir))


if __name__ == "__main__":
    main()
