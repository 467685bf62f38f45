"""Tiny random Qwen3-VL, Qwen3.5 and InternVL3 (transformers-native) models that ms-swift 4.6 accepts.

The same recipe as :mod:`globe.tiny_model` (Qwen2.5-VL), per family: the real architecture
from the family's transformers configuration, shrunk to a few layers of width 64, and a small
byte-level BPE padded so that the special tokens sit on the ids ms-swift's templates hard-code
(Qwen3.5's ``<|image_pad|>`` is 248056, Qwen's 151655, InternVL3's ``<IMG_CONTEXT>`` 151667).

**Scripted.** A random model writes noise, and GRPO's rewards on noise are all zero, so nothing
would show that a family's think prefill reaches the rewards intact. The blocks' output projections
are therefore zeroed (each layer adds nothing to the residual stream, so the next token depends
on the current one only) and the embeddings and output head are set so that, from the last token
of the family's generation prompt, greedy or sampled decoding follows one chain of added tokens:
the family's :data:`SCRIPT` completion (GLOBE's format after the prefill the template wrote), then
end of turn. The chain starts from the token the template's prompt ends with, for the prefill the
family is scripted for (:data:`SCRIPTED_THINKING`); the vision tower and every other weight stay
random and run in full.

Usage: ``python -m tests.support.tiny_families FAMILY [OUT_DIR]`` prints the directory it built or reused.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from globe.families import FAMILIES
from globe.tiny_model import BPE_VOCAB_SIZE, QWEN_SPECIAL_TOKENS, built_once, _training_corpus, default_cache_dir

FORMAT_VERSION = "1"

#: The visual evidence and answer the scripted models write (entities and place for the tests' rows).
SCRIPT_REASONING = "The Eiffel Tower behind a red double-decker bus."
SCRIPT_ANSWER = "country: France\ncity: Paris"
#: --enable_thinking each family's scripted chain follows (GRPO in the tests runs with it).
SCRIPTED_THINKING: dict[str, bool | None] = {"qwen3_vl": True, "qwen3_5": None, "internvl3_hf": None}

QWEN3_5_SPECIAL_TOKENS: dict[int, str] = {
    248044: "<|endoftext|>",
    248045: "<|im_start|>",
    248046: "<|im_end|>",
    248053: "<|vision_start|>",
    248054: "<|vision_end|>",
    248055: "<|vision_pad|>",
    248056: "<|image_pad|>",
    248057: "<|video_pad|>",
}
INTERNVL_SPECIAL_TOKENS: dict[int, str] = {
    **QWEN_SPECIAL_TOKENS,
    151665: "<img>",
    151666: "</img>",
    151667: "<IMG_CONTEXT>",
    151668: "<video>",
}
# Non-special added tokens (decoded as written) right after the specials: the think/answer tags and
# the script's two texts, each one token so the chain is short and unambiguous.
SCRIPT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>", SCRIPT_REASONING, SCRIPT_ANSWER]


def script_pieces(prefill: str) -> list[str]:
    """The tokens the scripted model writes after ``prefill``: GLOBE's format, continuing an open block."""
    tail = [SCRIPT_REASONING, "</think>", "<answer>", SCRIPT_ANSWER, "</answer>"]
    if prefill and prefill.rfind("<think>") > prefill.rfind("</think>"):
        return tail
    return ["<think>", *tail]


