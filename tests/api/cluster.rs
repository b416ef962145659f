//! The managed cluster's life cycle, as the server's embedded default uses it.

use storyxp::db::cluster::ManagedCluster;

#[test]
fn a_stale_pid_file_left_by_a_crash_does_not_stop_the_next_start() {
    let dir = std::env::temp_dir().join(format!("storyxp-test-stale-pid-{}", std::process::id()));
    let cluster = ManagedCluster::prepare(&dir, &["fsync=off"]).unwrap();
    assert!(cluster.start().unwrap(), "the first start starts it");
    assert!(
        !cluster.start().unwrap(),
        "a second start reuses the running cluster"
    );
    cluster.stop().unwrap();
    // A crash leaves postmaster.pid behind; its pid may since belong to another process
    // (here: this test process), which PostgreSQL alone would take for a live server.
    let pid_file = dir.join("pgdata/postmaster.pid");
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", std::process::id(), dir.join("pgdata").display()),
    )
    .unwrap();
    let again = ManagedCluster::prepare(&dir, &["fsync=off"]).unwrap();
    assert!(again.start().unwrap(), "started despite the stale pid file");
    assert!(again.is_running());
    again.stop().unwrap();
    assert!(!pid_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
