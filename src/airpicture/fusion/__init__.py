"""Fusion of transponder reports with sensor tracks (issue 3 §4). See docs/fusion.md."""

from airpicture.fusion.adsb_measurements import AdsbReports, adsb_reports

__all__ = ["AdsbReports", "adsb_reports"]
