"""`globe-data download` (img2dataset) against a loopback server: failures reported, reruns fetch only what is missing."""
from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("img2dataset")

from globe.data.cli import main as data_main  # noqa: E402
from tests.support.photos import photo_like  # noqa: E402

pytestmark = pytest.mark.integration


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_like(seed, (64, 48)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_like(seed, (40, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class PhotoServer(ThreadingHTTPServer):
    """Serves the paths the test names; counts every request per path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter = Counter()
        self.flaky_failures_left = 1

    def __enter__(self) -> "PhotoServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "image/jpeg", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server: PhotoServer = self.server  # type: ignore[assignment]
        path = self.path
        server.hits[path] += 1
        kind, _, seed = path.strip("/").partition("/")
        if kind == "photo":
            self._send(200, _jpeg(int(seed)))
        elif kind == "png":
            self._send(200, _png(int(seed)), "image/png")
        elif kind == "slow":  # slower than a fast answer, well within the timeout
            time.sleep(0.5)
            self._send(200, _jpeg(int(seed)))
        elif kind == "hang":  # past the client's timeout
            time.sleep(4)
            self._send(200, _jpeg(int(seed)))
        elif kind == "text":
            self._send(200, b"<html>this is not an image</html>")
        elif kind == "robots":
            self._send(200, _jpeg(int(seed)), X_Robots_Tag="noai")
        elif kind == "flaky":
            if server.flaky_failures_left > 0:
                server.flaky_failures_left -= 1
                self._send(503, b"busy", "text/plain")
            else:
                self._send(200, _jpeg(int(seed)))
        else:
            self._send(404, b"not found", "text/plain")


def _write_list(path: Path, server: PhotoServer) -> dict[str, str]:
    rows = {
        "00123": "/photo/1", "17_8c_9450101486.jpg": "/photo/2", "a_png.png": "/png/3", "slow_one": "/slow/4",
        "dead": "/gone/5", "hangs": "/hang/6", "not_image": "/text/7", "no_ai": "/robots/8", "flaky": "/flaky/9",
    }
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "url", "LAT", "LON"])
        for n, (image_id, url_path) in enumerate(rows.items()):
            writer.writerow([image_id, server.url(url_path), f"{48.80 + n / 100:.2f}", "2.35"])  # around Paris
        writer.writerow(["refused", "http://127.0.0.1:1/nothing-listens-here.jpg", "1", "2"])
    return rows


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_download_reports_failures_and_a_rerun_fetches_only_what_is_missing(tmp_path, capsys):
    out = tmp_path / "mp16"
    args = ["download", "--urls", str(tmp_path / "urls.csv"), "--out", str(out), "--timeout", "2", "--retries", "0",
            "--threads", "8"]
    with PhotoServer() as server:
        _write_list(tmp_path / "urls.csv", server)
        assert data_main(args) == 0
        first_hits = Counter(server.hits)
        printed = capsys.readouterr().out
        failures = {row["IMG_ID"]: row["error"] for row in _csv(out / "failures.csv")}
        assert set(failures) == {"dead", "hangs", "not_image", "no_ai", "flaky", "refused"}
        assert "X-Robots-Tag" in failures["no_ai"] and "decoding" in failures["not_image"].lower()
        assert "10 listed, 0 already present, 4 fetched now, 6 failed" in printed

        images = out / "images"
        assert (images / "00123.jpg").read_bytes() == _jpeg(1)  # a bare id gets .jpg; JPEG bytes kept as sent
        assert (images / "17_8c_9450101486.jpg").read_bytes() == _jpeg(2)
        with Image.open(images / "a_png.png") as image:  # re-encoded, decodable, full size
            assert image.size == (40, 30)
        assert (images / "slow_one.jpg").is_file()
        truth = _csv(out / "ground_truth.csv")
        assert [(r["IMG_ID"], r["LAT"], r["LON"]) for r in truth] == [
            ("00123", "48.80", "2.35"), ("17_8c_9450101486.jpg", "48.81", "2.35"), ("a_png.png", "48.82", "2.35"),
            ("slow_one", "48.83", "2.35")]

        assert data_main(args) == 0  # the rerun: only the failed rows are asked for, and flaky now answers
        printed = capsys.readouterr().out
    again = server.hits - first_hits
    assert set(again) == {"/gone/5", "/hang/6", "/text/7", "/robots/8", "/flaky/9"}
    assert "10 listed, 4 already present, 1 fetched now, 5 failed" in printed
    assert (images / "flaky.jpg").read_bytes() == _jpeg(9)
    assert len(_csv(out / "ground_truth.csv")) == 5 and len(_csv(out / "failures.csv")) == 5
    assert json.loads((out / "download.report.json").read_text())["failed"] == 5
    assert not (out / ".img2dataset").exists()

    converted = tmp_path / "converted.jsonl"
    assert data_main(["convert", "--csv", str(out / "ground_truth.csv"), "--image-root", str(images), "--out",
                      str(converted), "--fill-missing", "--no-progress"]) == 0
    ids = [json.loads(line)["image_id"] for line in converted.read_text().splitlines()]
    assert sorted(ids) == sorted(["00123", "17_8c_9450101486.jpg", "a_png.png", "slow_one", "flaky"])


def test_a_url_list_without_a_url_column_is_refused_by_name(tmp_path, capsys):
    (tmp_path / "urls.csv").write_text("IMG_ID,LAT,LON\na.jpg,1,2\n")
    assert data_main(["download", "--urls", str(tmp_path / "urls.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "needs an image id column (IMG_ID, id...) and a URL column" in capsys.readouterr().err
