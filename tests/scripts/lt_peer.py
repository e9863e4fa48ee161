#!/usr/bin/python3
"""A libtorrent peer on 127.0.0.1 for sluice's interop tests.

usage: lt_peer.py seed|leech TORRENT SAVE_PATH [options]

  --peer HOST:PORT     connect to this peer (repeatable; retried while not connected)
  --upload-limit N     upload at most N bytes/s (applied to loopback peers too)
  --download-limit N   download at most N bytes/s (applied to loopback peers too)
  --ip IP              listen on, and connect from, this loopback address
                       (default 127.0.0.1; any of 127.0.0.0/8 works on Linux)
  --no-pex             neither send nor heed peer exchange for the torrent
  --report-peers       also print each established connection and its payload
                       counters (the `connected` and `peer_stats` lines)
  --timeout S          give up (exit 3) after S seconds (default 120)
  --linger S           leech: keep seeding S seconds after completing (default 0)
  --lsd on|off         Local Service Discovery (BEP 14) on 127.0.0.1 (default off)

SAVE_PATH holds the torrent's data: the parent of the single file, or of the
multi-file torrent's top folder.

Seed mode checks the data, then seeds until killed. Leech mode downloads from the
given peers and exits 0 once every piece is verified (after --linger).

DHT, UPnP, NAT-PMP and uTP are off, and LSD unless asked for; the session
listens on 127.0.0.1 (or --ip) on a free port (and so announces on loopback
only). libtorrent's default plugins are on, among them ut_pex (peer exchange,
BEP 11; see --no-pex) and ut_metadata. Peers found by LSD are reported like the
others (peer_connect, incoming_connection). Every line on stdout is one event,
flushed at once:

  info_hash HEX
  listening PORT
  checked PIECES/TOTAL        (the start-up hash check is done)
  ready                       (seed: every piece verified, seeding)
  progress PIECES/TOTAL BYTES_DOWN BYTES_UP PEERS
  complete                    (leech: every piece verified)
  peer_connect IP:PORT        (a connection is set up: libtorrent 2.0 says so
                               for incoming ones too, after incoming_connection)
  incoming_connection IP:PORT
  peer_disconnected IP:PORT REASON
  connected IP:PORT in|out    (--report-peers: a peer finished the handshake)
  peer_stats IP:PORT DOWN UP  (--report-peers: payload bytes from and to a
                               connected peer, when they change, at most 2/s)
  peer_error TEXT
  hash_failed PIECE
  error TEXT                  (then exit 2)
  timeout                     (then exit 3)
"""

import sys
import time

import libtorrent as lt


def say(*parts):
    print(*parts, flush=True)


def parse_args(argv):
    if len(argv) < 4 or argv[1] not in ("seed", "leech"):
        sys.exit(__doc__)
    opts = {
        "mode": argv[1],
        "torrent": argv[2],
        "save_path": argv[3],
        "peers": [],
        "upload_limit": 0,
        "download_limit": 0,
        "ip": "127.0.0.1",
        "report_peers": False,
        "pex": True,
        "timeout": 120.0,
        "linger": 0.0,
        "lsd": False,
    }
    rest = argv[4:]
    while rest:
        flag = rest.pop(0)
        if flag == "--report-peers":
            opts["report_peers"] = True
            continue
        if flag == "--no-pex":
            opts["pex"] = False
            continue
        if not rest:
            sys.exit("missing value after %s\n%s" % (flag, __doc__))
        value = rest.pop(0)
        if flag == "--peer":
            host, _, port = value.rpartition(":")
            opts["peers"].append((host, int(port)))
        elif flag == "--upload-limit":
            opts["upload_limit"] = int(value)
        elif flag == "--download-limit":
            opts["download_limit"] = int(value)
        elif flag == "--ip":
            opts["ip"] = value
        elif flag == "--timeout":
            opts["timeout"] = float(value)
        elif flag == "--linger":
            opts["linger"] = float(value)
        elif flag == "--lsd":
            if value not in ("on", "off"):
                sys.exit("--lsd takes on or off\n%s" % __doc__)
            opts["lsd"] = value == "on"
        else:
            sys.exit("unknown option %s\n%s" % (flag, __doc__))
    return opts


def make_session(opts):
    if opts["mode"] == "seed":
        settings = lt.high_performance_seed()
    else:
        settings = lt.default_settings()
    settings.update(
        {
            "listen_interfaces": "%s:0" % opts["ip"],
            "outgoing_interfaces": opts["ip"],
            "enable_dht": False,
            "enable_lsd": opts["lsd"],
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "enable_outgoing_tcp": True,
            "enable_incoming_tcp": True,
            "allow_multiple_connections_per_ip": True,
            "unchoke_slots_limit": -1,
            "upload_rate_limit": opts["upload_limit"],
            "download_rate_limit": opts["download_limit"],
            "min_reconnect_time": 1,
            "peer_connect_timeout": 5,
            "alert_mask": lt.alert_category.status
            | lt.alert_category.error
            | lt.alert_category.storage
            | lt.alert_category.connect
            | lt.alert_category.peer,
        }
    )
    ses = lt.session(settings)
    if opts["upload_limit"] > 0 or opts["download_limit"] > 0:
        # Peers on the local network sit in an unlimited class of their own: put
        # every address in the global class, so the limits apply on loopback.
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(f)
    return ses


