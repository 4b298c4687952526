"""One module per framework, each exposing ``available``, ``model_specs``, ``save_estimator``
and ``load_estimator`` so the registry and the package treat every framework alike."""
