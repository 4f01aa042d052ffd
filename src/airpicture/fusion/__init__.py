"""Fusion of transponder reports with sensor tracks (issue 3 §4). See docs/fusion.md and docs/replay.md."""

from airpicture.fusion.adsb_measurements import AdsbReports, MessageColumns, adsb_reports, reports_from_columns
from airpicture.fusion.decoder import TransponderDecoder

__all__ = ["AdsbReports", "MessageColumns", "TransponderDecoder", "adsb_reports", "reports_from_columns"]
