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

/// The setup of a site that sends DCap reads from its campus to the pool group `fast`, and
/// every other read to every pool (through `default-link`).
const DCAP_LINK: &str = "psu create unit -protocol DCap/*
psu addto ugroup any-protocol DCap/*
psu create ugroup dcap
psu addto ugroup dcap DCap/*
psu create unit -net 10.0.0.0/8
psu addto ugroup world-net 10.0.0.0/8
psu create ugroup campus
psu addto ugroup campus 10.0.0.0/8
psu create pgroup fast
psu addto pgroup fast pool3
psu addto pgroup fast pool4
psu create link dcap-link any-store dcap campus
psu set link dcap-link -readpref=20
psu add link dcap-link fast";

fn readers(protocol: &str, net: &str, cache_class: Option<&str>) -> PoolSelection {
    let mut attributes = migration_core::replica::FileAttributes {
        pnfsid: migration_core::PnfsId::parse("1").expect("id"),
        size: 1,
        storage_class: Some("atlas:default@osm".into()),
        cache_class: None,
        access_latency: None,
        retention_policy: None,
        checksums: Vec::new(),
    };
    attributes.cache_class = cache_class.map(str::to_string);
    PoolSelection::Readers { attributes, protocol: protocol.into(), net: net.into() }
}

#[test]
fn read_pools_come_from_the_first_preference_level_of_the_links_a_read_matches() {
    let home = TempHome::new();
    let all = ["pool1", "pool2", "pool3", "pool4"];
    {
        let mut sh = open(home.path(), &all);
        run(&mut sh, "\\c PoolManager");
        for line in DCAP_LINK.lines() {
            assert_eq!(run(&mut sh, line), "", "{line}");
        }
        assert_eq!(run(&mut sh, "psu create link broken nosuchgroup"), "uGroup not found : nosuchgroup\n");
        let link = run(&mut sh, "psu ls link -l");
        assert!(
            link.contains("dcap-link\n readPref  : 20\n cachePref : 0\n writePref : 0\n p2pPref   : -1\n UGroups   : any-store,dcap,campus\n pgroups   : fast\n"),
            "{link}"
        );
        assert_eq!(
            run(&mut sh, "psu match read atlas:default@osm * 10.1.2.3 DCap/3"),
            "Preference : 0\n       Tag : NONE\n  pool3\n  pool4\nPreference : 1\n       Tag : NONE\n  pool1\n  pool2\n  pool3\n  pool4\n"
        );
        run(&mut sh, "save");
    }
    // The setup is replayed on start.
    let mut sh = open(home.path(), &all);
    run(&mut sh, "\\c PoolManager");
    assert_eq!(
        run(&mut sh, "psu match read a:b@osm * 192.168.1.1 DCap/3"),
        "Preference : 0\n       Tag : NONE\n  pool1\n  pool2\n  pool3\n  pool4\n"
    );
    assert_eq!(run(&mut sh, "psu match read a:b@osm hot * */*"), "Unit not found : hot\n");

    // Hot-file replication asks for the first non-empty level, with cost data.
    assert_eq!(names(&pools(&sh, readers("DCap/3", "10.1.2.3", None))), ["pool3", "pool4"]);
    assert_eq!(names(&pools(&sh, readers("xrootd/2", "10.1.2.3", None))), all);
    assert_eq!(names(&pools(&sh, readers("*/*", "", None))), all);
    // Pools that cannot serve the read are left out of their level; an empty level is skipped.
    run(&mut sh, "\\c pool3");
    run(&mut sh, "pool disable -strict");
    run(&mut sh, "\\q");
    run(&mut sh, "dcache stop pool4");
    assert_eq!(names(&pools(&sh, readers("DCap/3", "10.1.2.3", None))), ["pool1", "pool2"]);
    // A file with a cache class the selection unit does not know is refused, as in dCache.
    let (tx, rx) = mpsc::channel();
    sh.cluster()
        .pool_manager()
        .pools(readers("*/*", "", Some("hot")), Completion::new(move |o| tx.send(o).expect("rx")));
    let refused = rx.recv().expect("answered").expect_err("refused");
    assert_eq!(refused.to_string(), "Unit not found : hot (rc=10015)");
    run(&mut sh, "\\c PoolManager");
    let listing = run(&mut sh, "psu ls pool -l");
    assert!(
        listing.contains("pool4  (enabled=true;active=no;rdOnly=false;pgroups=2;hsm=[];mode=disabled(dead))\n"),
        "{listing}"
    );
    assert!(listing.contains("pool3  (enabled=true;active=0;rdOnly=false;pgroups=2;hsm=[];mode=disabled(fetch,store,stage,p2p-client,p2p-server))\n"), "{listing}");
}

