"""globe-distill end to end against scripted loopback teachers: known answers -> known rows and counts."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from globe.data.convert import OUTPUT_KEYS
from globe.data.swift_rows import to_swift_row
from globe.distill.cli import main
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT, format_answer
from tests.support.fake_openai import FakeOpenAIServer, answer_by_marker, marked_jpeg

# image id -> (lat, lon, city, country) of real places
PLACES = {
    "PARIS": (48.8566, 2.3522, "Paris", "France"),
    "TOKYO": (35.6762, 139.6503, "Tokyo", "Japan"),
    "ROME": (41.9028, 12.4964, "Rome", "Italy"),
    "CAIRO": (30.0444, 31.2357, "Cairo", "Egypt"),
    "SYDNEY": (-33.8688, 151.2093, "Sydney", "Australia"),
    "MADRID": (40.4168, -3.7038, "Madrid", "Spain"),
    "LIMA": (-12.0464, -77.0428, "Lima", "Peru"),
    "BERLIN": (52.5200, 13.4050, "Berlin", "Germany"),
}
VISIBLE = {"Eiffel Tower", "Haussmann facades", "kanji signage", "Tokyo Tower", "Plaza de Armas", "Colosseum", "Roman pines"}
_ENTITY_IN_PROMPT = re.compile("\u201c(.*?)\u201d")


def teacher_json(country, city, locatable="yes", confidence=0.9, entities=(), reasoning=None):
    return json.dumps({
        "locatable": locatable, "confidence": confidence,
        "reasoning": reasoning if reasoning is not None else f"The clues point to {city}, {country}.",
        "entities": list(entities), "country": country, "city": city,
    })


def make_world(root: Path, ids) -> Path:
    """JPEGs carrying their id (so the fake server can pick the answer) and a plain GT CSV."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = ["IMG_ID,LAT,LON,city,country"]
    for image_id in ids:
        lat, lon, city, country = PLACES[image_id.split("_")[0]]
        (images / f"{image_id}.jpg").write_bytes(marked_jpeg(f"<{image_id}>"))
        lines.append(f"{image_id}.jpg,{lat},{lon},{city},{country}")
    gt = root / "gt.csv"
    gt.write_text("\n".join(lines) + "\n")
    return gt


def scripted(answers: dict[str, str], default: str = "no idea"):
    """Teacher answers by image id; entity-verifier questions answered from VISIBLE."""
    by_marker = answer_by_marker({f"<{k}>": v for k, v in answers.items()}, default)

    def respond(request: dict) -> str:
        text = " ".join(part.get("text", "") for m in request["messages"] for part in m["content"]
                        if isinstance(part, dict) and part.get("type") == "text")
        match = _ENTITY_IN_PROMPT.search(text)
        if text.startswith("Is the following visible") and match:
            return "Yes." if match.group(1) in VISIBLE else "No."
        return by_marker(request)

    return respond


def distill(root: Path, gt: Path, teachers: list[str], *extra: str, out: str = "out") -> int:
    args = ["--gt-file", str(gt), "--image-root", str(root / "images"), "--out-dir", str(root / out),
            "--no-progress", "--backoff", "0.01", "--timeout", "10", "--concurrency", "4"]
    for url in teachers:
        args += ["--teacher", url]
    return main(args + list(extra))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def report_of(root: Path, out: str = "out") -> dict:
    return json.loads((root / out / "report.json").read_text())


KNOWN = {
    "PARIS": teacher_json("France", "Paris", entities=["Eiffel Tower", "Haussmann facades"]),
    "TOKYO": "Here it is:\n```json\n" + teacher_json("Japan", "Tokyo", entities=["kanji signage", "Tokyo Tower", "a unicorn"])
             + "\n```\ncountry: Japan\ncity: Tokyo",
    "ROME": teacher_json("Greece", "Athens", entities=["Colosseum", "Roman pines"]),
    "CAIRO": teacher_json("Egypt", "Cairo", locatable="no", confidence=0.9),
    "SYDNEY": teacher_json("Australia", "Sydney", confidence=0.5),
    "MADRID": "lorem ipsum dolor sit amet",
    "LIMA": teacher_json("Peru", "Lima", entities=["a unicorn", "Plaza de Armas"]),
    "BERLIN": "Brandenburg-style gate.\ncountry: Germany\ncity: Berlin",
}


