import losslab  # noqa: F401  (turns on float64 before any test touches JAX)
