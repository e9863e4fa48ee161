#!/usr/bin/python3
"""A small Mainline DHT of libtorrent sessions on 127.0.0.1, for sluice's tests.

usage: lt_dht.py NODES [options]

  --seed TORRENT SAVE_PATH   one more session seeds TORRENT (data in SAVE_PATH)
                             and announces it in the DHT
  --leech TORRENT SAVE_PATH  one more session downloads TORRENT into SAVE_PATH,
                             finding its peers only through the DHT
  --node HOST:PORT           a DHT node outside this process every session
                             knows (repeatable), e.g. sluice's
  --timeout S                give up (exit 3) after S seconds (default 120)

NODES sessions run the DHT and nothing else; with the seed and the leecher they
all know each other's DHT addresses. Only the DHT finds peers: no trackers, no
LSD, no PEX, no peer is given. Each line on stdout is one event:

  node PORT                  (a session's DHT port, UDP on 127.0.0.1; the
                              seed's and leecher's too)
  seed_listening PORT        (the seed's TCP port)
  ready                      (the seed checked its data)
  announced                  (a node stored the seed's announce)
  leech_peer IP:PORT         (the leecher connected to a peer)
  complete                   (the leecher has every piece; it keeps seeding)
  error TEXT                 (then exit 2)
  timeout                    (then exit 3)

It runs until killed, or until the timeout.
"""

import sys
import time

import libtorrent as lt


def say(*parts):
    print(*parts, flush=True)


def parse_args(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    opts = {"nodes": int(argv[1]), "seed": None, "leech": None, "extra": [], "timeout": 120.0}
    rest = argv[2:]
    while rest:
        flag = rest.pop(0)
        if flag in ("--seed", "--leech"):
            if len(rest) < 2:
                sys.exit("missing values after %s\n%s" % (flag, __doc__))
            opts[flag[2:]] = (rest.pop(0), rest.pop(0))
        elif flag == "--node":
            host, _, port = rest.pop(0).rpartition(":")
            opts["extra"].append((host, int(port)))
        elif flag == "--timeout":
            opts["timeout"] = float(rest.pop(0))
        else:
            sys.exit("unknown option %s\n%s" % (flag, __doc__))
    return opts


def make_session():
    ses = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": True,
            "dht_bootstrap_nodes": "",
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_ignore_dark_internet": False,
            "dht_prefer_verified_node_ids": False,
            "dht_enforce_node_id": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "allow_multiple_connections_per_ip": True,
            "unchoke_slots_limit": -1,
            "alert_mask": lt.alert_category.status
            | lt.alert_category.error
            | lt.alert_category.dht
            | lt.alert_category.connect
            | lt.alert_category.storage,
        }
    )
    return ses


def wait_ports(ses, deadline):
    """The session's TCP and UDP ports on 127.0.0.1."""
    tcp = udp = None
    while time.monotonic() < deadline and (tcp is None or udp is None):
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    tcp = a.port
                elif a.socket_type == lt.socket_type_t.udp:
                    udp = a.port
            elif isinstance(a, lt.listen_failed_alert):
                say("error", a.message())
                sys.exit(2)
    if tcp is None or udp is None:
        say("timeout")
        sys.exit(3)
    return tcp, udp


def add(ses, torrent, save_path):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_path
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    return ses.add_torrent(atp)


def main():
    opts = parse_args(sys.argv)
    deadline = time.monotonic() + opts["timeout"]
    sessions = []  # (role, session, udp port)
    for _ in range(opts["nodes"]):
        ses = make_session()
        sessions.append(("node", ses, wait_ports(ses, deadline)[1]))
    seed = leech = None
    if opts["seed"]:
        ses = make_session()
        tcp, udp = wait_ports(ses, deadline)
        sessions.append(("seed", ses, udp))
        seed = add(ses, *opts["seed"])
        say("seed_listening", tcp)
    if opts["leech"]:
        ses = make_session()
        sessions.append(("leech", ses, wait_ports(ses, deadline)[1]))
    # Everybody knows everybody (and the nodes outside).
    for _, ses, _ in sessions:
        for _, _, port in sessions:
            ses.add_dht_node(("127.0.0.1", port))
        for node in opts["extra"]:
            ses.add_dht_node(node)
    for _, _, port in sessions:
        say("node", port)

    ready = announced = complete = False
    last_announce = 0.0
    while time.monotonic() < deadline:
        for role, ses, _ in sessions:
            for a in ses.pop_alerts():
                if isinstance(a, lt.torrent_checked_alert) and role == "seed":
                    if seed.status().is_seeding:
                        ready = True
                        say("ready")
                    else:
                        say("error", "seed data incomplete")
                        sys.exit(2)
                elif isinstance(a, lt.dht_announce_alert) and not announced:
                    announced = True
                    say("announced")
                elif isinstance(a, lt.peer_connect_alert) and role == "leech":
                    say("leech_peer", "%s:%d" % tuple(a.endpoint))
                elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                    say("error", a.message())
                    sys.exit(2)
        now = time.monotonic()
        if leech is None and opts["leech"] and (ready or not opts["seed"]):
            leech = add(sessions[-1][1], *opts["leech"])
        # The seed announces until some node took it; the leecher asks again.
        if now - last_announce >= 2.0:
            last_announce = now
            if ready and not announced:
                seed.force_dht_announce()
            if leech is not None and not complete:
                leech.force_dht_announce()
        if leech is not None and not complete and leech.status().is_seeding:
            complete = True
            say("complete")
        time.sleep(0.05)
    say("timeout")
    sys.exit(3)


if __name__ == "__main__":
    main()