def build_tokenizer(specials: dict[int, str], eos: str, pad: str, chat_template: str,
                    extra_special: dict[str, str] | None = None):
    """A tiny byte-level BPE padded to the family's special-token ids, plus the script's added tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)
    spec = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = spec["model"]["vocab"]
    next_id, filler = len(vocab), 0
    while next_id < min(specials):
        token = f"w{filler}"
        filler += 1
        if token not in vocab:
            vocab[token] = next_id
            next_id += 1
    specials = {**{i: f"<|reserved_{i}|>" for i in range(min(specials), max(specials))}, **specials}  # no gaps
    spec["added_tokens"] = [
        {"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True}
        for i, text in sorted(specials.items())
    ]
    full = Tokenizer.from_str(json.dumps(spec))
    first_free = max(specials) + 1
    for offset, text in enumerate(SCRIPT_TOKENS):
        full.add_tokens([AddedToken(text, special=False, normalized=False)])
        assert full.token_to_id(text) == first_free + offset, text
    wrapped = PreTrainedTokenizerFast(tokenizer_object=full, eos_token=eos, pad_token=pad, unk_token=None,
                                      bos_token=None, model_max_length=32768, clean_up_tokenization_spaces=False,
                                      extra_special_tokens=extra_special or {})
    wrapped.chat_template = chat_template
    for token_id, text in specials.items():
        assert wrapped.convert_tokens_to_ids(text) == token_id, text
    return wrapped


def _qwen_chat_template(think_default_open: bool | None) -> str:
    """A Qwen-style jinja template: Qwen3.5 adds the empty think block unless thinking is on."""
    suffix = "<|im_start|>assistant\n"
    if think_default_open is not None:
        suffix += ("{% if enable_thinking is defined and enable_thinking %}<think>\n"
                   "{% else %}<think>\n\n</think>\n\n{% endif %}")
    return (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for content in message['content'] %}"
        "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
        "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}" + suffix + "{% endif %}"
    )


def _script_model(model, tokenizer, prompt_tail: str, prefill: str, eos_id: int, seed: int) -> None:
    """Zero each block's output and wire embeddings and head into the script's chain (see module docstring)."""
    import torch

    language_model = model.get_decoder() if hasattr(model, "get_decoder") else model.model.language_model
    with torch.no_grad():
        for name, module in language_model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in ("o_proj", "down_proj", "out_proj"):
                module.weight.zero_()
                if module.bias is not None:
                    module.bias.zero_()
        start = tokenizer.encode(prompt_tail + prefill, add_special_tokens=False)[-1]
        chain = [start, *tokenizer.convert_tokens_to_ids(script_pieces(prefill)), eos_id]
        embeddings = model.get_input_embeddings().weight
        head = model.get_output_embeddings().weight
        generator = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(embeddings.shape[1], len(chain), generator=generator))
        for index, (current, following) in enumerate(zip(chain, chain[1:])):
            direction = basis[:, index].to(embeddings.dtype)
            embeddings[current] = direction
            head[following] = 10.0 * direction


def _save(model, processor, out: Path, family: str, prefill: str) -> None:
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    processor.tokenizer.save_pretrained(out)
    (out / "globe_tiny_model.json").write_text(json.dumps(
        {"format_version": FORMAT_VERSION, "family": family, "scripted_prefill": prefill,
         "script": script_pieces(prefill)}))


def _text_config(vocab_size: int, special: dict[int, str], **extra) -> dict:
    ids = {text: i for i, text in special.items()}
    return {"vocab_size": vocab_size, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": False, **extra}


def _qwen3_vision_config(**extra: object) -> dict[str, object]:
    """The tiny vision tower Qwen3-VL and Qwen3.5 share: 32-pixel tokens (16-pixel patches merged 2x2)."""
    return {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
            "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 64,
            **extra}


def _qwen3_processor(tokenizer):
    """The processor Qwen3-VL and Qwen3.5 share, with a 4-16 token image budget."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    size = {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 16}
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, size=size),
        tokenizer=tokenizer, video_processor=Qwen3VLVideoProcessor(), chat_template=tokenizer.chat_template)


