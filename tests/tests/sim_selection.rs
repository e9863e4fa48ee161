//! Scenario 6: with one file of a multi-file torrent selected, only that file's
//! pieces are downloaded, plus the boundary pieces it shares with its
//! neighbours, and the file is complete.

use std::collections::BTreeSet;
use std::time::Duration;

use sluice_core::picker::Priority;
use sluice_core::torrent::Event;
use sluice_tests::sim::{Content, NodeSpec, Sim};

#[test]
fn only_the_selected_file_is_downloaded() {
    // Sizes chosen so file 1 starts and ends inside pieces shared with files 0
    // and 2.
    let files = [
        ("a.bin", 1_000_000),
        ("b.bin", 3_000_000),
        ("c.bin", 2_500_000),
    ];
    let content = Content::multi(6, &files, 256 << 10);
    let layout = content.meta.layout();
    let mut sim = Sim::new(6, content);
    let seed = sim.add_node(NodeSpec::seed().upload(4 << 20));
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.with(leech, |t, now| {
        t.set_file_priority(now, 0, Priority::Skip);
        t.set_file_priority(now, 2, Priority::Skip);
    });
    sim.introduce(leech, seed);
    let done = sim.run_until(Duration::from_secs(120), |sim| {
        sim.nodes[leech]
            .events
            .iter()
            .any(|(_, e)| *e == Event::Finished)
    });
    assert!(done, "selected file not finished");
    // Give stray requests a chance to show up.
    sim.run_for(Duration::from_secs(10));

    let wanted: BTreeSet<u32> = layout.file_pieces(1).collect();
    let got: BTreeSet<u32> = sim.nodes[leech].torrent.have().ones().collect();
    assert_eq!(got, wanted, "exactly file 1's pieces");
    let first = *wanted.first().unwrap();
    let last = *wanted.last().unwrap();
    assert!(
        layout.piece_files(first).contains(&0),
        "first piece is shared with file 0"
    );
    assert!(
        layout.piece_files(last).contains(&2),
        "last piece is shared with file 2"
    );
    assert!(!sim.nodes[leech].torrent.is_complete());
    let completed: Vec<usize> = sim
        .events_of(leech, |e| matches!(e, Event::FileCompleted { .. }))
        .map(|(_, e)| match e {
            Event::FileCompleted { file } => *file,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(completed, vec![1]);
    // The bytes of file 1 are right.
    let range =
        layout.file_offset(1) as usize..(layout.file_offset(1) + layout.file_length(1)) as usize;
    let mut expected = vec![0u8; range.len()];
    sim.content.fill(range.start as u64, &mut expected);
    assert_eq!(
        &sim.nodes[leech].storage.bytes().unwrap()[range],
        &expected[..]
    );

    // Selecting another file later downloads it too.
    sim.with(leech, |t, now| {
        t.set_file_priority(now, 2, Priority::Normal)
    });
    assert!(sim.run_until(Duration::from_secs(120), |sim| {
        layout
            .file_pieces(2)
            .all(|p| sim.nodes[leech].torrent.have().get(p))
    }));
    assert!(!layout
        .file_pieces(0)
        .all(|p| sim.nodes[leech].torrent.have().get(p)));
}
