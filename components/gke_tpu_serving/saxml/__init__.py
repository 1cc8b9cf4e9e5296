"""Saxml on multi-host TPU slices: the cell (admin server, model servers as a JobSet, HTTP server), its models,
and the JobSet controller."""
