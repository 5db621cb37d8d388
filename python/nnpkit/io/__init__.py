"""Reading structures (any file ASE reads, and n2p2 structure data) and writing n2p2's."""

from .n2p2_data import N2p2DataError, is_n2p2_data, iread_n2p2_data, read_n2p2_data, write_n2p2_data
from .structures import parse_index, read_structures, reads_as_n2p2

__all__ = [
    "N2p2DataError",
    "is_n2p2_data",
    "iread_n2p2_data",
    "parse_index",
    "read_n2p2_data",
    "read_structures",
    "reads_as_n2p2",
    "write_n2p2_data",
]