def test_known_answers_give_known_rows_rm_rows_and_report(tmp_path):
    gt = make_world(tmp_path, KNOWN)
    with FakeOpenAIServer(responder=scripted(KNOWN), model="teacher-72b") as server:
        assert distill(tmp_path, gt, [f"{server.url}=teacher-72b"], "--verifier", server.url) == 0

    out = tmp_path / "out"
    train = {row["image_id"]: row for row in read_jsonl(out / "train.jsonl")}
    assert sorted(train) == ["PARIS.jpg", "TOKYO.jpg"]
    tokyo = train["TOKYO.jpg"]
    assert list(tokyo) == list(OUTPUT_KEYS)
    assert tokyo["solution"] == "Japan\tTokyo" and (tokyo["lat"], tokyo["lon"]) == (35.6762, 139.6503)
    assert tokyo["entities"] == [{"text": "kanji signage"}, {"text": "Tokyo Tower"}]  # the unicorn was not seen
    assert tokyo["reasoning"] == "The clues point to Tokyo, Japan." and tokyo["locatable"] == "yes"
    assert tokyo["images"] == ["../images/TOKYO.jpg"]

    # The rows are what the registry turns into SFT and GRPO samples.
    sft = to_swift_row(tokyo, "sft", base_dir=str(out))
    assert sft["images"] == [str(tmp_path / "images" / "TOKYO.jpg")]
    assert sft["messages"][1]["content"] == format_answer("Japan", "Tokyo", "The clues point to Tokyo, Japan.")
    assert to_swift_row(tokyo, "grpo", base_dir=str(out))["solution"] == "Japan\tTokyo"

    candidates = read_jsonl(out / "distill" / "rm_candidates.jsonl")
    assert sorted((c["image_id"], c["locatable"]) for c in candidates) == [
        ("CAIRO.jpg", "no"), ("LIMA.jpg", "no"), ("PARIS.jpg", "yes"), ("ROME.jpg", "no"),
        ("SYDNEY.jpg", "no"), ("TOKYO.jpg", "yes"),
    ]
    rm = read_jsonl(out / "rm.jsonl")
    assert Counter(r["locatable"] for r in rm) == {"yes": 2, "no": 2}  # the 4 "no" downsampled to 2
    assert all(list(r) == list(OUTPUT_KEYS) for r in rm)
    rm_row = to_swift_row(rm[0], "rm", base_dir=str(out))
    assert rm_row["messages"][0]["content"] == LOCATABILITY_SYSTEM_PROMPT
    assert rm_row["messages"][2]["content"] == rm[0]["locatable"]

    report = report_of(tmp_path)
    assert (report["rows_in"], report["rows_processed"], report["rows_kept"], report["rows_dropped"],
            report["rows_failed"]) == (8, 8, 2, 6, 0)
    assert report["dropped_by_reason"] == {
        "unparseable": 1, "no_locatability": 1, "judged_unlocatable": 1, "low_confidence": 1,
        "gt_mismatch": 1, "too_few_grounded_entities": 1,
    }
    assert report["funnel"] == {
        "processed_without_failure": 8, "after_answer": 7, "after_locatability": 4, "after_gt_agreement": 3,
        "after_teacher_agreement": 3, "after_grounding": 2,
    }
    teacher = report["teachers"][0]
    assert teacher["name"] == f"teacher-72b @ {server.url}"
    assert teacher["answered"] == 8 and teacher["parsed_from"] == {"json": 6, "lines": 1, "none": 1}
    assert teacher["gt_agreement"]["compared"] == 7 and teacher["gt_agreement"]["agree"] == 6
    assert teacher["tokens"]["total_tokens"] > 0 and teacher["requests"] == 8
    # Verifier: 2 entities for Paris, 3 for Tokyo, 2 for Lima; the unicorn (twice) and nothing else unseen.
    assert report["verifier"]["entities_checked"] == 7
    assert (report["verifier"]["seen"], report["verifier"]["not_seen"]) == (5, 2)
    assert report["reward_model"] == {"balance": "downsample", "candidates": {"yes": 2, "no": 4},
                                      "written": {"yes": 2, "no": 2}}
    assert report["tokens"]["total_tokens"] == teacher["tokens"]["total_tokens"] + report["verifier"]["tokens"]["total_tokens"]


