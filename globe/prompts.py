"""Every prompt GLOBE sends to a model, in one place.

Training (SFT and GRPO rows), evaluation and data distillation all import from here, so the
prompt a model is trained on is, by construction, the prompt it is evaluated with. (The
released code's train and eval chain-of-thought prompts differed by a sentence: its eval prompt
lacks the first sentence and a blank line, and its direct prompt is another text. Both are kept
below, byte for byte, for ``globe-eval --released-settings``: :func:`released_eval_prompt`.)
"""
from __future__ import annotations

ANSWER_FORMAT = "country: {country}\ncity: {city}"

GEO_COT_PROMPT = """You are a geolocation expert. You are participating in a geolocation challenge. Based on the provided image:
1. Carefully analyze the image for clues about its location (architecture, signage, vegetation, terrain, etc.)
2. Think step-by-step about what country, and city this is likely to be in and why

Your final answer include these two lines somewhere in your response:
country: [country name]
city: [city name]

You MUST output the thinking process in <think> </think> and give answer in <answer> </answer> tags."""

GEO_DIRECT_PROMPT = """You are a geolocation expert. Based on the provided image, name the country and the city where it was taken.

Answer with exactly these two lines and nothing else:
country: [country name]
city: [city name]"""

LOCATABILITY_SYSTEM_PROMPT = (
    "Given input image and its location reasoning text, please determine if the image is visually "
    "locatable, then output \u201cyes\u201d or \u201cno\u201d directly.\n"
)

TEACHER_PROMPT = """You are a geolocation expert helping to build a training set. Look at the image and reply with ONE JSON object and nothing else, with these keys:
- "locatable": "yes" if the image itself holds enough visual evidence to tell where it was taken, else "no"
- "confidence": a number between 0 and 1, how sure you are of the location
- "reasoning": your step-by-step reasoning from the visual clues (architecture, signage and script, vegetation, terrain, vehicles, road markings, people) to the place
- "entities": a JSON list of the short names of the visual entities your reasoning relies on, each visible in the image (e.g. ["Cyrillic signage", "Tatra T3 tram"])
- "country": the country name
- "city": the city name

After the JSON you may repeat the answer as two lines:
country: [country name]
city: [city name]"""

ENTITY_VERIFIER_PROMPT = (
    "Is the following visible in the image: \u201c{entity}\u201d? Answer \u201cyes\u201d or \u201cno\u201d directly."
)


#: The released eval.py's chain-of-thought prompt (``PROMPT_COT``), byte for byte: the training prompt
#: without its first sentence and without the blank line before "Your final answer".
RELEASED_EVAL_COT_PROMPT = GEO_COT_PROMPT.removeprefix("You are a geolocation expert. ").replace(
    "why\n\nYour final answer", "why\nYour final answer"
)

#: The released eval.py's direct prompt (``PROMPT_NO_COT``), byte for byte.
RELEASED_EVAL_DIRECT_PROMPT = """Based on the provided image, please output its location (country and city) directly without any explanation.
Your final answer include these two lines in your response:
country: [country name]
city: [city name]"""


def geo_prompt(use_cot: bool = True) -> str:
    """The user prompt for a geolocation query: reasoning (CoT) or a direct answer."""
    return GEO_COT_PROMPT if use_cot else GEO_DIRECT_PROMPT


def released_eval_prompt(use_cot: bool = True) -> str:
    """The user prompt the released evaluation sent (``--released-settings``): CoT or direct."""
    return RELEASED_EVAL_COT_PROMPT if use_cot else RELEASED_EVAL_DIRECT_PROMPT


def format_answer(country: str, city: str, reasoning: str | None = None, prefill: str = "") -> str:
    """The target a model is trained to produce; ``reasoning`` adds the ``<think>`` part.

    ``prefill`` is what the family's chat template writes before the model at inference
    (:meth:`globe.families.Family.prefill`): the target starts with it, so SFT teaches the same
    context the model is served in. A prefill that leaves the think block open (``<think>\\n``)
    is continued by the reasoning; any other (an empty block) is followed by GLOBE's own
    ``<think>...</think>``, and ms-swift's loss skips a leading empty block.
    """
    answer = "<answer>" + ANSWER_FORMAT.format(country=country.strip(), city=city.strip()) + "</answer>"
    if prefill and prefill.rfind("<think>") > prefill.rfind("</think>"):
        return f"{prefill}{(reasoning or '').strip()}</think>{answer}"
    if reasoning is None:
        return prefill + answer
    return f"{prefill}<think>{reasoning.strip()}</think>{answer}"
