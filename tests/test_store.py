"""The decision store's contract, on both backends: SQLite files and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atomcast.errors import StoreError
from atomcast.store import DecisionStore, StoredDecision, open_store, parse_url, redacted
from atomcast.store.base import PostgresLocation, SqliteLocation
from tests.conftest import ROOT, examples

AT = dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)
BACKENDS = ("sqlite", "postgresql")


def decision(profile_id: str = "p-1", **changes: object) -> StoredDecision:
    fields: dict[str, object] = {
        "campaign": "summer-sale",
        "profile_id": profile_id,
        "at": AT,
        "content": "c0ffee",
        "segments": ("cart_abandoner", "vip"),
        "experiments": {"headline-test": "a"},
        "decisions": {"headline": "headline-vip", "hero": None, "offer": "offer-20"},
    }
    fields.update(changes)
    return StoredDecision(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[DecisionStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def count_rows(url: str) -> int:
    location = parse_url(url)
    if isinstance(location, SqliteLocation):
        with sqlite3.connect(location.path) as connection:
            return int(connection.execute("SELECT count(*) FROM atomcast_decisions").fetchone()[0])
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM atomcast_decisions").fetchone()
        assert row is not None
        return int(row[0])


# -- the contract ---------------------------------------------------------------------------


def test_put_then_get_returns_the_record(store_url: str) -> None:
    store = open_store(store_url)
    try:
        record = decision()
        store.put_many([record])
        assert store.get("summer-sale", "p-1") == record
        assert store.get("summer-sale", "p-2") is None
        assert store.get("other", "p-1") is None
        # Slots keep the campaign's order (a report lists them as the campaign does).
        got = store.get("summer-sale", "p-1")
        assert got is not None
        assert list(got.decisions) == ["headline", "hero", "offer"]
        assert got.at.tzinfo is not None
        assert got.at.utcoffset() == dt.timedelta(0)
    finally:
        store.close()
    # Another store object (a serve replica) reads what this one wrote.
    again = open_store(store_url)
    try:
        assert again.get("summer-sale", "p-1") == record
    finally:
        again.close()


def test_upsert_is_idempotent_and_the_later_record_wins(store_url: str) -> None:
    store = open_store(store_url)
    try:
        first = decision()
        second = decision(content="beef", decisions={"headline": "headline-b"})
        store.put_many([first])
        store.put_many([first])
        assert count_rows(store_url) == 1
        store.put_many([second])
        assert store.get("summer-sale", "p-1") == second
        # The same key twice in one call: one row, the later record.
        store.put_many([first, decision("p-2"), second])
        assert store.get("summer-sale", "p-1") == second
        assert count_rows(store_url) == 2
        store.put_many([])
        assert count_rows(store_url) == 2
    finally:
        store.close()


def test_a_naive_instant_is_taken_as_utc_and_offsets_are_normalised(store_url: str) -> None:
    store = open_store(store_url)
    try:
        paris = dt.timezone(dt.timedelta(hours=2))
        store.put_many(
            [
                decision("naive", at=dt.datetime(2026, 7, 15, 12, 0, 0, 123456)),
                decision("paris", at=dt.datetime(2026, 7, 15, 14, 0, tzinfo=paris)),
            ]
        )
        naive = store.get("summer-sale", "naive")
        paris_record = store.get("summer-sale", "paris")
        assert naive is not None
        assert paris_record is not None
        assert naive.at == dt.datetime(2026, 7, 15, 12, 0, 0, 123456, tzinfo=dt.UTC)
        assert paris_record.at == AT
    finally:
        store.close()


UNICODE_IDS = ["Zoé-été", "李小龙", "ผู้ใช้", "עברית\u202e", "emoji-🎉👩‍👩‍👧", "a\u0301", "x" * 1024]


def test_unicode_round_trips_in_keys_and_values(store_url: str) -> None:
    store = open_store(store_url)
    try:
        records = [
            decision(
                pid,
                campaign="été-🌞",
                segments=("vip", "ñ", "中文"),
                experiments={"tête": "bras-β"},
                decisions={"slot-ü": f"atom-{pid}", "quote\"'\\": "back\\slash"},
            )
            for pid in UNICODE_IDS
        ]
        store.put_many(records)
        for record in records:
            assert store.get("été-🌞", record.profile_id) == record
        # Normalisation is not the store's business: NFC and NFD are different ids.
        assert store.get("été-🌞", "á") is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"profile_id": "nul\x00id"}, "NUL"),
        ({"profile_id": "bad\udcffbyte"}, "surrogate"),
        ({"campaign": ""}, "non-empty"),
        ({"profile_id": "x" * 1025}, "longer than 1024"),
        ({"decisions": {"offer": "a\x00b"}}, "NUL"),
        ({"segments": ("\ud800",)}, "surrogate"),
        ({"segments": (1,)}, "not of its type"),
        ({"experiments": {"headline-test": None}}, "not of its type"),
        ({"decisions": {"offer": 5}}, "not of its type"),
        ({"at": "2026-07-15"}, "not of its type"),
    ],
)
def test_a_record_that_cannot_be_stored_is_refused_and_nothing_is_written(
    store_url: str, changes: dict[str, object], why: str
) -> None:
    store = open_store(store_url)
    try:
        with pytest.raises(StoreError, match=why):
            store.put_many([decision("good"), decision(**changes)])  # type: ignore[arg-type]
        assert store.get("summer-sale", "good") is None
        # Such a key is never stored, so asking for it is simply a miss.
        assert store.get("summer-sale", "nul\x00id") is None
        assert store.get("summer-sale", "bad\udcffbyte") is None
        assert store.get("summer-sale", "") is None
    finally:
        store.close()


@pytest.mark.slow
def test_a_large_batch_is_one_transaction(store_url: str) -> None:
    store = open_store(store_url)
    try:
        records = [
            decision(f"p-{index:06d}", segments=("vip",) if index % 2 else ())
            for index in range(25_000)
        ]
        store.put_many(records)
        assert count_rows(store_url) == 25_000
        assert store.get("summer-sale", "p-012345") == records[12_345]
        assert store.get("summer-sale", "p-000000") == records[0]
        # A failing batch that replaces all of them leaves every old row as it was.
        changed = [decision(r.profile_id, content="new") for r in records]
        changed.append(decision("bad\x00"))
        with pytest.raises(StoreError):
            store.put_many(changed)
        assert store.get("summer-sale", "p-024999") == records[24_999]
    finally:
        store.close()


WRITER = """
import datetime as dt, sys
from atomcast.store import StoredDecision, open_store
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = open_store(url)
at = dt.datetime(2026, 7, 15, tzinfo=dt.UTC)
for start in range(0, count, 500):
    store.put_many([
        StoredDecision("c", f"p-{i:05d}", at, name, (name,), {"e": name}, {"s": f"{name}-{i}"})
        for i in range(start, min(count, start + 500))
    ])