def test_every_malformed_answer_is_recorded_with_its_reason(tmp_path):
    answers = {
        "PARIS_1": "",
        "PARIS_2": '{"locatable": "yes", "confidence": 0.9, "reasoning": "cut off by max_tok',
        "PARIS_3": teacher_json("unknown", "[city name]"),
        "PARIS_4": teacher_json("France", "Paris", reasoning=""),
        "PARIS_5": "{'locatable': 'yes', 'confidence': 0.8, 'reasoning': 'Zinc roofs.', 'country': 'France', 'city': 'Paris',}",
        "PARIS_6": "```\nnot json at all\n```",
    }
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url], "--min-entities", "0") == 0
    report = report_of(tmp_path)
    assert report["dropped_by_reason"] == {"empty_answer": 1, "unparseable": 2, "no_country": 1, "no_reasoning": 1}
    assert report["rows_kept"] == 1
    assert [r["image_id"] for r in read_jsonl(tmp_path / "out" / "train.jsonl")] == ["PARIS_5.jpg"]
    teacher = report["teachers"][0]
    assert teacher["unusable_answers"] == {"empty_answer": 1, "unparseable": 2, "no_country": 1, "no_reasoning": 1}
    assert teacher["answer_problems"]["repaired_json"] == 1
    ledger = {e["image_id"]: e for e in read_jsonl(tmp_path / "out" / "distill" / "ledger.jsonl")}
    assert ledger["PARIS_2.jpg"]["teachers"][0]["text"].startswith('{"locatable"')  # raw answer kept for audit


def test_two_teachers_must_name_the_same_place(tmp_path):
    first = {"PARIS_1": teacher_json("France", "Paris"), "PARIS_2": teacher_json("France", "Paris"),
             "PARIS_3": teacher_json("France", "Paris")}
    second = {"PARIS_1": teacher_json("France", "Paris", reasoning="second teacher"),
              "PARIS_2": teacher_json("France", "Lyon"),
              "PARIS_3": teacher_json("France", "Versailles")}  # 17 km away: the same place in city-or-km mode
    gt = make_world(tmp_path, first)
    with FakeOpenAIServer(responder=scripted(first), model="a") as a, \
            FakeOpenAIServer(responder=scripted(second), model="b") as b:
        assert distill(tmp_path, gt, [a.url, b.url], "--gt-match", "country") == 0
        assert distill(tmp_path, gt, [a.url, b.url], "--gt-match", "country", "--min-agreeing", "1", out="one") == 0

    report = report_of(tmp_path)
    assert report["dropped_by_reason"] == {"teachers_disagree": 1}
    kept = {row["image_id"]: row for row in read_jsonl(tmp_path / "out" / "train.jsonl")}
    assert sorted(kept) == ["PARIS_1.jpg", "PARIS_3.jpg"]
    assert kept["PARIS_1.jpg"]["reasoning"] == "The clues point to Paris, France."  # the first teacher's
    pair = report["teacher_agreement"][0]
    assert (pair["compared"], pair["agree"], pair["country_match_rate"]) == (3, 2, 1.0)
    assert report["teachers"][1]["gt_agreement"]["city_match_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert report_of(tmp_path, "one")["rows_kept"] == 3


def test_a_teacher_failing_20_percent_is_recovered_by_retries(tmp_path):
    answers = {f"PARIS_{i}": teacher_json("France", "Paris") for i in range(20)}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers), error_rate=0.2, max_faults_per_request=2, seed=3) as server:
        assert distill(tmp_path, gt, [server.url], "--retries", "3", "--no-grounding") == 0
        errors = server.counts["error"]
    assert errors > 0
    report = report_of(tmp_path)
    assert (report["rows_kept"], report["rows_failed"]) == (20, 0)
    teacher = report["teachers"][0]
    assert teacher["requests"] == 20 and teacher["attempts"] == 20 + errors
    assert len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 20


