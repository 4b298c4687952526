"""The hub: a self-hosted, Hugging Face-compatible model hub (``server/``) and its client side.

``push`` and ``pull`` (in ``client.py``) talk to any hub that speaks the Hugging Face Hub
protocol, scanning on both ends.
"""
