//! The conformance scenarios (`sluice_tests::conformance::scenarios`) on
//! sluice-mio, the event-loop driver: the same list as `conformance_std.rs`.

use sluice_tests::conformance::{scenarios, Mio};

#[test]
fn download_single_file() {
    scenarios::download_single_file::<Mio>();
}

#[test]
fn download_multi_file() {
    scenarios::download_multi_file::<Mio>();
}

#[test]
fn empty_files_are_created() {
    scenarios::empty_files_are_created::<Mio>();
}

#[test]
fn api_misuse_is_an_error() {
    scenarios::api_misuse_is_an_error::<Mio>();
}

#[test]
fn seed_uploads_both_ways() {
    scenarios::seed_uploads_both_ways::<Mio>();
}

#[test]
fn ranged_read_streams_only_the_range() {
    scenarios::ranged_read_streams_only_the_range::<Mio>();
}

#[test]
fn ranged_read_before_complete() {
    scenarios::ranged_read_before_complete::<Mio>();
}

#[test]
fn seek() {
    scenarios::seek::<Mio>();
}

#[test]
fn select_one_file_then_another() {
    scenarios::select_one_file_then_another::<Mio>();
}

#[test]
fn select_after_restart() {
    scenarios::select_after_restart::<Mio>();
}

#[test]
fn select_all_after_restart() {
    scenarios::select_all_after_restart::<Mio>();
}

#[test]
fn deselect_before_data() {
    scenarios::deselect_before_data::<Mio>();
}

#[test]
fn deselect_leaves_no_stray_files() {
    scenarios::deselect_leaves_no_stray_files::<Mio>();
}

#[test]
fn wait_finished_sees_new_selection() {
    scenarios::wait_finished_sees_new_selection::<Mio>();
}

#[test]
fn resume_after_kill() {
    scenarios::resume_after_kill::<Mio>();
}

#[test]
fn resume_after_stop() {
    scenarios::resume_after_stop::<Mio>();
}

#[test]
fn remove_deletes_data() {
    scenarios::remove_deletes_data::<Mio>();
}

#[test]
fn remove_keeps_verified() {
    scenarios::remove_keeps_verified::<Mio>();
}

#[test]
fn memory_storage() {
    scenarios::memory_storage::<Mio>();
}

#[test]
fn bad_peer_is_banned() {
    scenarios::bad_peer_is_banned::<Mio>();
}

#[test]
fn bad_peer_alongside_good() {
    scenarios::bad_peer_alongside_good::<Mio>();
}

#[test]
fn blocked_peer_is_dropped() {
    scenarios::blocked_peer_is_dropped::<Mio>();
}

#[test]
fn storage_full() {
    scenarios::storage_full::<Mio>();
}

#[test]
fn storage_read_only() {
    scenarios::storage_read_only::<Mio>();
}

#[test]
fn file_deleted_mid_download() {
    scenarios::file_deleted_mid_download::<Mio>();
}
