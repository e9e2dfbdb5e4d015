"""Small gallery images of the paper's figures for the README (``docs/gallery/figN.png``).

Takes the full-resolution PNGs written by ``steerjax figures`` (150 dpi) and writes copies about
800 pixels wide, reduced to a 256-colour palette so that each stays well under 150 kB::

    steerjax figures --out figures                      # full resolution, all figures
    python experiments/make_gallery.py --from figures   # -> docs/gallery/figN.png

Only figures whose PNG exists in the source folder are converted (all ``figN.png`` found, or
those named with ``--only``).  This file is not a figure script (its name does not start with
``fig``), so ``steerjax figures`` does not run it.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
from pathlib import Path

from PIL import Image

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"
WIDTH = 800
MAX_BYTES = 150_000
_NAME = re.compile(r"^fig(?P<number>[0-9]+)\.png$")


def gallery_png(source: Path, width: int = WIDTH) -> bytes:
    """The PNG ``source`` scaled to ``width`` pixels (aspect ratio kept, Lanczos filter) and
    reduced to an adaptive 256-colour palette; returns the encoded bytes."""
    with Image.open(source) as img:
        img = img.convert("RGB")
        height = max(1, round(img.height * width / img.width))
        small = img.resize((width, height), Image.Resampling.LANCZOS)
    small = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_gallery(source_dir, out_dir=GALLERY, *, only=None, width: int = WIDTH) -> list[Path]:
    """Convert ``source_dir/figN.png`` into ``out_dir/figN.png`` (see :func:`gallery_png`).

    Args:
        source_dir: folder written by ``steerjax figures`` (full resolution).
        out_dir: the gallery folder (default ``docs/gallery`` of this checkout).
        only: figure numbers to convert (default: every ``figN.png`` found).
        width: width of the gallery images in pixels.

    Returns:
        The paths written.

    Raises:
        ValueError: no such folder, a requested figure's PNG is missing, or an image would
            exceed 150 kB.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise ValueError(f"source folder {str(source_dir)!r} does not exist; run `steerjax figures` first")
    found = {int(m["number"]): p for p in source_dir.iterdir() if (m := _NAME.match(p.name))}
    wanted = sorted(found) if not only else sorted({int(str(n).lower().removeprefix("fig")) for n in only})
    missing = [n for n in wanted if n not in found]
    if missing or not wanted:
        name = f"fig{missing[0]}.png" if missing else "figN.png"
        raise ValueError(f"no {name} in {source_dir}; run `steerjax figures --out {source_dir}`")
    written = []
    for n in wanted:
        data = gallery_png(found[n], width)
        if len(data) > MAX_BYTES:
            raise ValueError(f"fig{n}.png would be {len(data)} bytes (> {MAX_BYTES}); lower --width")
        target = out_dir / f"fig{n}.png"
        _write_atomically(target, data)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source", default="figures", help="folder of full-size PNGs")
    parser.add_argument("--out", default=str(GALLERY), help=f"gallery folder (default: {GALLERY})")
    parser.add_argument("--only", nargs="+", default=None, help="figure numbers (default: all found)")
    parser.add_argument("--width", type=int, default=WIDTH, help=f"width in pixels (default {WIDTH})")
    args = parser.parse_args(argv)
    try:
        paths = make_gallery(args.source, args.out, only=args.only, width=args.width)
    except ValueError as exc:
        print(f"make_gallery: error: {exc}", file=sys.stderr)
        return 1
    for p in paths:
        print(f"{p}  {p.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
