#!/usr/bin/env python3
"""Runs each replicator on the same backlog and measures it from the outside.

Each run uses its own source alias for cluster A (so topic names and internal topics never collide between
runs), waits until the mirrored topic on B holds every record, and reads CPU time and peak RSS of the
replicator process from /proc. Nothing here is a pass/fail threshold: it reports numbers."""
import argparse
import datetime
import os
import pathlib
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition

ROOT = pathlib.Path(__file__).resolve().parent.parent
A = os.environ["KMIRROR_A_BOOTSTRAP"]
B = os.environ["KMIRROR_B_BOOTSTRAP"]
TICKS = os.sysconf("SC_CLK_TCK")


def tool(*args, **kw):
    return subprocess.run([str(ROOT / "scripts/kafka-tool"), *args], check=True, capture_output=True, text=True, **kw)


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe", "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return 0
        total = 0
        for p in range(partitions):
            try:
                _lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            except Exception:  # the topic is being created or its leader is moving: not there yet
                return 0
            total += max(hi, 0)
        return total
    finally:
        c.close()


def proc_stats(pid):
    """(cpu seconds, peak RSS in MB) of pid and its children (MM2's JVM is a child of the launcher shell)."""
    cpu, rss = 0.0, 0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(p) for p in out]
    except OSError:
        pass
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICKS
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmHWM:"):
                    rss += int(line.split()[1]) // 1024
        except (OSError, IndexError, ValueError):
            pass
    return cpu, rss


def mm2_properties(alias, tasks, topics="bench"):
    return f"""clusters = {alias}, B
{alias}.bootstrap.servers = {A}
B.bootstrap.servers = {B}
{alias}->B.enabled = true
{alias}->B.topics = {topics}
B->{alias}.enabled = false
replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
status.storage.replication.factor = 1
config.storage.replication.factor = 1
refresh.topics.interval.seconds = 5
tasks.max = {tasks}
"""


def run_one(name, alias, cmd, expected, partitions, workdir):
    target_topic = f"{alias}.bench"
    log = open(workdir / f"{alias}.log", "w")
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return measure(name, proc, start, expected, partitions, target_topic)
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass


