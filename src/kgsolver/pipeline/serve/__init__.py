"""The composition root: the command line (`kgsolver`, cli*.py) and the HTTP API (api*.py). The only pipeline code
that may import evals (`kgsolver eval`)."""
