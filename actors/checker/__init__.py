"""Linearizability checking for the key-value register histories our etcd campaigns record.

`HistoryRecorder` writes histories in the JSON-lines event format (`Event`, `encode_jsonl`,
`decode_jsonl`); `check` / `check_file` decide, key by key, whether a history is linearizable
for a register with read, write and cas, treating `fail` as "not applied" and `info` as "maybe
applied, at any time after the invoke". See `_history` and `_linearizability` for the details.
"""

from ._history import (
    Event,
    HistoryError,
    HistoryRecorder,
    Operation,
    decode_jsonl,
    encode_jsonl,
    pair_operations,
)
from ._linearizability import Counterexample, KeyVerdict, Verdict, check, check_file

__all__ = [
    "Counterexample",
    "Event",
    "HistoryError",
    "HistoryRecorder",
    "KeyVerdict",
    "Operation",
    "Verdict",
    "check",
    "check_file",
    "decode_jsonl",
    "encode_jsonl",
    "pair_operations",
]
