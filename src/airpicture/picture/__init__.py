"""The picture as the sinks see it: one columnar :class:`PictureFrame` per step, the run's static
:class:`PictureContext` (sensors, zones, defended points), and the :class:`SinkSet` that hands both to the live
display, the recorder and the interoperability outputs (docs/live.md)."""

from .context import PictureContext
from .frame import PictureFrame, build_frame
from .sinks import Controls, Pacer, Sink, SinkSet

__all__ = ["PictureContext", "PictureFrame", "build_frame", "Controls", "Pacer", "Sink", "SinkSet"]
