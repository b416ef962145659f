//! storyxp behind a transaction-pooling PgBouncer (Debian's 1.18): the server's pool goes
//! through it, its LISTEN connection straight to PostgreSQL, and the actions and live
//! level-ups work, with exact XP, while a few PostgreSQL sessions serve all its
//! connections in turn.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use storyxp::app::server::ServerOptions;
use storyxp::db::Pooler;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::common::{TestApp, fresh_database, run_dir, sign_up_many};

/// PostgreSQL sessions PgBouncer opens for the test database: far fewer than the
/// server's pool has connections, so those take turns on them (a statement left on one
/// session would be missing on the next).
const SERVER_SESSIONS: usize = 3;
const SERVER_POOL_SIZE: u16 = 16;
/// Only names PgBouncer's socket file: it opens no TCP port.
const PORT: u16 = 6432;

const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { likeCount } xpEarned { xpGained achievements { key } } } }";
const COMMENT: &str = "mutation($id: ID!, $body: String!) { commentOnStory(storyId: $id, body: $body) { comment { body } xpEarned { xpGained totalXp leveledUp } } }";
const READ: &str = "mutation($id: ID!) { readStory(id: $id) { xpEarned { action xpGained } } }";
const ADD_FRIEND: &str =
    "mutation($id: ID!) { addFriend(userId: $id) { status xpEarned { xpGained } } }";

static NEXT_BOUNCER: AtomicUsize = AtomicUsize::new(0);

/// Runs PgBouncer in the foreground and stops it (SIGTERM: immediate shutdown) once its
/// stdin closes: when the guard is dropped, or when the test process ends however it
/// ends, since only this process holds the pipe.
const SUPERVISOR: &str = r#""$1" "$2" &
read -r _
kill -TERM "$!"
wait"#;

/// A PgBouncer of one test: its own directory, ini file and unix socket.
struct PgBouncer {
    dir: PathBuf,
    database: String,
    supervisor: Child,
}

