"""Save screenshots of the HTML report for the README: docs/report_<model>.png.

    python scripts/screenshot_html.py                 # mobilenet_v2
    python scripts/screenshot_html.py vit_b_16 --height 1600

Needs headless Chromium (apt-get update && apt-get install -y chromium). The page is the same file
`flopcount analyze <model> -f html -o report.html` writes; the screenshot is its first screen.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from flopcount import analyze
from flopcount.loading import load_model
from flopcount.render.browser import screenshot
from flopcount.render.html import render_html

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["mobilenet_v2"])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1480)
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        loaded = load_model(name)
        report = analyze(loaded.model, loaded.default_inputs, device=loaded.device, name=name)
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / f"{name}.html"
            page.write_text(render_html(report), encoding="utf-8")
            png = screenshot(page, args.out / f"report_{name}.png", width=args.width, height=args.height)
        print(f"wrote {png} ({png.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
