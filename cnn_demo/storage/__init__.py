"""Storage: MNIST on disk (data), the one checkpoint format (checkpoint), a server's saved
models (store)."""