impl PgBouncer {
    /// Starts PgBouncer in transaction mode in front of the test cluster's database at
    /// `database_url` (a libpq connection string, which a `[databases]` entry takes as
    /// it is), as the `postgres` OS user when this process is root (PgBouncer refuses to
    /// run as root), the way the managed cluster runs.
    async fn start(database_url: &str) -> PgBouncer {
        let binary = pgbouncer_binary();
        let database = database_url
            .rsplit("dbname=")
            .next()
            .expect("a database name in the connection string")
            .to_string();
        let dir = run_dir().join(format!(
            "pgbouncer-{}",
            NEXT_BOUNCER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("creating PgBouncer's directory");
        let ini = dir.join("pgbouncer.ini");
        let userlist = dir.join("userlist.txt");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 {database} = {database_url}\n\
                 \n\
                 [pgbouncer]\n\
                 pool_mode = transaction\n\
                 default_pool_size = {SERVER_SESSIONS}\n\
                 max_client_conn = 100\n\
                 unix_socket_dir = {dir}\n\
                 listen_port = {PORT}\n\
                 auth_type = trust\n\
                 auth_file = {userlist}\n\
                 admin_users = postgres\n\
                 logfile = {dir}/pgbouncer.log\n",
                dir = dir.display(),
                userlist = userlist.display(),
            ),
        )
        .expect("writing pgbouncer.ini");
        // With auth_type = trust the user must still be listed.
        std::fs::write(&userlist, "\"postgres\" \"\"\n").expect("writing userlist.txt");
        let run_as = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .expect("PgBouncer refuses to run as root, and there is no `postgres` user");
            for path in [&dir, &ini, &userlist] {
                std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                    .expect("handing PgBouncer's files to the postgres user");
            }
            Some(user)
        } else {
            None
        };
        let output =
            std::fs::File::create(dir.join("output.log")).expect("creating PgBouncer's output");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("pgbouncer-supervisor")
            .arg(&binary)
            .arg(&ini)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(output.try_clone().expect("PgBouncer's output"))
            .stderr(output);
        if let Some(user) = &run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let supervisor = command.spawn().expect("starting PgBouncer");
        let mut bouncer = PgBouncer {
            dir,
            database,
            supervisor,
        };
        bouncer.wait_until_ready().await;
        bouncer
    }

    /// The connection string of the test database through PgBouncer.
    fn url(&self) -> String {
        self.url_of(&self.database)
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "host={} port={PORT} user=postgres dbname={database}",
            self.dir.display()
        )
    }

    async fn wait_until_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.supervisor.try_wait() {
                panic!("PgBouncer stopped ({status}):\n{}", self.logs());
            }
            if self.try_show("VERSION").await.is_ok() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "PgBouncer did not accept connections in time:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn logs(&self) -> String {
        ["output.log", "pgbouncer.log"]
            .iter()
            .map(|file| std::fs::read_to_string(self.dir.join(file)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `SHOW <what>` on PgBouncer's admin console (simple queries only), rows by column.
    async fn show(&self, what: &str) -> Vec<HashMap<String, String>> {
        self.try_show(what)
            .await
            .unwrap_or_else(|error| panic!("SHOW {what} on PgBouncer: {error}"))
    }

    async fn try_show(
        &self,
        what: &str,
    ) -> Result<Vec<HashMap<String, String>>, tokio_postgres::Error> {
        let (client, connection) =
            tokio_postgres::connect(&self.url_of("pgbouncer"), NoTls).await?;
        let driver = tokio::spawn(connection);
        let messages = client.simple_query(&format!("SHOW {what}")).await;
        drop(client);
        let _ = driver.await;
        Ok(messages?
            .into_iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    row.columns()
                        .iter()
                        .enumerate()
                        .map(|(index, column)| {
                            let value = row.get(index).unwrap_or_default();
                            (column.name().to_string(), value.to_string())
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// PgBouncer's rows of `SHOW <what>` for the test database.
    async fn show_for_database(&self, what: &str) -> Vec<HashMap<String, String>> {
        let mut rows = self.show(what).await;
        rows.retain(|row| row.get("database") == Some(&self.database));
        rows
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("PgBouncer's log:\n{}", self.logs());
        }
        drop(self.supervisor.stdin.take());
        let _ = self.supervisor.wait();
    }
}

/// PgBouncer from PATH, else where Debian's package puts it.
fn pgbouncer_binary() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("pgbouncer"))
                .find(|binary| binary.is_file())
        })
        .or_else(|| Some(PathBuf::from("/usr/sbin/pgbouncer")).filter(|binary| binary.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "pgbouncer is not installed (looked in PATH and /usr/sbin): this test needs it; \
                 Debian: apt-get install pgbouncer (.ci/run installs it)"
            )
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_and_live_level_ups_work_through_a_transaction_pooling_pgbouncer() {
    let database_url = fresh_database().await;
    let bouncer = PgBouncer::start(&database_url).await;
    let options = ServerOptions {
        auth_attempts_per_minute: 100_000,
        pool_size: SERVER_POOL_SIZE,
        pooler: Pooler::Transaction,
        listen_database_url: Some(database_url.clone()),
        ..Default::default()
    };
    let app = TestApp::spawn_behind(database_url, &bouncer.url(), options).await;

    let author = app.sign_up("author").await;
    let mut live = app.level_up_subscriber(&author).await;
    let story = app.create_published_story(&author, "Pooled").await;
    assert_eq!(
        app.xp(&author).await,
        210,
        "100 + 30 (FIRST_STORY) + 50 + 30 (FIRST_PUBLISH)"
    );

    // 40 users like the story at once: their statements interleave on 3 sessions.
    let fans = sign_up_many(&app, "fan", 40).await;
    let likes = futures_util::future::join_all(
        fans.iter()
            .map(|fan| app.ok(Some(&fan.token), LIKE, json!({ "id": story }))),
    )
    .await;
    let gained: i64 = likes
        .iter()
        .map(|data| data["likeStory"]["xpEarned"]["xpGained"].as_i64().unwrap())
        .sum();
    let crowd_pleasers = likes
        .iter()
        .filter(|data| {
            data["likeStory"]["xpEarned"]["achievements"] == json!([{ "key": "CROWD_PLEASER" }])
        })
        .count();
    assert_eq!(gained, 230, "40 x 5 + 30 for CROWD_PLEASER");
    assert_eq!(crowd_pleasers, 1);
    assert_eq!(app.xp(&author).await, 440);

    // Six comments at once: the one that reaches 500 XP raises the author to level 2,
    // pushed live by the listener on its direct connection.
    let comments = futures_util::future::join_all(fans[..6].iter().enumerate().map(|(n, fan)| {
        app.ok(
            Some(&fan.token),
            COMMENT,
            json!({ "id": story, "body": format!("Comment {n}") }),
        )
    }))
    .await;
    let awards: Vec<&Value> = comments
        .iter()
        .map(|data| &data["commentOnStory"]["xpEarned"])
        .collect();
    assert!(
        awards.iter().all(|award| award["xpGained"] == 10),
        "{awards:?}"
    );
    let level_ups: Vec<&&Value> = awards
        .iter()
        .filter(|award| award["leveledUp"] == true)
        .collect();
    assert_eq!(level_ups.len(), 1, "{awards:?}");
    assert_eq!(level_ups[0]["totalXp"], 500);
    assert_eq!(
        live.next_level_up().await,
        json!({ "level": 2, "previousLevel": 1, "totalXp": 500,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 2, "message": "Level up! You reached level 2.", "read": false } })
    );

    let read = app
        .ok(Some(&fans[0].token), READ, json!({ "id": story }))
        .await;
    assert_eq!(
        read["readStory"]["xpEarned"],
        json!({ "action": "STORY_READ", "xpGained": 5 })
    );

    let request = app
        .ok(
            Some(&fans[0].token),
            ADD_FRIEND,
            json!({ "id": fans[1].id }),
        )
        .await;
    assert_eq!(
        request["addFriend"],
        json!({ "status": "PENDING", "xpEarned": null })
    );
    let accepted = app
        .ok(
            Some(&fans[1].token),
            ADD_FRIEND,
            json!({ "id": fans[0].id }),
        )
        .await;
    assert_eq!(
        accepted["addFriend"],
        json!({ "status": "FRIENDS", "xpEarned": { "xpGained": 20 } })
    );
    assert_eq!(
        app.xp(&fans[0]).await,
        25,
        "5 for reading + 20 for the friend"
    );
    assert_eq!(app.xp(&fans[1]).await, 20);

    let logged_out = app
        .ok(Some(&fans[2].token), "mutation { logOut }", json!({}))
        .await;
    assert_eq!(logged_out["logOut"], true);
    assert_eq!(
        app.error_code(Some(&fans[2].token), "{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );

    // All of it went through PgBouncer, whose few sessions the server's connections shared.
    let servers = bouncer.show_for_database("SERVERS").await;
    let clients = bouncer.show_for_database("CLIENTS").await;
    assert!(
        (1..=SERVER_SESSIONS).contains(&servers.len()),
        "{servers:?}"
    );
    assert!(clients.len() > servers.len(), "{clients:?}");
}
