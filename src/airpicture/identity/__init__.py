"""Identification: standard identities and classes, IFF with a confidential key store, explainable rules,
spoof and inconsistency detection. See docs/identity.md."""
