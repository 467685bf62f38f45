"""The scale extra is optional: the local paths never import Ray or img2dataset, and --ray without it says what to install."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


# Modules set to None in sys.modules cannot be imported: the same as an install without the extra.
WITHOUT_EXTRA = "import sys\nfor name in ('ray', 'ray.data', 'img2dataset'): sys.modules[name] = None\n"


def test_the_local_commands_import_neither_ray_nor_img2dataset():
    result = _python(
        "import sys\n"
        "import globe.distill.cli, globe.data.cli, globe.data.leakage, globe.data.download, globe.distill.ray_job\n"
        "globe.distill.cli.build_parser(); globe.data.cli.build_parser()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'img2dataset'))\n"
        "assert not loaded, loaded\n"
    )
    assert result.returncode == 0, result.stderr


def test_leakage_with_ray_missing_names_the_extra(tmp_path):
    (tmp_path / "train").mkdir()
    result = _python(WITHOUT_EXTRA + "from globe.data.cli import main\n"
                     f"sys.exit(main(['leakage', '--train', {str(tmp_path / 'train')!r}, '--test', "
                     f"{str(tmp_path / 'train')!r}, '--out', {str(tmp_path / 'p.csv')!r}, '--ray']))\n")
    assert result.returncode == 2
    assert "globe-data leakage: error: globe-data leakage --ray needs 'ray'" in result.stderr
    assert "pip install 'globe-geo[scale]'" in result.stderr


def test_distill_with_ray_missing_names_the_extra_before_any_request(tmp_path):
    from tests.support.fake_openai import FakeOpenAIServer

    gt = REPO_ROOT / "data" / "sample" / "mp16-reason-train.csv"
    with FakeOpenAIServer(model="m") as server:
        result = _python(WITHOUT_EXTRA + "from globe.distill.cli import main\n"
                         f"sys.exit(main(['--gt-file', {str(gt)!r}, '--image-root', "
                         f"{str(gt.parent / 'train_images')!r}, '--out-dir', {str(tmp_path / 'o')!r}, '--teacher', "
                         f"{server.url!r}, '--no-progress', '--image-check', 'exists', '--ray']))\n")
        assert server.counts["requests"] == 0
    assert result.returncode == 2
    assert "globe-distill --ray needs 'ray'" in result.stderr and "globe-geo[scale]" in result.stderr


def test_download_with_img2dataset_missing_names_the_no_deps_install(tmp_path):
    (tmp_path / "urls.csv").write_text("IMG_ID,url\na.jpg,http://127.0.0.1:1/a.jpg\n")
    result = _python(WITHOUT_EXTRA + "from globe.data.cli import main\n"
                     f"sys.exit(main(['download', '--urls', {str(tmp_path / 'urls.csv')!r}, '--out', "
                     f"{str(tmp_path / 'o')!r}]))\n")
    assert result.returncode == 2
    assert "pip install --no-deps 'img2dataset==1.47.0'" in result.stderr