def build_tiny_qwen3_vl(out: Path, seed: int = 0) -> Path:
    """A tiny random Qwen3-VL (``qwen3_vl``), scripted for ``--enable_thinking true``."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(QWEN_SPECIAL_TOKENS, "<|im_end|>", "<|endoftext|>", _qwen_chat_template(None))
    config = Qwen3VLConfig(
        text_config=_text_config(151936, QWEN_SPECIAL_TOKENS, head_dim=16, rope_parameters={
            "rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [2, 3, 3], "mrope_interleaved": True}),
        vision_config=_qwen3_vision_config(deepstack_visual_indexes=[1]),
        tie_word_embeddings=False)
    config.architectures = ["Qwen3VLForConditionalGeneration"]
    model = Qwen3VLForConditionalGeneration(config).to(torch.float32)
    processor = _qwen3_processor(tokenizer)
    prefill = FAMILIES["qwen3_vl"].prefill(SCRIPTED_THINKING["qwen3_vl"])
    _script_model(model, tokenizer, "<|im_start|>assistant\n", prefill, 151645, seed)
    model.generation_config.eos_token_id = [151645, 151643]
    model.generation_config.pad_token_id = 151643
    _save(model, processor, out, "qwen3_vl", prefill)
    return out


def build_tiny_qwen3_5(out: Path, seed: int = 0) -> Path:
    """A tiny random Qwen3.5 (``qwen3_5``: a linear-attention and a full-attention layer), scripted for its default."""
    import torch
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(QWEN3_5_SPECIAL_TOKENS, "<|im_end|>", "<|endoftext|>", _qwen_chat_template(False))
    config = Qwen3_5Config(
        text_config=_text_config(
            248064, QWEN3_5_SPECIAL_TOKENS, head_dim=32, layer_types=["linear_attention", "full_attention"],
            linear_key_head_dim=16, linear_value_head_dim=16, linear_num_key_heads=2, linear_num_value_heads=4,
            rope_parameters={"rope_type": "default", "rope_theta": 10000000.0, "partial_rotary_factor": 0.25,
                             "mrope_section": [2, 1, 1], "mrope_interleaved": True}),
        vision_config=_qwen3_vision_config(),
        tie_word_embeddings=False)
    config.architectures = ["Qwen3_5ForConditionalGeneration"]
    model = Qwen3_5ForConditionalGeneration(config).to(torch.float32)
    processor = _qwen3_processor(tokenizer)
    prefill = FAMILIES["qwen3_5"].prefill(SCRIPTED_THINKING["qwen3_5"])
    _script_model(model, tokenizer, "<|im_start|>assistant\n", prefill, 248046, seed)
    model.generation_config.eos_token_id = [248046, 248044]
    model.generation_config.pad_token_id = 248044
    _save(model, processor, out, "qwen3_5", prefill)
    return out


def build_tiny_internvl3_hf(out: Path, seed: int = 0) -> Path:
    """A tiny random transformers-native InternVL3 (``internvl`` / ``internvl_hf``), 56-pixel tiles of 4 tokens."""
    import torch
    from transformers import (GotOcr2ImageProcessor, InternVLConfig, InternVLForConditionalGeneration,
                              InternVLProcessor, InternVLVideoProcessor)

    torch.manual_seed(seed)
    extra = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    chat = _qwen_chat_template(None).replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>\n")
    tokenizer = build_tokenizer(INTERNVL_SPECIAL_TOKENS, "<|im_end|>", "<|endoftext|>", chat, extra)
    tile = 56
    config = InternVLConfig(
        vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                       "image_size": [tile, tile], "patch_size": [14, 14]},
        text_config={"model_type": "qwen2", **_text_config(151936, QWEN_SPECIAL_TOKENS)},
        image_token_id=151667, image_seq_length=(tile // 14) ** 2 // 4, downsample_ratio=0.5,
        tie_word_embeddings=False)
    config.architectures = ["InternVLForConditionalGeneration"]
    model = InternVLForConditionalGeneration(config).to(torch.float32)
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size={"height": tile, "width": tile}, crop_to_patches=True,
                                              max_patches=2),
        tokenizer=tokenizer, video_processor=InternVLVideoProcessor(size={"height": tile, "width": tile}),
        image_seq_length=config.image_seq_length, chat_template=chat)
    prefill = FAMILIES["internvl3_hf"].prefill(SCRIPTED_THINKING["internvl3_hf"])
    _script_model(model, tokenizer, "<|im_start|>assistant\n", prefill, 151645, seed)
    model.generation_config.eos_token_id = [151645, 151643]
    model.generation_config.pad_token_id = 151643
    _save(model, processor, out, "internvl3_hf", prefill)
    return out


BUILDERS = {"qwen3_vl": build_tiny_qwen3_vl, "qwen3_5": build_tiny_qwen3_5, "internvl3_hf": build_tiny_internvl3_hf}


def _is_complete(directory: Path) -> bool:
    try:
        return json.loads((directory / "globe_tiny_model.json").read_text()).get("format_version") == FORMAT_VERSION
    except (OSError, ValueError):
        return False


def tiny_family_dir(family: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached tiny model of ``family``, built once (atomically, as :func:`globe.tiny_model.tiny_model_dir`)."""
    if family not in BUILDERS:
        raise ValueError(f"no tiny builder for family {family!r}: use one of {', '.join(BUILDERS)}")
    target = Path(cache_dir) if cache_dir else default_cache_dir() / f"tiny-{family}"
    return built_once(target, BUILDERS[family], _is_complete)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(BUILDERS))
    parser.add_argument("out_dir", nargs="?", help="where to build it (default: the shared cache)")
    args = parser.parse_args(argv)
    print(tiny_family_dir(args.family, args.out_dir))


if __name__ == "__main__":
    main()
