"""One module per framework, each a ``base.Backend``: its models, and how to fit, save and load
them, so the registry and the package treat every framework alike."""
