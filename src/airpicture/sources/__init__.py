"""Real transponder inputs: Beast (binary and hex text), AVR, SBS-1 and jet1090 JSON lines, from files or TCP.

Entry points: ``read_file`` (a whole recording into columns), ``iter_file`` (chunk by chunk), ``TcpFeed``
(a live feed with reconnects), ``decode_frames`` (rs1090 over a column of frames). See docs/sources.md.
"""

from airpicture.sources.batch import DECODED_COLUMNS, FrameBatch, Problems
from airpicture.sources.decode import Decoded, decode_frames
from airpicture.sources.detect import FORMATS, detect_format, make_parser
from airpicture.sources.transport import Recording, TcpFeed, iter_file, open_binary, read_file

__all__ = ["DECODED_COLUMNS", "FORMATS", "Decoded", "FrameBatch", "Problems", "Recording", "TcpFeed",
           "decode_frames", "detect_format", "iter_file", "make_parser", "open_binary", "read_file"]
