"""Composition root: wires the ticketing core, ASR, IVR and outbound into one service."""
