"""diffrl-eval: compare data generators for VLA training, end to end and reproducibly."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("diffrl-eval")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
