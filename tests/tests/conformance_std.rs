//! The conformance scenarios (`sluice_tests::conformance::scenarios`) on
//! sluice-std. The mio driver runs the same list in `conformance_mio.rs`.

use sluice_tests::conformance::{scenarios, Std};

#[test]
fn download_single_file() {
    scenarios::download_single_file::<Std>();
}

#[test]
fn download_multi_file() {
    scenarios::download_multi_file::<Std>();
}

#[test]
fn empty_files_are_created() {
    scenarios::empty_files_are_created::<Std>();
}

#[test]
fn api_misuse_is_an_error() {
    scenarios::api_misuse_is_an_error::<Std>();
}

#[test]
fn seed_uploads_both_ways() {
    scenarios::seed_uploads_both_ways::<Std>();
}

#[test]
fn ranged_read_streams_only_the_range() {
    scenarios::ranged_read_streams_only_the_range::<Std>();
}

#[test]
fn ranged_read_before_complete() {
    scenarios::ranged_read_before_complete::<Std>();
}

#[test]
fn seek() {
    scenarios::seek::<Std>();
}

#[test]
fn select_one_file_then_another() {
    scenarios::select_one_file_then_another::<Std>();
}

#[test]
fn select_after_restart() {
    scenarios::select_after_restart::<Std>();
}

#[test]
fn select_all_after_restart() {
    scenarios::select_all_after_restart::<Std>();
}

#[test]
fn deselect_before_data() {
    scenarios::deselect_before_data::<Std>();
}

#[test]
fn deselect_leaves_no_stray_files() {
    scenarios::deselect_leaves_no_stray_files::<Std>();
}

#[test]
fn wait_finished_sees_new_selection() {
    scenarios::wait_finished_sees_new_selection::<Std>();
}

#[test]
fn resume_after_kill() {
    scenarios::resume_after_kill::<Std>();
}

#[test]
fn resume_after_stop() {
    scenarios::resume_after_stop::<Std>();
}

#[test]
fn remove_deletes_data() {
    scenarios::remove_deletes_data::<Std>();
}

#[test]
fn remove_keeps_verified() {
    scenarios::remove_keeps_verified::<Std>();
}

#[test]
fn memory_storage() {
    scenarios::memory_storage::<Std>();
}

#[test]
fn bad_peer_is_banned() {
    scenarios::bad_peer_is_banned::<Std>();
}

#[test]
fn bad_peer_alongside_good() {
    scenarios::bad_peer_alongside_good::<Std>();
}

#[test]
fn blocked_peer_is_dropped() {
    scenarios::blocked_peer_is_dropped::<Std>();
}

#[test]
fn storage_full() {
    scenarios::storage_full::<Std>();
}

#[test]
fn storage_read_only() {
    scenarios::storage_read_only::<Std>();
}

#[test]
fn file_deleted_mid_download() {
    scenarios::file_deleted_mid_download::<Std>();
}
