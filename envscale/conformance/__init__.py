"""Conformance runs: replaying other implementations' recorded cases on envscale specs."""
