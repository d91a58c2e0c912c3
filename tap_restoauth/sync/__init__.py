"""Writing Singer output: the fast record path, child prefetch, buffered output, progress."""
