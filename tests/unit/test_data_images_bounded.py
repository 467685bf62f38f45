"""The bounded image reader (globe.data.images.request_image) and the eval/distill rows it protects."""
from __future__ import annotations

import asyncio
import io
import os

import pytest
from PIL import Image

from globe.data.images import ImageError, request_image
from globe.eval.data import load_ground_truth
from globe.eval.runner import EvalSettings, read_output_rows, run_eval_with_server
from globe.geo import resolve
from globe.prompts import geo_prompt
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set


def _jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize(size).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_an_image_within_the_budget_is_sent_byte_for_byte(tmp_path):
    (tmp_path / "a.jpg").write_bytes(_jpeg((640, 480)))
    assert request_image(tmp_path / "a.jpg", max_pixels=1_003_520) == (tmp_path / "a.jpg").read_bytes()


def test_a_larger_image_is_sent_as_a_jpeg_within_the_budget_keeping_its_shape(tmp_path):
    (tmp_path / "big.jpg").write_bytes(_jpeg((4000, 3000)))
    with Image.open(io.BytesIO(request_image(tmp_path / "big.jpg", max_pixels=1_003_520))) as sent:
        assert sent.format == "JPEG" and sent.size == (1156, 867)


def test_a_zero_budget_sends_even_a_large_image_as_is(tmp_path):
    (tmp_path / "big.jpg").write_bytes(_jpeg((4000, 3000)))
    assert request_image(tmp_path / "big.jpg", max_pixels=0) == (tmp_path / "big.jpg").read_bytes()


def test_the_budget_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(_jpeg((640, 480)))
    monkeypatch.setenv("GLOBE_MAX_IMAGE_PIXELS", "1200")
    with Image.open(io.BytesIO(request_image(tmp_path / "a.jpg"))) as sent:
        assert sent.size == (40, 30)


def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "x.jpg")
    with pytest.raises(ImageError, match=r"x\.jpg is a FIFO, not an image file") as caught:
        request_image(tmp_path / "x.jpg")
    assert caught.value.status == "unreadable_image"


def test_a_symlink_to_dev_zero_is_refused(tmp_path):
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    with pytest.raises(ImageError, match=r"zero\.jpg is a device"):
        request_image(tmp_path / "zero.jpg")


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "a.jpg").write_bytes(_jpeg((64, 64)))
    with pytest.raises(ImageError, match="over the 100-byte limit"):
        request_image(tmp_path / "a.jpg", max_bytes=100)


def test_a_file_that_is_not_an_image_is_a_corrupt_image(tmp_path):
    (tmp_path / "a.jpg").write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ImageError, match=r"cannot decode .*a\.jpg") as caught:
        request_image(tmp_path / "a.jpg")
    assert caught.value.status == "corrupt_image"


def test_a_truncated_jpeg_is_a_corrupt_image(tmp_path):
    data = _jpeg((800, 600))
    (tmp_path / "a.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as caught:
        request_image(tmp_path / "a.jpg")
    assert caught.value.status == "corrupt_image"


def test_eval_records_a_fifo_and_a_dev_zero_link_as_rows_and_finishes(tmp_path):
    answer = "<answer>country: France\ncity: Paris</answer>"
    rows = [(name, 48.85341, 2.3488, "France", "Paris", answer) for name in ("ok.jpg", "fifo.jpg", "zero.jpg")]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    (images / "fifo.jpg").unlink()
    os.mkfifo(images / "fifo.jpg")
    (images / "zero.jpg").unlink()
    (images / "zero.jpg").symlink_to("/dev/zero")
    gt = load_ground_truth(gt_file, images)
    settings = EvalSettings(prompt=geo_prompt(False), concurrency=4, timeout=5.0, retries=0, backoff=0.01)
    with FakeOpenAIServer(answers=answers) as server:
        stats, _ = asyncio.run(run_eval_with_server(gt, tmp_path / "out.csv", server.url, settings, resolve,
                                                    progress=False))
        assert len(server.requests) == 1
    assert stats.status_counts == {"ok": 1, "unreadable_image": 2}
    _, written, _ = read_output_rows(tmp_path / "out.csv")
    errors = {row["IMG_ID"]: row["error"] for row in written}
    assert "is a FIFO" in errors["fifo.jpg"] and "is a device" in errors["zero.jpg"]


@pytest.mark.parametrize("limit, grown_to, fits", [(1000, 100, True), (50, 100, False), (100, 100, True)])
def test_a_file_that_grew_since_its_size_was_taken_is_read_whole_within_the_limit_or_refused(
        tmp_path, monkeypatch, limit, grown_to, fits):
    """The reader asks for the size fstat gave; bytes beyond it are still read, up to the same limit."""
    from globe.data import images

    path = tmp_path / "growing.jpg"
    path.write_bytes(bytes(range(grown_to)))
    real_fstat = os.fstat

    def stale_fstat(fd):  # the size as it was before the file grew
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 10, *info[7:]))

    with open(path, "rb") as handle:
        monkeypatch.setattr(images.os, "fstat", stale_fstat)
        if fits:
            assert images._read_capped(handle, path, limit) == bytes(range(grown_to))
        else:
            with pytest.raises(ImageError, match="grew past the 50-byte limit"):
                images._read_capped(handle, path, limit)
