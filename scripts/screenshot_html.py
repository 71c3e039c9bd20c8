"""Save screenshots of the HTML report for the README: docs/report_<model>.png.

    python scripts/screenshot_html.py                 # mobilenet_v2
    python scripts/screenshot_html.py vit_b_16 --height 1600

Needs headless Chromium (apt-get update && apt-get install -y chromium). The page is written by the CLI,
`flopcount analyze <model> -f html -o <page>`, exactly as a user writes it; the screenshot is its first screen.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from flopcount.render.browser import screenshot

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
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / f"{name}.html"
            subprocess.run([sys.executable, "-m", "flopcount", "analyze", name, "-f", "html", "-o", str(page)],
                           check=True)
            png = screenshot(page, args.out / f"report_{name}.png", width=args.width, height=args.height)
        print(f"wrote {png} ({png.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
