"""Faults on the Kafka path: an outage, a killed consumer, a restarted relay, a rebalance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from plera.consumers.kafka_consumer import group_caught_up

from .conftest import consume_until_caught_up, local_broker_process, relay_all, start_group_from_now
from .counts import expected, read_counts
from .world import add_leads, launched_sequence


def test_events_appended_while_the_broker_is_unreachable_arrive_once_it_is_back(services, relay, feeds, bootstrap):
    broker = local_broker_process(bootstrap)
    if broker is None:
        pytest.skip("the broker does not run on this machine, so it cannot be stopped here")
    feed = feeds()
    ids = launched_sequence(services, leads=10, name="outage")
    relay_all(relay, services)
    broker.suspend()  # SIGSTOP: the broker holds its sockets but answers nothing
    try:
        add_leads(services, ids, 10, 15, name="outage")
        position = relay.position()
        with pytest.raises((KafkaError, TimeoutError)):
            relay.publish_pending()
        assert relay.position() == position  # nothing acknowledged, nothing advanced
    finally:
        broker.resume()
    relay_all(relay, services, timeout=120)
    consume_until_caught_up(feed, timeout=120)
    assert read_counts(services, ids) == expected(25)


def test_a_restarted_relay_republishes_harmlessly(services, relay, feeds):
    feed = feeds()
    ids = launched_sequence(services, leads=12, name="republish")
    relay_all(relay, services)
    consume_until_caught_up(feed)
    before = read_counts(services, ids)
    # A crash after the broker acknowledged but before the position moved: it publishes again.
    with services.db.pool.connection() as conn:
        conn.execute("UPDATE plera_relay SET position = greatest(position - 40, 0) WHERE id = 1")
    relay_all(relay, services)
    consume_until_caught_up(feed)
    assert read_counts(services, ids) == before == expected(12)


def test_a_consumer_killed_mid_batch_and_restarted_keeps_the_counts_exact(services, relay, bootstrap):
    start_group_from_now(services, bootstrap, "kafka")  # `plera consume` keeps the read models' positions
    env = {
        **os.environ,
        "PLERA_DATABASE_URL": services.db.url,
        "PLERA_KAFKA_BOOTSTRAP": bootstrap,
        "PLERA_KAFKA_GROUP": f"plera-test-{uuid.uuid4().hex[:8]}",
        "PLERA_DATA_DIR": str(services.settings.data_dir),
        "PLERA_SECRET_KEY": "test-key",
    }
    plera = str(Path(sys.executable).with_name("plera"))
    ids = launched_sequence(services, leads=50, name="killed")
    consumer = subprocess.Popen([plera, "consume"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for batch in range(8):
            add_leads(services, ids, 50 + batch * 250, 250, name="killed")
            relay_all(relay, services)
        time.sleep(0.5)
        consumer.send_signal(signal.SIGKILL)  # in the middle of whatever it was applying
        consumer.wait(timeout=10)
        # A broker may hold the dead member's session for a long while (some never expire it), so the
        # restart joins under a fresh group id: the positions stored with the read models decide.
        env["PLERA_KAFKA_GROUP"] = f"plera-test-{uuid.uuid4().hex[:8]}"
        consumer = subprocess.Popen([plera, "consume"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)  # outside the group
        deadline = time.monotonic() + 120
        while not group_caught_up(services, probe, "kafka"):
            assert time.monotonic() < deadline, "the restarted consumer did not catch up"
            time.sleep(0.2)
        probe.close()
    finally:
        consumer.terminate()
        try:
            consumer.wait(timeout=15)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait(timeout=5)
    assert read_counts(services, ids) == expected(2050)


def test_two_consumers_rebalancing_during_a_load_count_every_event_once(services, relay, feeds):
    ids = launched_sequence(services, leads=20, name="rebalance")
    first, second = feeds(), feeds()
    stop = threading.Event()
    threads = [threading.Thread(target=feed.run, args=(stop,), daemon=True) for feed in (first, second)]
    threads[0].start()
    try:
        for batch in range(6):
            add_leads(services, ids, 20 + batch * 100, 100, name="rebalance")
            relay_all(relay, services)
            if batch == 2:
                threads[1].start()  # joins the group mid-load: partitions move while events flow
        deadline = time.monotonic() + 120
        while not first.caught_up():  # the group's positions, stored with the read models
            assert time.monotonic() < deadline, "the group did not catch up"
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=30)
    assert read_counts(services, ids) == expected(620)