def test_failed_rows_are_recorded_never_lost_and_retried_on_the_next_run(tmp_path):
    answers = {f"PARIS_{i}": teacher_json("France", "Paris") for i in range(20)}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers), error_rate=0.2, max_faults_per_request=1, seed=3) as server:
        assert distill(tmp_path, gt, [server.url], "--retries", "0") == 0
        failed = server.counts["error"]
        first = report_of(tmp_path)
        assert failed > 0
        assert (first["rows_kept"], first["rows_failed"]) == (20 - failed, failed)
        assert first["failed_by_reason"] == {"teacher_request_failed": failed}
        assert first["teachers"][0]["request_failures_by_status"] == {"http_500": failed}
        failed_ids = {e["image_id"] for e in read_jsonl(tmp_path / "out" / "distill" / "ledger.jsonl")
                      if e["outcome"] == "failed"}
        assert len(failed_ids) == failed

        assert distill(tmp_path, gt, [server.url], "--retries", "0") == 0  # same command: retries the failures
        assert server.counts["requests"] == 20 + failed
    second = report_of(tmp_path)
    assert (second["rows_processed"], second["rows_kept"], second["rows_failed"]) == (20, 20, 0)
    assert second["teachers"][0]["requests"] == 20 + failed  # cost counts every request ever made
    ids = [row["image_id"] for row in read_jsonl(tmp_path / "out" / "train.jsonl")]
    assert len(ids) == len(set(ids)) == 20


def test_a_finished_run_re_run_is_a_no_op(tmp_path):
    answers = {f"TOKYO_{i}": teacher_json("Japan", "Tokyo") for i in range(3)}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url]) == 0
        before = (tmp_path / "out" / "train.jsonl").read_text()
        assert distill(tmp_path, gt, [server.url]) == 0
        assert server.counts["requests"] == 3
    assert (tmp_path / "out" / "train.jsonl").read_text() == before


def test_sample_and_limit_select_a_deterministic_slice(tmp_path):
    answers = {f"TOKYO_{i}": teacher_json("Japan", "Tokyo") for i in range(12)}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url], "--sample", "5", "--seed", "7", "--limit", "3") == 0
        assert distill(tmp_path, gt, [server.url], "--sample", "5", "--seed", "7", "--limit", "3", out="again") == 0
        assert distill(tmp_path, gt, [server.url], "--limit", "2", out="head") == 0
    ids = [e["image_id"] for e in read_jsonl(tmp_path / "out" / "distill" / "ledger.jsonl")]
    again = [e["image_id"] for e in read_jsonl(tmp_path / "again" / "distill" / "ledger.jsonl")]
    assert len(ids) == 3 and sorted(ids) == sorted(again)
    assert report_of(tmp_path)["rows_in"] == 3
    assert sorted(e["image_id"] for e in read_jsonl(tmp_path / "head" / "distill" / "ledger.jsonl")) == \
        ["TOKYO_0.jpg", "TOKYO_1.jpg"]


def test_an_unreachable_teacher_stops_before_any_row_with_a_clear_error(tmp_path, capsys):
    gt = make_world(tmp_path, {"PARIS": ""})
    with FakeOpenAIServer() as server:
        url = server.url  # the port is closed once the server stops
    assert distill(tmp_path, gt, [url], "--retries", "0") == 2
    assert f"teacher {url}" in capsys.readouterr().err


