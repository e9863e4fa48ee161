#!/usr/bin/python3
"""Helpers for the loopback download benchmark (driver-std/benches/loopback.rs).

usage:
  lt_bench.py seed TORRENT DATA_DIR [RATE] seed over TCP on 127.0.0.1, uploading at most
                                         RATE bytes/s if given; prints "ready PORT"
  lt_bench.py leech TORRENT OUT_DIR PORT   download from 127.0.0.1:PORT; prints JSON figures
  lt_bench.py measure CMD [ARG]...         run CMD; prints JSON figures of that process
  lt_bench.py deadline TORRENT OUT_DIR PORT[,PORT]... PIECE:PAUSE_MS...
                                         for each piece, a fresh libtorrent leecher with
                                         nothing wanted connects to the seeds on
                                         127.0.0.1:PORT, waits PAUSE_MS, asks for the piece with
                                         set_piece_deadline(0) and times its
                                         read_piece_alert; prints a JSON list of ms

Figures: wall seconds, CPU seconds (user + system) and peak RSS in MiB. For
`leech` they are the whole Python process's, libtorrent's session included.
"""

import json
import os
import resource
import subprocess
import sys
import time

import libtorrent as lt

LOOPBACK_SETTINGS = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_outgoing_utp": False,
    "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    # Keep connections between a seed and a leecher that wants nothing yet
    # (the deadline benchmark's leecher, until it asks for a piece).
    "close_redundant_connections": False,
}


def add(ses, torrent, save_path):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_path
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    return ses.add_torrent(atp)


def seed(torrent, data_dir, rate=None):
    settings = lt.high_performance_seed()
    settings.update(LOOPBACK_SETTINGS)
    settings["unchoke_slots_limit"] = -1
    if rate is not None:
        settings["upload_rate_limit"] = int(rate)
    ses = lt.session(settings)
    if rate is not None:
        # Loopback peers are in libtorrent's unlimited local class by default.
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(f)
    h = add(ses, torrent, data_dir)
    while not h.status().is_seeding:
        time.sleep(0.05)
    print("ready", ses.listen_port(), flush=True)
    while True:
        time.sleep(1)


def leech(torrent, out_dir, port):
    t0 = time.monotonic()
    ses = lt.session(dict(LOOPBACK_SETTINGS))
    h = add(ses, torrent, out_dir)
    h.connect_peer(("127.0.0.1", int(port)))
    while not h.status().is_seeding:
        time.sleep(0.01)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024}))


def measure(cmd):
    t0 = time.monotonic()
    code = subprocess.call(cmd, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024, "exit": code}))


def deadline(torrent, out_dir, ports, reads):
    ports = [int(p) for p in ports.split(",")]
    times = []
    for i, read in enumerate(reads):
        piece, pause_ms = (int(x) for x in read.split(":"))
        ses = lt.session(dict(LOOPBACK_SETTINGS))
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(torrent)
        atp.save_path = os.path.join(out_dir, str(i))
        atp.file_priorities = [0] * atp.ti.num_files()
        atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
        h = ses.add_torrent(atp)
        for port in ports:
            h.connect_peer(("127.0.0.1", port))
        give_up = time.monotonic() + 30
        while sum(p.flags & (lt.peer_info.connecting | lt.peer_info.handshake) == 0
                  for p in h.get_peer_info()) < len(ports):
            if time.monotonic() > give_up:
                sys.exit("the seed did not connect")
            time.sleep(0.01)
        time.sleep(pause_ms / 1000)
        ses.pop_alerts()
        t0 = time.monotonic()
        give_up = t0 + 30
        h.set_piece_deadline(piece, 0, lt.deadline_flags_t.alert_when_available)
        done = None
        while done is None:
            if time.monotonic() > give_up:
                sys.exit("the piece did not come")
            ses.wait_for_alert(100)
            for a in ses.pop_alerts():
                if isinstance(a, lt.read_piece_alert) and a.piece == piece:
                    done = time.monotonic()
        times.append((done - t0) * 1000)
        ses.remove_torrent(h)
        del ses
    print(json.dumps(times), flush=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "seed" and len(args) in (2, 3):
        seed(*args)
    elif mode == "leech" and len(args) == 3:
        leech(*args)
    elif mode == "measure" and args:
        measure(args)
    elif mode == "deadline" and len(args) >= 4:
        deadline(args[0], args[1], args[2], args[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
