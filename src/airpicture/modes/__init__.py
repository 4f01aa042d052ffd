"""Mode S decoding of our own: CRC-24 (``crc``), CPR (``cpr``) and the phantom / CRC / speed stream filter
(``phantoms``). Vectorised over arrays of frames; see docs/sources.md, "Decoding: CRC, phantoms, CPR"."""

from airpicture.modes.cpr import cpr_decode_global, cpr_decode_local, cpr_encode, nl
from airpicture.modes.crc import append_crc, crc24, frames_from_hex, parity_ok, recover_address

__all__ = ["append_crc", "cpr_decode_global", "cpr_decode_local", "cpr_encode", "crc24", "frames_from_hex",
           "nl", "parity_ok", "recover_address"]
