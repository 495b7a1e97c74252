"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn."""

__version__ = "0.1.0"

__all__ = ["__version__"]