def wait_listening(ses, deadline):
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    return a.port
            elif isinstance(a, lt.listen_failed_alert):
                say("error", a.message())
                sys.exit(2)
    port = ses.listen_port()
    if port:
        return port
    say("timeout")
    sys.exit(3)


def report_peers(handle, reported, now):
    """Print the connections that finished their handshake since the last call,
    and the payload counters of each connected peer when they changed (at most
    twice a second per peer). `reported` maps an endpoint to its last counters
    and when they were printed."""
    current = set()
    for p in handle.get_peer_info():
        if p.flags & (lt.peer_info.connecting | lt.peer_info.handshake):
            continue
        ep = "%s:%d" % tuple(p.ip)
        current.add(ep)
        if ep not in reported:
            way = "out" if p.flags & lt.peer_info.local_connection else "in"
            say("connected", ep, way)
            reported[ep] = (None, 0.0)
        counters = (p.total_download, p.total_upload)
        last, at = reported[ep]
        if counters != last and now - at >= 0.5:
            reported[ep] = (counters, now)
            say("peer_stats", ep, *counters)
    for ep in list(reported):
        if ep not in current:
            del reported[ep]


def main():
    opts = parse_args(sys.argv)
    deadline = time.monotonic() + opts["timeout"]
    ses = make_session(opts)
    port = wait_listening(ses, deadline)

    ti = lt.torrent_info(opts["torrent"])
    total = ti.num_pieces()
    say("info_hash", str(ti.info_hashes().v1))
    say("listening", port)

    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = opts["save_path"]
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    if not opts["pex"]:
        atp.flags |= lt.torrent_flags.disable_pex
    handle = ses.add_torrent(atp)

    checked = False
    done = False
    done_at = None
    last_progress = None
    last_report = 0.0
    last_connect = 0.0
    reported = {}
    seed = opts["mode"] == "seed"

    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
                st = handle.status()
                say("checked", "%d/%d" % (st.num_pieces, total))
                if seed and st.num_pieces != total:
                    say("error", "seed data incomplete: %d of %d pieces" % (st.num_pieces, total))
                    sys.exit(2)
            elif isinstance(a, lt.peer_connect_alert):
                say("peer_connect", "%s:%d" % tuple(a.endpoint))
            elif isinstance(a, lt.incoming_connection_alert):
                say("incoming_connection", "%s:%d" % tuple(a.endpoint))
            elif isinstance(a, lt.peer_disconnected_alert):
                ep = "%s:%d" % tuple(a.endpoint)
                say("peer_disconnected", ep, a.message().replace("\n", " "))
            elif isinstance(a, lt.hash_failed_alert):
                say("hash_failed", a.piece_index)
            elif isinstance(
                a, (lt.torrent_error_alert, lt.file_error_alert, lt.peer_error_alert)
            ):
                if isinstance(a, lt.peer_error_alert):
                    say("peer_error", a.message().replace("\n", " "))
                else:
                    say("error", a.message())
                    sys.exit(2)

        if not checked:
            continue
        st = handle.status()
        now = time.monotonic()
        if opts["report_peers"]:
            report_peers(handle, reported, now)

        # (Re)connect to the given peers we are not connected to.
        if opts["peers"] and not st.is_seeding and now - last_connect >= 2.0:
            last_connect = now
            open_eps = {(p.ip[0], p.ip[1]) for p in handle.get_peer_info()}
            for peer in opts["peers"]:
                if peer not in open_eps:
                    handle.connect_peer(peer)

        progress = (st.num_pieces, st.total_payload_download, st.total_payload_upload)
        if progress != last_progress and now - last_report >= 0.5:
            last_progress = progress
            last_report = now
            say(
                "progress",
                "%d/%d" % (st.num_pieces, total),
                st.total_payload_download,
                st.total_payload_upload,
                st.num_peers,
            )
        if seed:
            if not done and st.is_seeding:
                done = True
                # Connect to the given peers once we have something to offer.
                for peer in opts["peers"]:
                    handle.connect_peer(peer)
                say("ready")
            continue
        if not done and st.num_pieces == total:
            done = True
            done_at = now
            say("progress", "%d/%d" % (total, total), st.total_payload_download,
                st.total_payload_upload, st.num_peers)
            say("complete")
        if done and now - done_at >= opts["linger"]:
            # Close the session properly (its destructor waits for the disk threads),
            # so every byte is in the files when we exit.
            ses.remove_torrent(handle)
            del handle
            del ses
            sys.exit(0)

    say("timeout")
    sys.exit(3)


if __name__ == "__main__":
    main()
