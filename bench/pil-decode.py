"""The Pillow reference of bench/data.ts: decodes every image file in --dir (read into memory
first) with Image.open + load, converting to --mode only where the file is stored in another mode,
once as a warm-up and then --passes times, and prints one JSON line: the median images per second
over the timed passes and the versions it ran with. Needs Debian's python3-pil (/usr/bin/python3).
"""

import argparse
import io
import json
import os
import statistics
import time

import PIL
from PIL import Image, features


def decode_all(blobs: list[bytes], mode: str) -> None:
    for blob in blobs:
        image = Image.open(io.BytesIO(blob))
        image.load()
        if image.mode != mode:
            image.convert(mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--mode", required=True, choices=["L", "RGB"])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    blobs = []
    for name in sorted(os.listdir(args.dir)):
        with open(os.path.join(args.dir, name), "rb") as f:
            blobs.append(f.read())
    decode_all(blobs, args.mode)
    rates = []
    for _ in range(args.passes):
        started = time.perf_counter()
        decode_all(blobs, args.mode)
        rates.append(len(blobs) / (time.perf_counter() - started))
    print(
        json.dumps(
            {
                "images_per_second": statistics.median(rates),
                "images": len(blobs),
                "pillow": PIL.__version__,
                "libjpeg_turbo": features.check_feature("libjpeg_turbo"),
            }
        )
    )


if __name__ == "__main__":
    main()
