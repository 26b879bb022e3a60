from runtime import DurableStore, FileStore


def test_store_reads_see_pending_and_crash_semantics():
    s = DurableStore()
    s.put("a", 1)
    s.sync()
    s.put("a", 2)
    s.delete("a")
    assert s.get("a") is None and "a" not in s
    assert s.crash(lose_unsynced=True) == 1  # one key had unsynced changes
    assert s.get("a") == 1
    s.put("b", 3)
    s.crash(lose_unsynced=False)
    assert s.get("b") == 3 and sorted(s.keys()) == ["a", "b"]


def test_file_store_survives_reopen_and_ignores_a_torn_tail(tmp_path):
    p = str(tmp_path / "x.journal")
    s = FileStore(p, compact_every=5)
    for i in range(20):
        s.put(f"k{i % 3}", i)
        s.sync()
    s.delete("k0")
    s.put("unsynced", 1)
    s.sync()
    s.put("never", 1)  # not synced: gone with the process
    s.close()
    with open(p, "ab") as f:
        f.write(b"\x00\x00\x01\x00garbage")  # a record cut short by a power loss
    r = FileStore(p)
    assert r.get("k0") is None and r.get("k1") == 19 and r.get("k2") == 17
    assert r.get("unsynced") == 1 and r.get("never") is None
    r.close()
