//! Moving from the Django app: import-django, then backfill-xp, through the real binary.

use serde_json::json;
use storyxp::auth::password::django_pbkdf2_hash;

use crate::common::{TestApp, storyxp_command};

async fn run(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = storyxp_command(app, args).output().await.unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
        String::from_utf8_lossy(&output.stderr).trim().to_string(),
    )
}

fn write_dump(name: &str, records: serde_json::Value) -> std::path::PathBuf {
    // The run's directory goes when the run ends.
    let path = crate::common::run_dir().join(format!("dump-{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&records).unwrap()).unwrap();
    path
}

fn legacy_dump() -> serde_json::Value {
    json!([
        { "model": "auth.user", "pk": 7, "fields": { "username": "olduser", "email": "old@example.com", "password": django_pbkdf2_hash("hunter22", "salty", 1000), "is_superuser": false } },
        { "model": "auth.user", "pk": 8, "fields": { "username": "quiet", "email": "", "password": django_pbkdf2_hash("whisper!", "pepper", 1000) } },
        { "model": "storybook.story", "pk": 100, "fields": { "author": 7, "title": "Old tale", "content": "Long ago.", "is_published": true, "created_at": "2023-05-01T10:00:00Z" } },
        { "model": "storybook.story", "pk": 101, "fields": { "author": 7, "title": "Draft", "content": "...", "is_published": false } },
        { "model": "storybook.story", "pk": 102, "fields": { "author": 8, "title": "Quiet one", "content": "", "is_published": true, "created_at": "2023-06-01T08:30:00.123456" } },
        { "model": "storybook.comment", "pk": 1, "fields": { "story": 100 } }
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_users_log_in_with_their_django_password_and_it_is_rehashed() {
    let app = TestApp::spawn().await;
    let dump = write_dump("login", legacy_dump());
    let (ok, stdout, stderr) = run(&app, &["import-django", dump.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "import-django: 2 users imported (0 already there), 3 stories imported (0 already there), 1 other records ignored; no XP awarded (run backfill-xp next)"
    );
    let log_in = "mutation($login: String!, $password: String!) { logIn(input: { login: $login, password: $password }) { token user { username experiencePoints } } }";
    let data = app
        .ok(
            None,
            log_in,
            json!({ "login": "olduser", "password": "hunter22" }),
        )
        .await;
    assert_eq!(
        data["logIn"]["user"],
        json!({ "username": "olduser", "experiencePoints": 0 })
    );
    assert_eq!(
        app.error_code(
            None,
            log_in,
            json!({ "login": "olduser", "password": "hunter23" })
        )
        .await,
        "UNAUTHENTICATED"
    );

    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    use diesel_async::RunQueryDsl;
    let mut connection = app.sql().await;
    let stored: Hash =
        diesel::sql_query("SELECT password_hash FROM users WHERE username = 'olduser'")
            .get_result(&mut connection)
            .await
            .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "re-hashed on first login: {}",
        stored.password_hash
    );
    let again = app
        .ok(
            None,
            log_in,
            json!({ "login": "old@example.com", "password": "hunter22" }),
        )
        .await;
    assert_eq!(again["logIn"]["user"]["username"], "olduser");

    let stories = app
        .ok(
            Some(data["logIn"]["token"].as_str().unwrap()),
            "{ stories { nodes { title published createdAt author { username } } } }",
            json!({}),
        )
        .await;
    let nodes = stories["stories"]["nodes"].as_array().unwrap();
    let titles: Vec<&str> = nodes
        .iter()
        .map(|story| story["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Quiet one", "Draft", "Old tale"]);
    assert_eq!(
        nodes[0],
        json!({ "title": "Quiet one", "published": true, "createdAt": "2023-06-01T08:30:00.123456+00:00", "author": { "username": "quiet" } }),
        "a time without a zone is UTC"
    );
    assert_eq!(
        (nodes[1]["published"].clone(), nodes[1]["author"].clone()),
        (json!(false), json!({ "username": "olduser" })),
        "the author sees the imported draft"
    );
    assert_eq!(nodes[2]["createdAt"], "2023-05-01T10:00:00+00:00");
    assert_eq!(nodes[2]["published"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_import_skips_what_is_there() {
    let app = TestApp::spawn().await;
    let dump = write_dump("twice", legacy_dump());
    assert!(
        run(&app, &["import-django", dump.to_str().unwrap()])
            .await
            .0
    );
    let (ok, stdout, _) = run(&app, &["import-django", dump.to_str().unwrap()]).await;
    assert!(ok);
    assert_eq!(
        stdout,
        "import-django: 0 users imported (2 already there), 0 stories imported (3 already there), 1 other records ignored; no XP awarded (run backfill-xp next)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_dump_imports_nothing() {
    let app = TestApp::spawn().await;
    let orphan = write_dump(
        "orphan",
        json!([
            { "model": "auth.user", "pk": 1, "fields": { "username": "fine", "email": "f@example.com", "password": "x" } },
            { "model": "storybook.story", "pk": 5, "fields": { "author": 99, "title": "Lost", "content": "", "is_published": true } }
        ]),
    );
    let (ok, _, stderr) = run(&app, &["import-django", orphan.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("storybook.story 5: its author (auth.user 99) is neither in the dump nor imported before"), "{stderr}");
    let truncated = crate::common::run_dir().join("dump-truncated.json");
    let mut text = serde_json::to_string(&legacy_dump()).unwrap();
    text.truncate(text.len() - 40);
    std::fs::write(&truncated, text).unwrap();
    let (ok, _, stderr) = run(&app, &["import-django", truncated.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        stderr.contains("the dump is not valid dumpdata JSON"),
        "{stderr}"
    );
    let bad_name = write_dump(
        "badname",
        json!([{ "model": "auth.user", "pk": 3, "fields": { "username": "has space", "email": "", "password": "x" } }]),
    );
    let (ok, _, stderr) = run(&app, &["import-django", bad_name.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        stderr.contains("auth.user 3: the username \"has space\" is not valid here"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&app, &["import-django", "/nonexistent/dump.json"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("cannot open /nonexistent/dump.json"),
        "{stderr}"
    );
    let board = app
        .ok(
            None,
            "{ leaderboard(first: 10) { user { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(board["leaderboard"], json!([]), "nothing half-imported");
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_grants_missing_story_xp_once() {
    let app = TestApp::spawn().await;
    let dump = write_dump("backfill", legacy_dump());
    assert!(
        run(&app, &["import-django", dump.to_str().unwrap()])
            .await
            .0
    );
    let (ok, stdout, _) = run(&app, &["backfill-xp", "--dry-run"]).await;
    assert!(ok);
    assert_eq!(
        stdout,
        "backfill-xp: would grant 400 XP to 2 users (3 story-created awards, 2 story-published awards, 0 achievements not counted)"
    );
    let (ok, stdout, stderr) = run(&app, &["backfill-xp", "--batch-size", "2"]).await;
    assert!(ok, "{stderr}");
    // olduser: 2 stories (200) + 1 published (50) + FIRST_STORY + FIRST_PUBLISH (60) = 310;
    // quiet: 100 + 50 + 60 = 210.
    assert_eq!(
        stdout,
        "backfill-xp: granted 520 XP to 2 users (3 story-created awards, 2 story-published awards, 4 achievements)"
    );
    let (ok, stdout, _) = run(&app, &["backfill-xp"]).await;
    assert!(ok);
    assert_eq!(
        stdout,
        "backfill-xp: nothing to do; every story already has its XP"
    );
    let board = app
        .ok(
            None,
            "{ leaderboard(first: 10) { user { username } experiencePoints } }",
            json!({}),
        )
        .await;
    assert_eq!(
        board["leaderboard"],
        json!([{ "user": { "username": "olduser" }, "experiencePoints": 310 }, { "user": { "username": "quiet" }, "experiencePoints": 210 }])
    );
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let mut connection = app.sql().await;
    let notifications: Count = diesel::sql_query("SELECT count(*) AS count FROM notifications")
        .get_result(&mut connection)
        .await
        .unwrap();
    assert_eq!(notifications.count, 0, "the backfill notifies nobody");
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_after_live_xp_counts_nothing_twice() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    app.create_published_story(&alice, "Live").await; // 100 + 30 + 50 + 30 = 210, all live
    let dump = write_dump("mixed", legacy_dump());
    assert!(
        run(&app, &["import-django", dump.to_str().unwrap()])
            .await
            .0
    );
    let (ok, stdout, _) = run(&app, &["backfill-xp"]).await;
    assert!(ok);
    assert_eq!(
        stdout,
        "backfill-xp: granted 520 XP to 2 users (3 story-created awards, 2 story-published awards, 4 achievements)"
    );
    assert_eq!(app.xp(&alice).await, 210);
}