/// The protocol unit and net unit of the hot-file job of `pnfsid` on `pool`, once it exists.
fn hot_file_query(shell: &Shell, pool: &str, pnfsid: &str) -> (String, String) {
    let runtime = shell.cluster().runtime(pool).expect("running");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let query =
            runtime.with_module(|m| m.job(&format!("hotfile-{pnfsid}")).and_then(|j| j.definition.hot_file.clone()));
        if let Some(q) = query {
            return (q.protocol, q.net);
        }
        assert!(std::time::Instant::now() < deadline, "no hot-file job for {pnfsid}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn reads_report_their_protocol_and_client_and_hot_files_go_to_the_pools_that_serve_them() {
    let mut sh = session(&["pool1", "pool2", "pool3", "pool4"]);
    run(&mut sh, "\\c PoolManager");
    for line in DCAP_LINK.lines() {
        run(&mut sh, line);
    }
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=3 -size=1000");
    run(&mut sh, "hotfile set threshold 1");
    run(&mut sh, "hotfile set replicas 2");
    let [a, b, c] = ["000100000000000000000001", "000100000000000000000002", "000100000000000000000003"];
    assert_eq!(
        run(&mut sh, &format!("debug readers {a} 5 -protocol=DCap/3 -client=10.1.2.3")),
        format!("Reported 5 readers of {a} (DCap/3 from 10.1.2.3)\n")
    );
    assert_eq!(hot_file_query(&sh, "pool1", a), ("DCap/3".to_string(), "10.1.2.3".to_string()));
    assert!(run(&mut sh, &format!("wait hotfile-{a} -timeout=30")).contains("FINISHED"));
    // The DCap link's pool group serves campus DCap reads: both replicas go there.
    let locations = |sh: &Shell, id: &str| {
        let mut l = sh.cluster().namespace().locations(&migration_core::PnfsId::parse(id).expect("id")).expect("known");
        l.sort();
        l
    };
    assert_eq!(locations(&sh, a), ["pool1", "pool3", "pool4"]);

    // A get is a read with its protocol too; NFS is not DCap, so every pool may serve it.
    assert!(run(&mut sh, &format!("get {b} b.out -protocol=NFS/4.1 -client=2001:DB8::7")).starts_with("1000 bytes"));
    assert_eq!(hot_file_query(&sh, "pool1", b), ("NFS/4.1".to_string(), "2001:db8::7".to_string()));
    assert!(run(&mut sh, &format!("wait hotfile-{b} -timeout=30")).contains("FINISHED"));
    assert_eq!(locations(&sh, b).len(), 3);
    // Without protocol info the protocol unit is */* and the net unit empty.
    assert!(run(&mut sh, &format!("get {c} c.out")).starts_with("1000 bytes"));
    assert_eq!(hot_file_query(&sh, "pool1", c), ("*/*".to_string(), String::new()));

    assert_eq!(
        run(&mut sh, &format!("get {a} x -client=10.0.0.1")),
        "-client needs -protocol: the address is part of the protocol info\n"
    );
    assert_eq!(
        run(&mut sh, &format!("debug readers {a} 1 -protocol=DCap")),
        "Syntax error: Invalid protocol: DCap (expected <protocol>/<major>[.<minor>])\n"
    );
    assert_eq!(
        run(&mut sh, &format!("debug readers {a} 1 -protocol=DCap/3 -client=host")),
        "Syntax error: Invalid client address: host (expected an IP address)\n"
    );
}

#[test]
fn replicas_carry_or_lack_storage_info_and_list_as_dcache_lists_them() {
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=2 -size=1000 -storage=atlas:raw@osm -al=online -rp=replica");
    run(&mut sh, "populate -files=1 -size=500 -no-storage-info -state=cached -sticky=lhcb");
    run(&mut sh, "populate -files=1 -size=7 -storage=cms:raw@enstore -state=cached");
    assert_eq!(
        run(&mut sh, "populate -files=1 -size=1 -no-storage-info -storage=a:b@osm"),
        "Syntax error: -no-storage-info excludes -storage and -cache\n"
    );
    let [one, _, three, four] = [1, 2, 3, 4].map(|n| format!("0001{n:020X}"));
    let all = run(&mut sh, "rep ls");
    assert_eq!(
        all,
        format!(
            "{one} <-P---------L(0)[0]> 1000 si={{atlas:raw@osm}}\n000100000000000000000002 <-P---------L(0)[0]> 1000 si={{atlas:raw@osm}}\n\
             {three} <C-------X--L(0)[0]> 500 si={{<unknown>}}\n{four} <C----------L(0)[0]> 7 si={{cms:raw@enstore}}\n"
        )
    );
    assert_eq!(run(&mut sh, "rep ls -l"), all, "-l alone lists everything, as in dCache");
    assert_eq!(run(&mut sh, "rep ls -l=s").lines().count(), 1);
    assert_eq!(run(&mut sh, "rep ls -l=sp").lines().count(), 3);
    assert_eq!(run(&mut sh, "rep ls -l=nc").lines().count(), 2);
    assert_eq!(run(&mut sh, "rep ls -l=c").lines().count(), 2);
    assert_eq!(
        run(&mut sh, "rep ls -l=x"),
        "Syntax error: Invalid flag 'x' in -l=x (expected s, p, l, u, nc, e or c)\n"
    );
    assert_eq!(run(&mut sh, "rep ls -storage=*@osm").lines().count(), 2);
    assert_eq!(run(&mut sh, "rep ls -storage=<unknown>").lines().count(), 1);
    let stats = run(&mut sh, "rep ls -s=b");
    let rows: Vec<Vec<&str>> = stats.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        [
            vec!["<unknown>", "500,", "1;", "0,", "0;", "500,", "1;", "0,", "0"],
            vec!["atlas:raw@osm", "2000,", "2;", "2000,", "2;", "0,", "0;", "0,", "0"],
            vec!["cms:raw@enstore", "7,", "1;", "0,", "0;", "0,", "0;", "7,", "1"],
        ],
        "{stats}"
    );
    assert_eq!(run(&mut sh, &format!("rep sticky ls {three}")), "lhcb : never expires\n");
    assert_eq!(run(&mut sh, &format!("rep sticky ls {one}")), "");

    run(&mut sh, "\\c PnfsManager");
    assert_eq!(
        run(&mut sh, &format!("storageinfoof {one}")),
        "size=1000;new=false;stored=false;sClass=atlas:raw;cClass=-;hsm=osm;accessLatency=ONLINE;retentionPolicy=REPLICA;\n"
    );
    assert_eq!(
        run(&mut sh, &format!("storageinfoof {three}")),
        "size=500;new=false;stored=false;sClass=-;cClass=-;hsm=-;accessLatency=NEARLINE;retentionPolicy=CUSTODIAL;\n"
    );

    // A copy keeps what the source has: no storage info stays none.
    run(&mut sh, "\\c pool1");
    run(&mut sh, "migration copy pool2");
    assert!(run(&mut sh, "wait 1").contains("FINISHED"));
    run(&mut sh, "\\c pool2");
    assert!(run(&mut sh, &format!("rep ls {three}")).ends_with(" 500 si={<unknown>}\n"));
    let copied = sh.cluster().pool("pool2").expect("pool2").repository.entries();
    let first = copied.iter().find(|e| e.pnfsid.to_string() == one).expect("copied");
    assert_eq!(
        (first.access_latency, first.retention_policy),
        (Some(migration_core::replica::AccessLatency::Online), Some(migration_core::replica::RetentionPolicy::Replica))
    );

    // A hot file without storage info has no pools to ask for: its job gets no targets.
    run(&mut sh, "\\c pool1");
    run(&mut sh, "hotfile set threshold 1");
    run(&mut sh, &format!("debug readers {three} 3"));
    assert_eq!(hot_file_query(&sh, "pool1", &three).0, "*/*");
    assert_eq!(
        run(&mut sh, &format!("wait hotfile-{three} -timeout=1")),
        format!("Timed out waiting for job hotfile-{three}\n")
    );
    let info = run(&mut sh, &format!("migration info hotfile-{three}"));
    assert!(info.contains("State      : SLEEPING\n") && info.contains("Targets    : \n"), "{info}");
}
