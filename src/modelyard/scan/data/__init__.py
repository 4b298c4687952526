"""Data the scanner ships: ``sinks.tsv`` (see ``modelyard.scan.sinks``)."""