store.close()
print("done")
"""


@pytest.mark.slow
def test_two_processes_writing_the_same_keys_at_once(store_url: str) -> None:
    count = 4_000
    open_store(store_url).close()  # the tables exist before the race on rows starts
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, name, str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
        assert out.strip() == "done"
    assert count_rows(store_url) == count
    store = open_store(store_url)
    try:
        for index in range(0, count, 97):
            got = store.get("c", f"p-{index:05d}")
            assert got is not None
            name = got.content
            assert name in ("left", "right")
            # Each row is one writer's whole record, never a mix of the two.
            assert got.segments == (name,)
            assert got.experiments == {"e": name}
            assert got.decisions == {"s": f"{name}-{index}"}
    finally:
        store.close()


def test_one_store_object_shared_by_threads(store_url: str) -> None:
    store = open_store(store_url)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for batch in range(5):
                ids = [f"t{offset}-{batch}-{i}" for i in range(50)]
                store.put_many([decision(pid) for pid in ids])
                for pid in ids[::7]:
                    assert store.get("summer-sale", pid) == decision(pid)
        except BaseException as exc:  # reported below, from the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert not failures, failures
    assert count_rows(store_url) == 6 * 5 * 50


def _child_reads(store: DecisionStore, queue: multiprocessing.Queue[object]) -> None:
    try:
        queue.put(store.get("summer-sale", "p-1"))
    except BaseException as exc:
        queue.put(repr(exc))


def test_a_forked_child_reconnects_and_leaves_the_parents_connection_alone(
    store_url: str,
) -> None:
    store = open_store(store_url)
    try:
        store.put_many([decision()])
        context = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue[object] = context.Queue()
        child = context.Process(target=_child_reads, args=(store, queue))
        child.start()
        got = queue.get(timeout=60)
        child.join(timeout=60)
        assert got == decision()
        assert child.exitcode == 0
        # The parent's connection still works after the child exited.
        assert store.get("summer-sale", "p-1") == decision()
        store.put_many([decision("p-2")])
        assert store.get("summer-sale", "p-2") == decision("p-2")
    finally:
        store.close()


def test_a_closed_store_refuses_use(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.get("summer-sale", "p-1")


def test_a_store_of_another_schema_version_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    location = parse_url(store_url)
    update = "UPDATE atomcast_store_meta SET value = '99' WHERE key = 'schema_version'"
    if isinstance(location, SqliteLocation):
        with sqlite3.connect(location.path) as connection:
            connection.execute(update)
    else:
        with psycopg.connect(store_url, autocommit=True) as connection:
            connection.execute(update)
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(store_url)


def test_a_hand_edited_row_is_reported_not_crashed_on(store_url: str) -> None:
    store = open_store(store_url)
    try:
        store.put_many([decision()])
        location = parse_url(store_url)
        edit = "UPDATE atomcast_decisions SET decisions = '[1, 2]'"
        if isinstance(location, SqliteLocation):
            with sqlite3.connect(location.path) as connection:
                connection.execute(edit)
        else:
            with psycopg.connect(store_url, autocommit=True) as connection:
                connection.execute(edit)
        with pytest.raises(StoreError, match="malformed"):
            store.get("summer-sale", "p-1")
    finally:
        store.close()


storable_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=24,
)
records = st.builds(
    StoredDecision,
    campaign=storable_text,
    profile_id=storable_text,
    at=st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC),
    ),
    content=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
        max_size=64,
    ),
    segments=st.lists(storable_text, max_size=4).map(tuple),
    experiments=st.dictionaries(storable_text, storable_text, max_size=3),
    decisions=st.dictionaries(storable_text, st.none() | storable_text, max_size=5),
)


@given(batch=st.lists(records, min_size=1, max_size=8))
@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_storable_record_round_trips(store: DecisionStore, batch: list[StoredDecision]) -> None:
    store.put_many(batch)
    latest = {(r.campaign, r.profile_id): r for r in batch}
    for (campaign, profile_id), record in latest.items():
        assert store.get(campaign, profile_id) == record


# -- URLs -----------------------------------------------------------------------------------


def test_urls_name_their_backend(tmp_path: Path) -> None:
    assert parse_url("sqlite:///relative/store.db") == SqliteLocation(Path("relative/store.db"))
    assert parse_url("sqlite:////abs/store.db") == SqliteLocation(Path("/abs/store.db"))
    assert parse_url("sqlite:///with%20space.db") == SqliteLocation(Path("with space.db"))
    assert parse_url("SQLITE:///x.db") == SqliteLocation(Path("x.db"))
    assert parse_url("postgresql://u:pw@db:5432/atomcast") == PostgresLocation(
        "postgresql://u:pw@db:5432/atomcast"
    )
    assert isinstance(parse_url("postgres://db/atomcast"), PostgresLocation)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("store.db", "no scheme"),
        ("", "no scheme"),
        ("mysql://db/x", "unknown store URL scheme 'mysql'"),
        ("sqlite://host/store.db", "names a host"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "names no file"),
        ("sqlite:///x.db?mode=ro", "takes no options"),
        ("sqlite:///%ff.db", "not UTF-8"),
        ("sqlite:///a%00b", "names no file"),
    ],
)
def test_a_bad_url_is_a_store_error(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(url)


def test_a_sqlite_store_refuses_a_folder_and_a_file_that_is_not_a_database(
    tmp_path: Path,
) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        open_store(f"sqlite:///{tmp_path}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just bytes " * 100)
    with pytest.raises(StoreError, match="not a usable SQLite store"):
        open_store(f"sqlite:///{junk}")
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(StoreError, match="cannot create its folder"):
        open_store(f"sqlite:///{blocked}/sub/store.db")


def test_a_sqlite_store_creates_its_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "store.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_postgresql_is_a_store_error_without_the_password() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{port}/atomcast?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "s3cret-pw" not in str(caught.value)
    assert "cannot connect" in str(caught.value)
    assert "***" in redacted(url)
    with pytest.raises(StoreError, match="cannot connect"):
        open_store("postgresql://127.0.0.1:1/x?nonsense_option=1")


def test_a_postgresql_store_survives_a_dropped_connection(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        store.put_many([decision()])
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database()"
            )
        # The next call finds the connection gone, reconnects once and answers.
        assert store.get("summer-sale", "p-1") == decision()
        store.put_many([decision("p-2")])
        assert store.get("summer-sale", "p-2") == decision("p-2")
    finally:
        store.close()


def test_the_postgresql_columns_are_queryable_json(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        store.put_many([decision()])
    finally:
        store.close()
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute(
            "SELECT decisions->>'offer', experiments->>'headline-test', "
            "json_array_length(segments), at FROM atomcast_decisions"
        ).fetchone()
    assert row is not None
    assert row[:3] == ("offer-20", "a", 2)
    assert row[3] == AT


@pytest.mark.slow
def test_processes_creating_the_store_at_once(store_url: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, f"w{n}", "10"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
    assert count_rows(store_url) == 10
