//! The test bed's means to reproduce what a dCache operator meets: pool tags, reads with a
//! protocol and a client, the pool selection unit, replicas with or without storage info and
//! their dCache listing, pools stopped and started.

mod common;

use std::sync::mpsc;

use common::{TempHome, open, run, session};
use migration_core::host::{Completion, PoolList, PoolManager as _, PoolSelection};
use minidcache::Shell;

/// What the pool manager answers for `selection`.
fn pools(shell: &Shell, selection: PoolSelection) -> PoolList {
    let (tx, rx) = mpsc::channel();
    shell.cluster().pool_manager().pools(selection, Completion::new(move |o| tx.send(o).expect("receiver")));
    rx.recv().expect("answered").expect("a pool list")
}

fn names(list: &PoolList) -> Vec<String> {
    list.pools.iter().map(|p| format!("{}{}", p.name(), if p.is_online() { "" } else { " (offline)" })).collect()
}

#[test]
fn pool_tags_are_kept_shown_and_reported_with_the_cost_data() {
    let home = TempHome::new();
    let pools_ = ["pool1", "pool2"];
    {
        let mut sh = open(home.path(), &pools_);
        run(&mut sh, "\\c pool1");
        assert_eq!(run(&mut sh, "pool set tag rack r1"), "");
        assert_eq!(run(&mut sh, "pool set tag room a"), "");
        assert_eq!(run(&mut sh, "pool set tag room b"), "", "a tag is replaced");
        assert_eq!(run(&mut sh, "pool set tag bad=name x"), "Invalid tag name: \"bad=name\"\n");
        assert_eq!(run(&mut sh, "pool unset tag nothing"), "No such tag: nothing\n");
        assert!(run(&mut sh, "info").contains("Tags       : rack=r1,room=b\n"));
        let list = pools(&sh, PoolSelection::Names(vec!["pool1".into(), "pool2".into()]));
        let tags: Vec<Vec<(String, String)>> =
            list.pools.iter().map(|p| p.cost_info().expect("online").tags.clone().into_iter().collect()).collect();
        assert_eq!(tags, [vec![("rack".into(), "r1".into()), ("room".into(), "b".into())], vec![]]);
        // A restart of the pool keeps them (without save).
        run(&mut sh, "\\q");
        assert_eq!(run(&mut sh, "dcache restart pool1"), "Stopping pool1 done\nStarting pool1 done\n");
        run(&mut sh, "\\c pool1");
        assert!(run(&mut sh, "info").contains("Tags       : rack=r1,room=b\n"));
        assert_eq!(run(&mut sh, "pool unset tag room"), "");
    }
    // So does a restart of the whole process.
    let mut sh = open(home.path(), &pools_);
    run(&mut sh, "\\c pool1");
    assert!(run(&mut sh, "info").contains("Tags       : rack=r1\n"));
    run(&mut sh, "\\c pool2");
    assert!(run(&mut sh, "info").contains("Tags       : none\n"));
}

#[test]
fn a_stopped_pool_answers_nothing_and_is_offline_until_started() {
    let mut sh = session(&["pool1", "pool2", "pool3"]);
    assert_eq!(run(&mut sh, "dcache stop pool2"), "Stopping pool2 done\n");
    assert_eq!(run(&mut sh, "dcache stop pool2"), "pool2 is not running\n");
    assert_eq!(run(&mut sh, "dcache status"), "POOL   STATUS\npool1  running\npool2  stopped\npool3  running\n");
    assert_eq!(run(&mut sh, "\\l"), "pool1\npool3\nPoolManager\nPinManager\nPnfsManager\n");
    assert_eq!(run(&mut sh, "\\c pool2"), "No route to cell pool2: the pool is stopped\n");
    assert_eq!(run(&mut sh, "dcache stop pool9"), "Pool not found: pool9\n");
    let list = pools(&sh, PoolSelection::Groups(vec!["default".into()]));
    assert_eq!(names(&list), ["pool1", "pool2 (offline)", "pool3"]);
    assert_eq!(run(&mut sh, "dcache start pool2"), "Starting pool2 done\n");
    assert_eq!(run(&mut sh, "dcache start pool2"), "pool2 is already running\n");
    let list = pools(&sh, PoolSelection::Groups(vec!["default".into()]));
    assert_eq!(names(&list), ["pool1", "pool2", "pool3"]);
    assert_eq!(run(&mut sh, "\\c pool2"), "");
    assert!(run(&mut sh, "info").starts_with("Pool       : pool2 (enabled)\n"));
}
