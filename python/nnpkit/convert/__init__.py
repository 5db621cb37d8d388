"""Converters from other model formats (n2p2, ANI/NeuroChem, PyTorch modules)."""
