//! Tests of the torrent engine against scripted peers.
