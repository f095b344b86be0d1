"""Masks at one bit per prunable weight: a bool tensor packed into uint8 bytes, first element in the highest bit
(numpy.packbits' order), the last byte padded with zero bits; and back, given the shape."""
import math

import torch

_SHIFTS = torch.arange(7, -1, -1, dtype=torch.uint8)  # bit 7 (highest) holds the first element of a byte


def packed_size(numel: int) -> int:
    """Bytes that hold `numel` bits."""
    return math.ceil(numel / 8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """A bool tensor of any shape as a 1-D uint8 tensor of ⌈numel / 8⌉ bytes (row-major order)."""
    if mask.dtype != torch.bool:
        raise ValueError(f"pack_bits: expected a torch.bool tensor, got {mask.dtype}")
    flat = mask.detach().cpu().reshape(-1).to(torch.uint8)
    padded = torch.cat([flat, flat.new_zeros(8 * packed_size(flat.numel()) - flat.numel())])
    return (padded.view(-1, 8) << _SHIFTS).sum(dim=1, dtype=torch.uint8)


def unpack_bits(bits: torch.Tensor, shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    """The bool tensor of `shape` that pack_bits packed into `bits`; ValueError when `bits` is not a 1-D uint8
    tensor of exactly the bytes `shape` needs, or its padding bits are not zero."""
    numel = math.prod(shape)
    if not isinstance(bits, torch.Tensor) or bits.dtype != torch.uint8 or bits.dim() != 1:
        raise ValueError("packed mask is not a 1-D uint8 tensor")
    if bits.numel() != packed_size(numel):
        raise ValueError(f"packed mask has {bits.numel()} bytes, shape {list(shape)} needs {packed_size(numel)}")
    flat = ((bits.unsqueeze(1) >> _SHIFTS) & 1).reshape(-1)
    if flat[numel:].any():
        raise ValueError("packed mask has set padding bits")
    return flat[:numel].bool().reshape(tuple(shape))
