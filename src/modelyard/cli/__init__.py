"""The ``modelyard`` command line: one ``argparse`` tree, one module per command group."""
