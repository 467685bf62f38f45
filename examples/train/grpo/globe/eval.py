"""Evaluate a served GLOBE model: a thin entry point over ``globe.eval`` (also installed as ``globe-eval``).

    python examples/train/grpo/globe/eval.py --url http://127.0.0.1:8081/v1 --dataset im2gps3k --output out.csv --use_cot
    python examples/train/grpo/globe/eval.py --url URL --gt-file my.csv --image-root imgs/ --output out.csv
    python examples/train/grpo/globe/eval.py score out.csv

Run ``--help`` for every option.
"""
import sys
from pathlib import Path

try:
    from globe.eval.cli import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
    from globe.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
