"""Specification of ``globe-infer`` against odd servers and odd files."""
from __future__ import annotations

from globe.eval.infer import main as infer_main
from globe.testing.fake_openai import FakeOpenAIServer, marked_jpeg

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
