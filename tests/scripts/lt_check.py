#!/usr/bin/python3
"""Load a .torrent with libtorrent, hash-check its data, print one JSON object.

usage: lt_check.py TORRENT SAVE_PATH [TIMEOUT_SECONDS]

SAVE_PATH is the directory that holds the torrent's data (the parent of the single
file, or of the multi-file torrent's top directory). The session listens on
127.0.0.1 only, with DHT, LSD, UPnP and NAT-PMP off.

Output keys: info_hash, name, piece_length, piece_count, total_size, private,
comment, trackers (list of tiers), files (list of {path, size, offset, padding}),
checked (bool), state, num_pieces (status.num_pieces), have_pieces (count of
have_piece), error (string or null).
"""

import json
import os
import sys
import time

import libtorrent as lt


def describe(ti):
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        files.append(
            {
                "path": fs.file_path(i).replace(os.sep, "/"),
                "size": fs.file_size(i),
                "offset": fs.file_offset(i),
                "padding": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
            }
        )
    tiers = {}
    for t in ti.trackers():
        tiers.setdefault(t.tier, []).append(t.url)
    return {
        "info_hash": str(ti.info_hashes().v1),
        "name": ti.name(),
        "piece_length": ti.piece_length(),
        "piece_count": ti.num_pieces(),
        "total_size": ti.total_size(),
        "private": bool(ti.priv()),
        "comment": ti.comment(),
        "trackers": [tiers[k] for k in sorted(tiers)],
        "files": files,
    }


def check(ti, save_path, timeout):
    ses = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": lt.alert_category.status
            | lt.alert_category.error
            | lt.alert_category.storage,
        }
    )
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = save_path
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    handle = ses.add_torrent(atp)

    deadline = time.monotonic() + timeout
    checked = False
    error = None
    while not checked and error is None and time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.torrent_checked_alert):
                checked = True
            elif isinstance(alert, (lt.torrent_error_alert, lt.file_error_alert)):
                error = alert.message()
    status = handle.status()
    have = sum(1 for i in range(ti.num_pieces()) if handle.have_piece(i))
    result = {
        "checked": checked,
        "state": str(status.state),
        "num_pieces": status.num_pieces,
        "have_pieces": have,
        "error": error if error is not None else (None if checked else "timed out"),
    }
    ses.remove_torrent(handle)
    return result


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    torrent, save_path = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 60.0
    ti = lt.torrent_info(torrent)
    out = describe(ti)
    out.update(check(ti, save_path, timeout))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
