"""Fuzzing airpicture's parsers: a registry of targets (``fuzz.targets``), the properties every case must hold
(``fuzz.harness``) and the long runner behind ``make fuzz`` (``python -m fuzz``). See docs/reliability.md."""
