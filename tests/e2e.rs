//! The end-to-end suite in e2e/ (Node: Apollo Client, graphql-ws, GraphiQL in headless
//! Chromium), run against this build of the binary as part of `cargo test`.

use std::path::Path;
use std::process::Command;

#[test]
fn apollo_client_and_graphiql_in_chromium_end_to_end() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    let npm_available = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        npm_available,
        "Node.js (20 or later) and npm are needed for the end-to-end tests; .ci/run installs them"
    );
    let installed = e2e.join("node_modules/.package-lock.json");
    let lock = e2e.join("package-lock.json");
    let stale = match (
        installed.metadata().and_then(|m| m.modified()),
        lock.metadata().and_then(|m| m.modified()),
    ) {
        (Ok(installed), Ok(lock)) => installed < lock,
        _ => true,
    };
    if stale {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&e2e)
            .status()
            .expect("running npm ci");
        assert!(status.success(), "npm ci failed in e2e/");
    }
    let status = Command::new("npm")
        .arg("test")
        .current_dir(&e2e)
        .env("STORYXP_BIN", env!("CARGO_BIN_EXE_storyxp"))
        .status()
        .expect("running the e2e suite");
    assert!(
        status.success(),
        "the end-to-end suite failed (its output is above)"
    );
}
