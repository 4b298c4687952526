"""The Xet protocol: content-defined chunks packed in xorbs, files described by shards.

``hashing`` computes the protocol's hashes, ``formats`` reads and writes xorbs and shards,
``tokens`` signs the short-lived CAS tokens, and ``cas`` stores chunks and rebuilds files.
"""
