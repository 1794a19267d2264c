"""Adversarial testing of envscale itself: attacks on tool calls, spec texts, expressions and
model endpoints, each tallying what it tried and every problem it found (see report.py).
`benchmarks/fuzz.py` runs them long; the test suite runs them small."""
