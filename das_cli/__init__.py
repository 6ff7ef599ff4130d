"""The ``das`` command line: the top layer, beside the DAG files."""
