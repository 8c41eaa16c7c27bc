"""Media the simulator hosts (like Zalo's zdn.vn CDN): placeholders and uploaded bytes."""

import struct
import zlib

AVATAR_MEDIA_ID = "avatar-default"
PHOTO_MEDIA_ID = "photo-default"
STICKER_MEDIA_ID = "sticker-default"


def placeholder_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid single-colour PNG, built by hand so no imaging library is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter type 0 + RGB pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def media_url(base_url: str, media_id: str) -> str:
    return f"{base_url.rstrip('/')}/_sim/media/{media_id}"
