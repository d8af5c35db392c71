"""embforge: fast word-embedding training on CPU threads and CUDA GPUs."""
__version__ = "0.1.0"
