use migration_core::Config;
use migration_core::driver::sim::{Cluster, replica};
use migration_core::job::JobState;
use migration_core::replica::ReplicaState;

#[test]
fn plain_copy_creates_a_cached_replica_and_finishes() {
    let mut c = Cluster::new(1, Config::default());
    c.add_pool("pool1");
    c.add_pool("pool2");
    let now = c.now();
    c.add_replica("pool1", replica("A", ReplicaState::Cached, 40, now, vec![]));
    c.start();
    let out = c.execute("pool1", "migration copy -pnfsid=A pool2").expect("valid");
    assert_eq!(out, "[1] INITIALIZING migration copy -pnfsid=A pool2");
    assert!(c.run_until_jobs_end(60_000));
    assert_eq!(c.job("pool1", "1").state(), JobState::Finished);
    let info = c.execute("pool1", "migration info 1").expect("job exists");
    println!("{info}");
    assert!(info.contains("Completed  : 1 files; 40 bytes\n"), "{info}");
    assert!(info.contains("Total      : 40 bytes\n"), "{info}");
    let copy = c.repository("pool2").entries();
    assert_eq!(copy.len(), 1);
    assert_eq!(copy[0].state, ReplicaState::Cached);
}