def measure(name, proc, start, expected, partitions, target_topic):
    first_at, peak_rss, cpu = None, 0, 0.0
    copied = 0
    deadline = start + 1800
    while time.time() < deadline:
        time.sleep(1)
        c, r = proc_stats(proc.pid)
        cpu, peak_rss = max(cpu, c), max(peak_rss, r)
        if proc.poll() is not None:
            break
        copied = end_offsets(B, target_topic, partitions)
        if copied and first_at is None:
            first_at = time.time()
        if copied >= expected:
            break
    done = time.time()
    c, r = proc_stats(proc.pid)
    cpu, peak_rss = max(cpu, c), max(peak_rss, r)
    return {"name": name, "copied": copied, "expected": expected, "total_s": done - start,
            "copy_s": done - (first_at or start), "cpu_s": cpu, "rss_mb": peak_rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--record-size", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--only", choices=["kmirror", "mm2"])
    ap.add_argument("--case", choices=["backlog", "latency", "all"], default="all",
                    help="backlog copy, steady-rate latency and startup, or both")
    ap.add_argument("--quick", action="store_true", help="small backlog, short latency runs: a few minutes")
    ap.add_argument("--kmirror-before", help="another kmirror binary to run too (before/after a change)")
    ap.add_argument("--latency-seconds", type=int, help="seconds per steady-rate case")
    args = ap.parse_args()
    if args.quick:
        args.records = min(args.records, 200_000)
    results_md = []
    if args.case in ("latency", "all"):
        results_md += latency_main(args)
    if args.case in ("backlog", "all"):
        results_md += backlog_main(args)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([f"# Benchmark {now}", "", f"Command: `bench/run {' '.join(sys.argv[1:])}`", ""] + results_md)
    out = ROOT / "bench/results" / (datetime.datetime.now().strftime("%Y%m%d-%H%M") + ".md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    print(f"written to {out}", file=sys.stderr)


def latency_main(args):
    """Steady-rate latency and startup, each replicator on its own alias, one after the other."""
    import latency
    workdir = ROOT / "run/bench/work"
    workdir.mkdir(parents=True, exist_ok=True)
    if args.quick:
        cases, seconds, backlog = [(2000, 0), (500, 20)], args.latency_seconds or 15, 200_000
    else:
        cases, seconds, backlog = [(500, 0), (2000, 0), (500, 20), (2000, 20)], args.latency_seconds or 30, 1_000_000
    stamp = datetime.datetime.now().strftime("%H%M%S")
    runs = []
    if args.kmirror_before and args.only in (None, "kmirror"):
        runs.append(("kmirror (before)", f"KB{stamp}", args.kmirror_before))
    if args.only in (None, "kmirror"):
        runs.append(("kmirror", f"KM{stamp}", str(ROOT / "target/release/kmirror")))
    if args.only in (None, "mm2"):
        runs.append(("MirrorMaker 2 (defaults, tasks.max=1)", f"MM{stamp}", None))
    results = []
    for name, alias, kmirror in runs:
        props = workdir / f"{alias}.properties"
        props.write_text(mm2_properties(alias, 1, f"lat-{alias.lower()}-.*"))
        if kmirror:
            full = [kmirror, "run", "--config", str(props)]
        else:
            full = [str(ROOT / "bench/mirror-maker"), str(props), "--clusters", "B"]
        print(f"latency: running {name}", file=sys.stderr)
        results.append(latency.run_replicator(name, alias, full, workdir, cases, backlog, tool, A, B, seconds,
                                              proc_stats))
    return ["## Steady-rate latency and startup", "",
            f"{len(latency.VALUE)} B records, {latency.PARTITIONS} partitions, {seconds} s per case; latency = arrival at "
            "an independent librdkafka consumer on B minus the record's create time. Startup: from launching the "
            f"replicator on an empty target to the first and last record of a {backlog:,}-record backlog on B.", ""] + \
        latency.table(results) + [""]


def backlog_main(args):
    workdir = ROOT / "run/bench/work"
    workdir.mkdir(parents=True, exist_ok=True)
    n, size, parts = args.records, args.record_size, args.partitions
    gb = n * size / 1e9

    print(f"creating backlog: {n} records x {size} B lz4 on {parts} partitions", file=sys.stderr)
    tool("topics", "--bootstrap-server", A, "--create", "--topic", "bench", "--partitions", str(parts))
    perf = ["producer-perf", "--topic", "bench", "--num-records", str(n), "--record-size", str(size),
            "--throughput", "-1", "--producer-props", f"bootstrap.servers={A}", "compression.type=lz4",
            "linger.ms=20", "batch.size=262144", "acks=all"]
    fill = tool(*perf).stdout.strip().splitlines()[-1]
    print("backlog:", fill, file=sys.stderr)

    tool("topics", "--bootstrap-server", B, "--create", "--topic", "ceiling", "--partitions", str(parts))
    perf[2] = "ceiling"
    perf[perf.index(f"bootstrap.servers={A}")] = f"bootstrap.servers={B}"
    ceiling = tool(*perf).stdout.strip().splitlines()[-1]
    print("ceiling:", ceiling, file=sys.stderr)

    results = []
    runs = []
    if args.kmirror_before and args.only in (None, "kmirror"):
        runs.append(("kmirror (before)", "KMbefore", args.kmirror_before))
    if args.only in (None, "kmirror"):
        runs.append(("kmirror", "KM", str(ROOT / "target/release/kmirror")))
    if args.only in (None, "mm2"):
        runs += [("MirrorMaker 2, tasks.max=1", "MMone", 1), ("MirrorMaker 2, tasks.max=12", "MMtwelve", 12)]
    for name, alias, how in runs:
        props = workdir / f"{alias}.properties"
        props.write_text(mm2_properties(alias, how if isinstance(how, int) else 1))
        if isinstance(how, str):
            cmd = [how, "run", "--config", str(props)]
        else:
            cmd = [str(ROOT / "bench/mirror-maker"), str(props), "--clusters", "B"]
        print(f"running {name}", file=sys.stderr)
        r = run_one(name, alias, cmd, n, parts, workdir)
        print(r, file=sys.stderr)
        results.append(r)

    lines = ["## Backlog copy", "",
             f"Backlog: {n:,} records of {size} B (lz4), {parts} partitions, {gb:.2f} GB uncompressed; "
             f"single-node local clusters on one 2-core machine.", "",
             f"Ceiling (Kafka ProducerPerformance into B): `{ceiling}`", "",
             "| replicator | records copied | copy time (s) | MB/s | CPU s | CPU s per GB | peak RSS (MB) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        mbs = r["copied"] * size / 1e6 / r["copy_s"] if r["copy_s"] > 0 else 0
        lines.append(f"| {r['name']} | {r['copied']:,}/{r['expected']:,} | {r['copy_s']:.1f} | {mbs:.1f} | "
                     f"{r['cpu_s']:.1f} | {r['cpu_s'] / gb:.1f} | {r['rss_mb']} |")
    lines += ["", "copy time runs from the first record seen on B to the last; MB/s counts uncompressed record "
              "bytes; CPU and RSS are the replicator process's own (from /proc)."]
    return lines + [""]


if __name__ == "__main__":
    main()