def test_a_resume_with_other_filter_settings_is_refused(tmp_path, capsys):
    answers = {"PARIS": teacher_json("France", "Paris")}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url]) == 0
        assert distill(tmp_path, gt, [server.url], "--min-confidence", "0.9") == 2
        assert "other settings" in capsys.readouterr().err
        assert distill(tmp_path, gt, [server.url], "--min-confidence", "0.9", "--overwrite") == 0


def test_an_out_dir_with_someone_elses_train_jsonl_is_refused(tmp_path, capsys):
    gt = make_world(tmp_path, {"PARIS": ""})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.jsonl").write_text('{"image_id": "x"}\n')
    assert distill(tmp_path, gt, ["http://127.0.0.1:9/v1"]) == 2
    assert "not written by globe-distill" in capsys.readouterr().err
    assert (tmp_path / "out" / "train.jsonl").read_text() == '{"image_id": "x"}\n'


def test_teacher_api_key_comes_from_the_environment(tmp_path, monkeypatch):
    answers = {"PARIS": teacher_json("France", "Paris")}
    gt = make_world(tmp_path, answers)
    monkeypatch.setenv("GLOBE_TEACHER_API_KEY", "sk-test-123")
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url]) == 0
        assert server.authorizations == ["Bearer sk-test-123"]


def test_grounding_without_a_verifier_is_a_usage_error(tmp_path, capsys):
    gt = make_world(tmp_path, {"PARIS": ""})
    with pytest.raises(SystemExit) as exit_info:
        distill(tmp_path, gt, ["http://127.0.0.1:9/v1"], "--grounding")
    assert exit_info.value.code == 2
    assert "--verifier" in capsys.readouterr().err


def test_requests_in_flight_are_bounded_by_concurrency_and_use_it(tmp_path):
    answers = {f"TOKYO_{i}": teacher_json("Japan", "Tokyo") for i in range(12)}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers), latency_s=0.05) as server:
        assert distill(tmp_path, gt, [server.url], "--concurrency", "3") == 0
        assert server.max_in_flight == 3
    assert report_of(tmp_path)["rows_kept"] == 12


def test_a_globe_data_jsonl_is_read_as_already_converted_ground_truth(tmp_path):
    from globe.data.convert import ConvertOptions, convert

    answers = {"PARIS": teacher_json("France", "Paris"), "ROME": teacher_json("Italy", "Rome")}
    csv = make_world(tmp_path, answers)
    converted = tmp_path / "converted" / "train.jsonl"
    convert(csv, converted, ConvertOptions(image_root=tmp_path / "images", progress=False))
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert main(["--gt-file", str(converted), "--teacher", server.url, "--out-dir", str(tmp_path / "out"),
                     "--no-progress"]) == 0
    rows = {r["image_id"]: r for r in read_jsonl(tmp_path / "out" / "train.jsonl")}
    assert sorted(rows) == ["PARIS.jpg", "ROME.jpg"]
    assert rows["ROME.jpg"]["images"] == ["../images/ROME.jpg"]
    assert report_of(tmp_path)["ground_truth"]["converted"] is False


def test_a_finished_run_rebuilds_its_outputs_without_the_endpoints(tmp_path):
    answers = {"PARIS": teacher_json("France", "Paris"), "ROME": teacher_json("France", "Lyon")}
    gt = make_world(tmp_path, answers)
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        url = server.url
        assert distill(tmp_path, gt, [url]) == 0
    before = report_of(tmp_path)
    (tmp_path / "out" / "report.json").unlink()
    (tmp_path / "out" / "rm.jsonl").unlink()
    assert distill(tmp_path, gt, [url]) == 0  # the server is gone: nothing is asked
    after = report_of(tmp_path)
    before.pop("this_run"), after.pop("this_run")
    assert after == before and (tmp_path / "out" / "rm.jsonl").exists()
