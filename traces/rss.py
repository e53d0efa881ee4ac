"""Receive-side scaling as an Intel 82599 does it.

Toeplitz hash (Microsoft RSS specification, "Verifying the RSS Hash
Calculation") over the fields the 82599 hashes with the Linux ixgbe
driver's defaults, then a 128-entry redirection table:

* **Hashed fields** (82599 datasheet §7.1.2.8.1, MRQC.RSS_Field; ixgbe
  ``ixgbe_setup_mrqc`` enables IPv4, IPv4/TCP, IPv6, IPv6/TCP): TCP packets
  on source address, destination address, source port, destination port
  (in that order, network byte order); every other IP packet, UDP included,
  on the two addresses only. ``udp_ports=True`` adds UDP ports (what
  ``ethtool -N eth0 rx-flow-hash udp4 sdfn`` turns on). IP fragments are
  hashed on addresses only, ports or not.
* **Redirection table** (datasheet §7.1.2.8.3, RETA): 128 entries of 4-bit
  queue indexes; ixgbe fills entry j with j mod n; a packet goes to the
  queue in entry ``hash & 0x7f``. Packets RSS does not hash (non-IP) go to
  queue 0.
* **Symmetric RSS** (Woo & Park, "Scalable TCP Session Monitoring with
  Symmetric Receive-side Scaling", 2012): with a key that repeats the 16-bit
  pattern 0x6d5a, both directions of a connection hash alike.

The hash is computed once per distinct flow key (the trace's key table),
not per packet: a Toeplitz hash is an XOR of per-byte table lookups, so a
few hundred thousand keys take milliseconds in numpy.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

# Microsoft's RSS verification key (also the 82599/ixgbe default before
# Linux 3.13 switched to a random key); RSS spec, "Verifying the RSS Hash
# Calculation".
DEFAULT_RSS_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")
# Woo & Park 2012, §3: 0x6d5a repeated gives hash(a,b,p,q) == hash(b,a,q,p)
SYMMETRIC_RSS_KEY = bytes([0x6D, 0x5A] * 20)
RSS_KEY_LEN = 40      # 82599 datasheet §8.2.3.7.14: RSSRK, ten 32-bit registers
RETA_SIZE = 128       # 82599 datasheet §8.2.3.7.13: RETA, 128 entries
RETA_MASK = RETA_SIZE - 1
MAX_QUEUES = 16       # RETA entries are 4 bits wide (§7.1.2.8.3)
MAX_INPUT_BYTES = 36  # IPv6 source + destination + two ports

IPPROTO_TCP = 6
IPPROTO_UDP = 17


def check_key(key: bytes) -> bytes:
    key = bytes(key)
    if len(key) != RSS_KEY_LEN:
        raise ValueError(f"RSS key must be {RSS_KEY_LEN} bytes, got {len(key)}")
    return key


@lru_cache(maxsize=8)
def _tables(key: bytes) -> np.ndarray:
    """T[i, v]: the hash contribution of byte value v at input byte i."""
    k = int.from_bytes(check_key(key), "big")
    nbits = 8 * RSS_KEY_LEN
    # window of 32 key bits starting at input bit b (Toeplitz: slide by one bit per input bit)
    windows = np.array([(k >> (nbits - 32 - b)) & 0xFFFFFFFF for b in range(8 * MAX_INPUT_BYTES)],
                       dtype=np.uint32)
    bits = ((np.arange(256)[:, None] >> (7 - np.arange(8))[None, :]) & 1).astype(bool)  # (256, 8), MSB first
    tables = np.zeros((MAX_INPUT_BYTES, 256), dtype=np.uint32)
    for i in range(MAX_INPUT_BYTES):
        w = windows[8 * i: 8 * i + 8]
        tables[i] = np.bitwise_xor.reduce(np.where(bits, w[None, :], np.uint32(0)), axis=1)
    return tables


def toeplitz(data: np.ndarray, key: bytes = DEFAULT_RSS_KEY) -> np.ndarray:
    """Toeplitz hash of each row of a (m, L) uint8 array (L <= 36); uint32 per row."""
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] > MAX_INPUT_BYTES:
        raise ValueError(f"input must be (rows, <= {MAX_INPUT_BYTES} bytes), got shape {data.shape}")
    t = _tables(bytes(key))
    h = np.zeros(data.shape[0], dtype=np.uint32)
    for i in range(data.shape[1]):
        h ^= t[i][data[:, i]]
    return h


def toeplitz_bytes(data: bytes, key: bytes = DEFAULT_RSS_KEY) -> int:
    """Toeplitz hash of one input string (convenience for tests and tools)."""
    return int(toeplitz(np.frombuffer(bytes(data), dtype=np.uint8)[None, :], key)[0])


def _is_symmetric(key: bytes) -> bool:
    return all(key[i] == key[i + 2] for i in range(len(key) - 2))


def resolve_key(key: bytes = DEFAULT_RSS_KEY, symmetric: bool = False) -> bytes:
    """The key the NIC would be programmed with for these options."""
    key = check_key(key)
    if not symmetric:
        return key
    if key == DEFAULT_RSS_KEY:
        return SYMMETRIC_RSS_KEY
    if not _is_symmetric(key):
        raise ValueError("symmetric=True needs a key with a 16-bit period (e.g. SYMMETRIC_RSS_KEY); "
                         "the key given is not symmetric")
    return key


def key_hashes(keys: np.ndarray, key: bytes = DEFAULT_RSS_KEY, udp_ports: bool = False,
               symmetric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Hash of each row of a flow-key table (traces.trace.KEY_DTYPE).

    Returns (hash uint32, hashed bool): rows RSS does not hash (non-IP) have
    hashed False and hash 0.
    """
    key = resolve_key(key, symmetric)
    n = len(keys)
    out = np.zeros(n, dtype=np.uint32)
    hashed = keys["l3"] != 0
    with_ports = hashed & (keys["frag"] == 0) & (
        (keys["proto"] == IPPROTO_TCP) | ((keys["proto"] == IPPROTO_UDP) & bool(udp_ports)))
    ports = np.zeros((n, 4), dtype=np.uint8)
    ports[:, 0] = keys["sport"] >> 8
    ports[:, 1] = keys["sport"] & 0xFF
    ports[:, 2] = keys["dport"] >> 8
    ports[:, 3] = keys["dport"] & 0xFF
    for l3, alen in ((4, 4), (6, 16)):
        for has_ports in (False, True):
            rows = np.flatnonzero((keys["l3"] == l3) & (with_ports == has_ports))
            if not len(rows):
                continue
            parts = [keys["src"][rows, :alen], keys["dst"][rows, :alen]]
            if has_ports:
                parts.append(ports[rows])
            out[rows] = toeplitz(np.concatenate(parts, axis=1), key)
    return out, hashed


