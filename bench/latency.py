"""Steady-rate replication latency and startup time, measured from outside the replicator.

Latency: a librdkafka producer writes ~100 B records round-robin to 6 partitions of a topic on A at a steady
rate (linger.ms=0 gives about one record per batch; linger.ms=20 a batched producer); an independent
librdkafka consumer on B, in its own process, takes arrival time minus the record's create time (which the
replicator copies). Startup: time from launching the replicator against an empty target (its internal and
remote topics do not exist yet) to the first and the last record of a backlog seen on B."""
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_END

PARTITIONS = 6
VALUE = b"x" * 100


def create_topic(tool, bootstrap, topic, partitions=PARTITIONS):
    tool("topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", str(partitions))


def fill(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 262144, "acks": "all",
                  "compression.type": "lz4"})
    for i in range(n):
        while True:
            try:
                p.produce(topic, VALUE, partition=i % PARTITIONS)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(60)


def end_total(consumer, topic):
    total = 0
    for part in range(PARTITIONS):
        try:
            _lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=2)
        except Exception:  # not created yet, or not in the broker's metadata yet
            return 0
        total += max(hi, 0)
    return total


def wait_startup(bootstrap, topic, expected, start, limit=600):
    """Seconds from `start` to the first and to the last of `expected` records on `topic`."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe", "enable.auto.commit": False})
    first = last = None
    try:
        while time.time() - start < limit:
            n = end_total(c, topic)
            now = time.time()
            if n and first is None:
                first = now - start
            if n >= expected:
                last = now - start
                break
            time.sleep(0.1)
    finally:
        c.close()
    return first, last


def _consume(bootstrap, topic, ready, stop, expected, out):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50, "fetch.min.bytes": 1})
    c.assign([TopicPartition(topic, p, OFFSET_END) for p in range(PARTITIONS)])
    deadline = time.time() + 5
    while time.time() < deadline:  # let the positions settle at the end before records flow
        c.poll(0.1)
    ready.set()
    lat = []
    last_arrival = time.time()
    # Until every record arrived, or (once the producer is done) nothing more came for 20 s.
    while not (stop.is_set() and (len(lat) >= expected.value or time.time() - last_arrival > 20)):
        for m in c.consume(1000, 0.05):
            if m.error() is None:
                last_arrival = time.time()
                lat.append(last_arrival * 1000 - m.timestamp()[1])
    c.close()
    out.put(lat)


def steady(bootstrap_a, bootstrap_b, source_topic, target_topic, rate, linger_ms, seconds):
    """Latencies (ms) of `rate` records/s for `seconds` on the target and, as the floor no replicator can beat on
    this machine, on the source itself; and how many records were produced."""
    ready, stop, out = mp.Event(), mp.Event(), mp.Queue()
    n = int(rate * seconds)
    expected = mp.Value("q", n)
    consumer = mp.Process(target=_consume, args=(bootstrap_b, target_topic, ready, stop, expected, out))
    consumer.start()
    ready_a, out_a = mp.Event(), mp.Queue()
    floor = mp.Process(target=_consume, args=(bootstrap_a, source_topic, ready_a, stop, expected, out_a))
    floor.start()
    ready.wait(30)
    ready_a.wait(30)
    p = Producer({"bootstrap.servers": bootstrap_a, "linger.ms": linger_ms, "acks": "all"})
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        p.produce(source_topic, VALUE, partition=i % PARTITIONS)
        p.poll(0)
    p.flush(60)
    stop.set()
    lat = None
    grace = time.time() + 300
    while lat is None and time.time() < grace:
        try:
            lat = out.get(timeout=5)
        except Exception:  # still waiting for stragglers
            pass
    consumer.join(10)
    try:
        source_lat = out_a.get(timeout=60)
    except Exception:  # the floor is a reference only
        source_lat = []
    floor.join(10)
    return lat or [], source_lat, n


def summary(lat, produced):
    if not lat:
        return {"received": 0, "produced": produced, "p50": None, "p99": None, "max": None}
    s = sorted(lat)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]
    return {"received": len(s), "produced": produced, "p50": q(0.50), "p99": q(0.99), "max": s[-1],
            "mean": statistics.fmean(s)}


def wait_flowing(bootstrap_a, bootstrap_b, source_topic, target_topic, limit=180):
    """Produces one record at a time until one shows up on the target: the replicator copies this topic."""
    p = Producer({"bootstrap.servers": bootstrap_a, "linger.ms": 0})
    c = Consumer({"bootstrap.servers": bootstrap_b, "group.id": "bench-probe", "enable.auto.commit": False})
    start = time.time()
    try:
        while time.time() - start < limit:
            p.produce(source_topic, b"warm-up", partition=0)
            p.flush(10)
            if end_total(c, target_topic) > 0:
                return True
            time.sleep(0.5)
        return False
    finally:
        c.close()


def run_replicator(name, alias, cmd, workdir, cases, backlog, tool, A, B, seconds, proc_stats):
    """Starts one replicator on a fresh alias: startup on a backlog, then each steady-rate case."""
    tag = alias.lower()
    backlog_topic = f"lat-{tag}-backlog"
    create_topic(tool, A, backlog_topic)
    fill(A, backlog_topic, backlog)
    case_topics = []
    for rate, linger in cases:
        t = f"lat-{tag}-r{rate}-l{linger}"
        create_topic(tool, A, t)
        case_topics.append((rate, linger, t))
    log = open(workdir / f"{alias}.log", "w")
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    result = {"name": name, "cases": []}
    try:
        first, last = wait_startup(B, f"{alias}.{backlog_topic}", backlog, start)
        result["startup_first_s"], result["startup_last_s"] = first, last
        print(f"  {name}: backlog of {backlog} first record after {first} s, last after {last} s", flush=True)
        for rate, linger, t in case_topics:
            remote = f"{alias}.{t}"
            if not wait_flowing(A, B, t, remote):
                print(f"  {name}: {t} never flowed", flush=True)
                continue
            time.sleep(2)
            cpu0, _ = proc_stats(proc.pid)
            lat, source_lat, produced = steady(A, B, t, remote, rate, linger, seconds)
            cpu1, _ = proc_stats(proc.pid)
            s = summary(lat, produced)
            floor = summary(source_lat, produced)
            s.update(rate=rate, linger=linger, cpu_s=cpu1 - cpu0, source_p50=floor["p50"], source_p99=floor["p99"])
            print(f"  {name}: {s}", flush=True)
            result["cases"].append(s)
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        log.close()
    log_text = re.sub(r"\x1b\[[0-9;]*m", "", (workdir / f"{alias}.log").read_text(errors="replace"))
    result["errors"] = sum(1 for line in log_text.splitlines() if re.search(r"\bERROR\b", line))
    return result


def table(results):
    fmt = lambda v: "–" if v is None else f"{v:,.0f}"
    lines = ["| replicator | producer | rate (rec/s) | p50 ms | p99 ms | max ms | received | replicator CPU s | "
             "floor: same records read on A, p50 / p99 ms |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for c in r["cases"]:
            kind = "one-record batches (linger.ms=0)" if c["linger"] == 0 else f"batched (linger.ms={c['linger']})"
            lines.append(f"| {r['name']} | {kind} | {c['rate']:,} | {fmt(c['p50'])} | {fmt(c['p99'])} | "
                         f"{fmt(c['max'])} | {c['received']:,}/{c['produced']:,} | {c['cpu_s']:.1f} | "
                         f"{fmt(c.get('source_p50'))} / {fmt(c.get('source_p99'))} |")
    lines += ["", "| replicator | first record (s) | last record (s) | ERROR lines in its log |", "| --- | --- | --- | --- |"]
    f2 = lambda v: "–" if v is None else f"{v:.1f}"
    for r in results:
        lines.append(f"| {r['name']} | {f2(r.get('startup_first_s'))} | {f2(r.get('startup_last_s'))} | {r['errors']} |")
    return lines
