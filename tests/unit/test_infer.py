"""Specification of ``globe-infer`` against odd servers and odd files."""
from __future__ import annotations

from globe.eval.infer import main as infer_main
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

ANSWER = "<think>Fjords.</think><answer>country: Norway\ncity: Bergen</answer>"


def test_a_server_that_ignores_stream_is_read_as_one_chunk(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(marked_jpeg("A"))
    with FakeOpenAIServer(default_answer=ANSWER, ignore_stream=True) as server:
        assert infer_main([str(image), "--url", server.url]) == 0
        assert server.requests[0]["stream"] is True
    captured = capsys.readouterr()
    assert captured.out == ANSWER + "\n"
    assert "answer: country='Norway' city='Bergen'" in captured.err
    assert "chunks: 1" in captured.err


def test_a_file_that_is_not_an_image_is_refused_before_any_request(tmp_path, capsys):
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with FakeOpenAIServer(default_answer=ANSWER) as server:
        assert infer_main([str(text), "--url", server.url]) == 2
        assert server.counts["requests"] == 0
    err = capsys.readouterr().err
    assert f"error: not an image globe-infer can send (JPEG/PNG/WebP...): {text}" in err


def test_a_missing_file_is_named(tmp_path, capsys):
    assert infer_main([str(tmp_path / "gone.jpg"), "--url", "http://127.0.0.1:9/v1"]) == 2
    assert f"error: image not found: {tmp_path / 'gone.jpg'}" in capsys.readouterr().err


def test_a_hung_server_ends_at_the_deadline(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    image.write_bytes(marked_jpeg("A"))
    with FakeOpenAIServer(hang_rate=1.0, hang_s=60.0) as server:
        assert infer_main([str(image), "--url", server.url, "--model", "m", "--deadline", "0.3"]) == 1
    assert "within the 0.3 s deadline" in capsys.readouterr().err


def test_a_large_photo_is_sent_downscaled_to_the_pixel_budget_as_eval_sends_it(tmp_path, capsys):
    import base64
    import io

    from PIL import Image

    image = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (90, 120, 200)).save(image, "JPEG")
    with FakeOpenAIServer(default_answer=ANSWER) as server:
        assert infer_main([str(image), "--url", server.url, "--model", "m"]) == 0
        url = server.requests[0]["messages"][0]["content"][0]["image_url"]["url"]
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (1156, 867)  # 1,002,252 pixels: within the 1,003,520 budget, aspect kept
