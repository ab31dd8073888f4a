"""Twilio as a second carrier: webhooks answer with TwiML, recordings go to our own Vosk.

``views`` is the HTTP layer (signature, form checks, threads); ``call_flow`` is
the call flow; ``twiml`` builds the answers; ``calls`` keeps each call's journal between
webhooks; ``fetch`` downloads recordings; ``decode`` transcribes within a time budget.
"""
