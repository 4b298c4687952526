"""Data the scanner ships: ``sinks.tsv.gz`` (see ``modelyard.scan.sinks``)."""
