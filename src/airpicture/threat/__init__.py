"""Threat evaluation (issue 5): geometry to the defended points and zones, a scoring table, ranked threats.

Evaluation only: a threat level is a call for human attention, never an engagement decision.
"""
