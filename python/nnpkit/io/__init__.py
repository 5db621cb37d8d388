"""Readers and writers of structure files that ASE does not handle."""

from .n2p2_data import is_n2p2_data, iread_n2p2_data, read_n2p2_data, write_n2p2_data

__all__ = ["is_n2p2_data", "iread_n2p2_data", "read_n2p2_data", "write_n2p2_data"]
