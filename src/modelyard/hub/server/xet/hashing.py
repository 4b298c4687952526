"""The Xet hashes: keyed blake3 over chunks, a content-defined merkle tree over chunk lists.

A hash is 32 raw bytes; its text form (``to_hex``) writes each of its four little-endian 64-bit
words as 16 hex digits, as the protocol's clients and URLs do.
"""

from __future__ import annotations

from collections.abc import Sequence

from blake3 import blake3

from modelyard.hub.errors import InvalidRequestError

HASH_BYTES = 32
# Keys fixed by the protocol (xet-core's merklehash and shard verification).
_CHUNK_KEY = bytes.fromhex("6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229")
_NODE_KEY = bytes.fromhex("017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f")
_VERIFICATION_KEY = bytes.fromhex(
    "7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3"
)
_ZERO_KEY = bytes(HASH_BYTES)
_MEAN_BRANCHING = 4
_MAX_GROUP = 2 * _MEAN_BRANCHING + 1

ChunkList = Sequence[tuple[bytes, int]]


def to_hex(digest: bytes) -> str:
    return "".join(digest[i : i + 8][::-1].hex() for i in range(0, HASH_BYTES, 8))


def from_hex(text: str) -> bytes:
    """The raw hash named by ``text``; ``InvalidRequestError`` unless it is 64 hex digits."""
    if len(text) != 2 * HASH_BYTES or any(c not in "0123456789abcdef" for c in text):
        raise InvalidRequestError(f"not a Xet hash (64 lowercase hex digits): {text[:80]!r}")
    return b"".join(bytes.fromhex(text[i : i + 16])[::-1] for i in range(0, 2 * HASH_BYTES, 16))


def chunk_hash(data: bytes) -> bytes:
    return blake3(data, key=_CHUNK_KEY).digest()


def _merge(group: ChunkList) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(digest)} : {size}\n" for digest, size in group)
    return blake3(text.encode(), key=_NODE_KEY).digest(), sum(size for _, size in group)


def _cut(nodes: ChunkList, start: int) -> int:
    """End of the group starting at ``start``: after the first node from the third on whose
    hash is 0 modulo the mean branching factor, at most ``_MAX_GROUP`` nodes."""
    remaining = len(nodes) - start
    if remaining <= 2:
        return len(nodes)
    end = start + min(_MAX_GROUP, remaining)
    for index in range(start + 2, end):
        if int.from_bytes(nodes[index][0][24:], "little") % _MEAN_BRANCHING == 0:
            return index + 1
    return end


def merkle_hash(chunks: ChunkList) -> bytes:
    """The aggregated hash of (chunk hash, length) pairs: a xorb's hash."""
    if not chunks:
        return _ZERO_KEY
    level = list(chunks)
    while len(level) > 1:
        merged = []
        start = 0
        while start < len(level):
            end = _cut(level, start)
            merged.append(_merge(level[start:end]))
            start = end
        level = merged
    return level[0][0]


def file_hash(chunks: ChunkList) -> bytes:
    """A file's hash: its chunks' merkle hash, keyed once more (zero salt)."""
    if not chunks:
        return _ZERO_KEY
    return blake3(merkle_hash(chunks), key=_ZERO_KEY).digest()


def keyed(digest: bytes, key: bytes) -> bytes:
    """``digest`` hidden under ``key``: a dedup answer's chunk hashes match only chunks the
    asking client holds."""
    return blake3(digest, key=key).digest()


def range_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """A shard's proof that its writer knew the chunks of one file segment."""
    return blake3(b"".join(chunk_hashes), key=_VERIFICATION_KEY).digest()
