"""The knowledge base (知识库): entries that answer common questions on the spot.

Depends on ``ticketing`` (models' base, actors, inputs) and on nothing telephony: the IVR,
the console and the API use it, never the reverse.
"""
