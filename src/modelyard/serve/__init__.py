"""The prediction server: ``modelyard serve`` for packages and hub models.

``app`` holds the ASGI app (Open Inference Protocol v2 and MLflow scoring on one port),
``server`` runs it with uvicorn, ``settings`` the limits and batching knobs (light to import,
so the CLI's ``--help`` can state the defaults).
"""
