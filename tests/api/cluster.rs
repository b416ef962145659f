//! The managed cluster's life cycle, as the server's embedded default uses it.

use storyxp::db::cluster::ManagedCluster;

use serde_json::json;

use crate::common::Scratch;

#[test]
fn a_stale_pid_file_left_by_a_crash_does_not_stop_the_next_start() {
    let scratch = Scratch::new("stale-pid");
    let dir = scratch.path();
    let cluster = ManagedCluster::prepare(dir, &["fsync=off"]).unwrap();
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
    let again = ManagedCluster::prepare(dir, &["fsync=off"]).unwrap();
    assert!(again.start().unwrap(), "started despite the stale pid file");
    assert!(again.is_running());
    again.stop().unwrap();
    assert!(!pid_file.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_apps_database_is_dropped_when_its_last_server_stops() {
    use crate::common::{TestApp, database_exists};
    // Shut down explicitly.
    let mut app = TestApp::spawn().await;
    let name = app.database_name().to_string();
    assert!(database_exists(&name).await, "{name} exists while served");
    app.sign_up("alice").await;
    app.shut_down().await;
    assert!(!database_exists(&name).await, "{name} is dropped");

    // Dropped without a shut-down, the database shared with a second instance: it goes
    // with the last of the two, even with a session still open on it.
    let first = TestApp::spawn().await;
    let name = first.database_name().to_string();
    let second = TestApp::spawn_on(first.database_url.clone()).await;
    let session = second.sql().await;
    drop(first);
    assert!(database_exists(&name).await, "{name} is still served");
    assert_eq!(
        second
            .graphql(None, "{ xpRewards { xp } }", json!({}))
            .await["data"]["xpRewards"][0]["xp"],
        100
    );
    drop(second);
    assert!(!database_exists(&name).await, "{name} is dropped");
    drop(session);
}

/// What cleans up after the run even when the test process crashes or is killed: the
/// scratch directory's watchdog stops the cluster inside and removes the directory as
/// soon as the pipe from this process closes (dropping the guard closes it early).
#[test]
fn a_scratch_directory_takes_its_running_cluster_with_it() {
    let scratch = Scratch::new("watchdog");
    let dir = scratch.path().to_path_buf();
    let cluster = ManagedCluster::prepare(&dir, &["fsync=off"]).unwrap();
    assert!(cluster.start().unwrap());
    let pid_file = std::fs::read_to_string(dir.join("pgdata/postmaster.pid")).unwrap();
    let postmaster = nix::unistd::Pid::from_raw(pid_file.lines().next().unwrap().parse().unwrap());
    assert_eq!(nix::sys::signal::kill(postmaster, None), Ok(()), "it runs");
    drop(scratch);
    assert_eq!(
        nix::sys::signal::kill(postmaster, None),
        Err(nix::errno::Errno::ESRCH),
        "the cluster was stopped"
    );
    assert!(!dir.exists(), "{} was removed", dir.display());
}
