"""The built-in fake 8x8 that `make run` points its demo providers at."""