def redirection_table(n_queues: int) -> np.ndarray:
    """ixgbe's default RETA: entry j holds queue j mod n."""
    n_queues = int(n_queues)
    if not 1 <= n_queues <= MAX_QUEUES:
        raise ValueError(f"n_queues must be 1..{MAX_QUEUES} (82599 RETA entries are 4 bits), got {n_queues}")
    return (np.arange(RETA_SIZE) % n_queues).astype(np.uint8)


def key_queues(keys: np.ndarray, n_queues: int, key: bytes = DEFAULT_RSS_KEY, udp_ports: bool = False,
               symmetric: bool = False, reta: np.ndarray | None = None) -> np.ndarray:
    """Receive queue of each row of a flow-key table (uint8)."""
    table = redirection_table(n_queues) if reta is None else np.asarray(reta, dtype=np.uint8)
    if table.shape != (RETA_SIZE,):
        raise ValueError(f"reta must have {RETA_SIZE} entries, got shape {table.shape}")
    if reta is not None and (table.max() >= MAX_QUEUES):
        raise ValueError(f"reta entries must be < {MAX_QUEUES}")
    h, hashed = key_hashes(keys, key, udp_ports, symmetric)
    q = table[h & RETA_MASK]
    q[~hashed] = 0
    return q.astype(np.uint8)
