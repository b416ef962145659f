//! The shared test harness: one managed PostgreSQL cluster per test run (started with
//! the server's own code), a fresh database per test cloned from a migrated template
//! (dropped when the last server on it shuts down; the cluster and its directory go
//! when the run ends, however it ends), and the real storyxp server on a free port,
//! spoken to over HTTP like the frontend.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock};

use serde_json::{Value, json};
use storyxp::db::cluster::ManagedCluster;

const TEMPLATE: &str = "storyxp_template";
pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
pub const ALLOWED_ORIGIN: &str = "http://app.example";

/// The run's cluster, set as soon as it has started (so that it is stopped at exit even
/// when the template's set-up then fails).
struct TestCluster {
    cluster: ManagedCluster,
    dir: Scratch,
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
static TEMPLATE_READY: OnceLock<()> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);
/// The databases `fresh_database` made and not yet dropped, by connection string, with
/// how many TestApps serve each: the last one to shut down drops it.
static DATABASES: LazyLock<Mutex<HashMap<String, FreshDatabase>>> = LazyLock::new(Mutex::default);

struct FreshDatabase {
    name: String,
    servers: usize,
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Stops the run's cluster and removes its directory when the test process exits
/// (failed tests included: the harness exits through `exit`). A crash or a kill skips
/// this; the directory's watchdog (`Scratch`) cleans up then.
extern "C" fn stop_cluster() {
    if let Some(test_cluster) = CLUSTER.get() {
        let _ = test_cluster.cluster.stop();
        let _ = std::fs::remove_dir_all(test_cluster.dir.path());
    }
}

fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| {
        let dir = Scratch::new("run");
        // Durability is pointless for throw-away test data; speed is not.
        let cluster = ManagedCluster::prepare(
            dir.path(),
            &[
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
                // Lets a test count the statements a request runs (the N+1 check).
                "shared_preload_libraries=pg_stat_statements",
            ],
        )
        .expect("preparing the test cluster");
        cluster.start().expect("starting the test cluster");
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe {
            atexit(stop_cluster);
        }
        TestCluster { cluster, dir }
    })
}

/// The cluster with its migrated template database.
fn cluster_with_template() -> &'static ManagedCluster {
    let cluster = &cluster().cluster;
    TEMPLATE_READY.get_or_init(|| {
        let admin = cluster.connection_string("postgres");
        let template = cluster.connection_string(TEMPLATE);
        // Migrations need a multi-thread runtime of their own.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    storyxp::db::create_database(&admin, TEMPLATE, None)
                        .await
                        .expect("creating the template");
                    storyxp::app::setup::migrate(&template)
                        .await
                        .expect("migrating the template");
                    use diesel_async::{AsyncConnection, RunQueryDsl};
                    let mut connection = diesel_async::AsyncPgConnection::establish(&template)
                        .await
                        .expect("connecting to the template");
                    diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                        .execute(&mut connection)
                        .await
                        .expect("installing pg_stat_statements");
                })
        })
        .join()
        .expect("template set-up");
    });
    cluster
}

pub fn test_cluster() -> &'static ManagedCluster {
    &cluster().cluster
}

/// The run's directory (the cluster's data dir), removed when the run ends: files a test
/// writes belong here.
pub fn run_dir() -> &'static Path {
    cluster().dir.path()
}

/// A fresh, migrated database of its own. The last TestApp serving it drops it when it
/// shuts down (`TestApp::shut_down` or drop); the cluster goes with the rest at exit.
pub async fn fresh_database() -> String {
    let cluster = cluster_with_template();
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT_DATABASE.fetch_add(1, Ordering::SeqCst)
    );
    storyxp::db::create_database(
        &cluster.connection_string("postgres"),
        &name,
        Some(TEMPLATE),
    )
    .await
    .expect("cloning the template database");
    let url = cluster.connection_string(&name);
    databases().insert(url.clone(), FreshDatabase { name, servers: 0 });
    url
}

fn databases() -> std::sync::MutexGuard<'static, HashMap<String, FreshDatabase>> {
    DATABASES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts one more server on `database_url`; returns whether it is a fresh database
/// (which that server then helps to drop).
fn serve_database(database_url: &str) -> bool {
    match databases().get_mut(database_url) {
        Some(database) => {
            database.servers += 1;
            true
        }
        None => false,
    }
}

/// Counts one server less on `database_url`; returns the database's name when that was
/// the last one (the caller drops it).
fn leave_database(database_url: &str) -> Option<String> {
    let mut databases = databases();
    let database = databases.get_mut(database_url)?;
    database.servers = database.servers.saturating_sub(1);
    if database.servers > 0 {
        return None;
    }
    databases.remove(database_url).map(|database| database.name)
}

/// `DROP DATABASE ... WITH (FORCE)`: ends the sessions still on it (a client a test left
/// open, the listener of a server that could not be waited for).
async fn drop_database(name: &str) -> Result<(), String> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let admin = cluster().cluster.connection_string("postgres");
    let mut connection = diesel_async::AsyncPgConnection::establish(&admin)
        .await
        .map_err(|error| error.to_string())?;
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    ))
    .execute(&mut connection)
    .await
    .map_err(|error| error.to_string())?;
    Ok(())
}

/// `drop_database` where nothing can be awaited (in `Drop`): on a thread and runtime of
/// its own, so it works from any runtime, or none.
fn drop_database_now(name: String) -> Result<(), String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?
            .block_on(drop_database(&name))
    })
    .join()
    .unwrap_or_else(|_| Err("the thread dropping the database panicked".to_string()))
}

/// Whether a database of that name exists in the run's cluster.
pub async fn database_exists(name: &str) -> bool {
    use diesel::sql_types::{Bool, Text};
    use diesel_async::{AsyncConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let admin = cluster().cluster.connection_string("postgres");
    let mut connection = diesel_async::AsyncPgConnection::establish(&admin)
        .await
        .expect("connecting to the cluster");
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(&mut connection)
            .await
            .expect("looking the database up");
    found.exists
}

/// A directory of this run (a cluster's data dir, dumps) under the temp dir, stopped and
/// removed when its guard is dropped, and also when this process ends however it ends
/// (a crash or a kill skip `atexit` and unwinding): a shell waits for its stdin, a pipe
/// that only this process holds, to close; then it stops the PostgreSQL cluster running
/// in the directory, if any (SIGINT: the fast shutdown of `pg_ctl stop -m fast`, which
/// refuses to run as root), and removes the directory.
pub struct Scratch {
    path: PathBuf,
    watchdog: Option<std::process::Child>,
}

const WATCHDOG: &str = r#"read -r _
pid_file="$1/pgdata/postmaster.pid"
if [ -f "$pid_file" ]; then
    postmaster="$(head -n 1 "$pid_file")"
    # Only a PostgreSQL server: a stale file may name any process (see the cluster tests).
    if [ "$(cat "/proc/$postmaster/comm" 2>/dev/null)" = postgres ] &&
        kill -INT "$postmaster" 2>/dev/null; then
        tries=0
        while kill -0 "$postmaster" 2>/dev/null && [ "$tries" -lt 600 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
    fi
fi
rm -rf "$1""#;

impl Scratch {
    /// `storyxp-test-{purpose}-{pid}` under the temp dir, empty.
    pub fn new(purpose: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("storyxp-test-{purpose}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a scratch directory");
        let watchdog = std::process::Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("storyxp-test-watchdog")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the scratch directory's watchdog");
        Scratch {
            path,
            watchdog: Some(watchdog),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    /// Closes the watchdog's stdin and waits until it has cleaned up.
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// A running storyxp server on its own database.
pub struct TestApp {
    pub base_url: String,
    pub database_url: String,
    pub live: storyxp::live::LiveHub,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Whether this server still counts toward its fresh database (see `fresh_database`).
    holds_database: bool,
}

/// A signed-up user.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub token: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let database_url = fresh_database().await;
        Self::spawn_on(database_url).await
    }

    /// Another server instance on an existing database.
    pub async fn spawn_on(database_url: String) -> TestApp {
        // Tests sign up many users from one address: throttling gets its own test.
        let options = storyxp::app::server::ServerOptions {
            cors_origins: vec![ALLOWED_ORIGIN.to_string()],
            auth_attempts_per_minute: 100_000,
            // Tests move time with X-Storyxp-Now (`graphql_at`).
            clock: storyxp::clock::Clock::test(),
            ..Default::default()
        };
        Self::spawn_with(database_url, options).await
    }

    pub async fn spawn_with(
        database_url: String,
        options: storyxp::app::server::ServerOptions,
    ) -> TestApp {
        let pool_url = database_url.clone();
        Self::spawn_behind(database_url, &pool_url, options).await
    }

    /// A server whose pool connects to `pool_url` (a connection pooler in front of
    /// `database_url`; `options` say which and where the LISTEN connection goes), while
    /// this TestApp's own checks (`sql`, the CLI) and the database's clean-up use
    /// `database_url`.
    pub async fn spawn_behind(
        database_url: String,
        pool_url: &str,
        options: storyxp::app::server::ServerOptions,
    ) -> TestApp {
        let holds_database = serve_database(&database_url);
        let state =
            storyxp::app::server::state_with(pool_url, SECRET, options).expect("server state");
        let live = state.live.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a port");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(storyxp::app::server::serve(listener, state, async move {
            let _ = signal.await;
        }));
        let app = TestApp {
            base_url: format!("http://{addr}"),
            database_url,
            live,
            // A hung request fails the test instead of stalling the run.
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("http client"),
            shutdown: Some(shutdown),
            server: Some(server),
            holds_database,
        };
        // Level-ups committed before the listener listens would never be pushed.
        app.wait_for_listener(1).await;
        app
    }

    /// Waits until the level-up listener has started listening `generation` times.
    pub async fn wait_for_listener(&self, generation: u64) {
        let mut listening = self.live.listening_generation();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            listening.wait_for(|seen| *seen >= generation),
        )
        .await
        .expect("the level-up listener did not (re)connect in time")
        .expect("the hub is gone");
    }

    /// Waits until this instance has `count` open subscriptions.
    pub async fn wait_for_subscriptions(&self, count: usize) {
        let mut subscriptions = self.live.subscriptions();
        tokio::time::timeout(
            std::time::Duration::from_secs(15),
            subscriptions.wait_for(|open| *open == count),
        )
        .await
        .expect("the subscriptions did not open in time")
        .expect("the hub is gone");
    }

    /// Stops the server as SIGTERM would and waits until it has finished; then drops its
    /// database if no other TestApp serves it.
    pub async fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        if let Some(name) = self.leave_database() {
            drop_database(&name)
                .await
                .unwrap_or_else(|error| panic!("dropping the test database {name}: {error}"));
        }
    }

    /// Whether the server task still runs (it ends only when told to, or on an error).
    pub fn is_serving(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|server| !server.is_finished())
    }

    /// The name of this server's database.
    pub fn database_name(&self) -> &str {
        self.database_url
            .rsplit("dbname=")
            .next()
            .expect("a database name in the connection string")
    }

    fn leave_database(&mut self) -> Option<String> {
        if !std::mem::take(&mut self.holds_database) {
            return None;
        }
        leave_database(&self.database_url)
    }

    /// A graphql-transport-ws client subscribed to `user`'s level-ups, once this
    /// instance has registered the subscription (so no level-up can slip past it).
    pub async fn level_up_subscriber(&self, user: &TestUser) -> WsClient {
        let open = *self.live.subscriptions().borrow();
        let mut client = self.websocket("graphql-transport-ws").await;
        client.subscribe_level_ups(&user.token).await;
        self.wait_for_subscriptions(open + 1).await;
        client
    }

    /// A WebSocket client on /graphql speaking `protocol`.
    pub async fn websocket(&self, protocol: &str) -> WsClient {
        websocket_at(&self.base_url, protocol).await
    }

    /// POSTs a GraphQL operation; returns the whole response body.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.graphql_at(None, token, query, variables).await
    }

    /// POSTs a GraphQL operation at the test clock's instant `now` (RFC 3339, sent as
    /// `X-Storyxp-Now`; test servers run with the test clock); the whole response body.
    pub async fn graphql_at(
        &self,
        now: Option<&str>,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(now) = now {
            request = request.header("x-storyxp-now", now);
        }
        let response = request.send().await.expect("sending a GraphQL request");
        response.json().await.expect("a JSON GraphQL response")
    }

    /// Runs an operation at `now` that must succeed; returns its `data`.
    pub async fn ok_at(
        &self,
        now: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let body = self.graphql_at(Some(now), token, query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {body:#}\nfor: {query} at {now}"
        );
        body["data"].clone()
    }

    /// Runs an operation that must succeed; returns its `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.graphql(token, query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {body:#}\nfor: {query}"
        );
        body["data"].clone()
    }

    /// Runs an operation that must fail; returns its first error's `extensions.code`.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let body = self.graphql(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {body:#}"))
            .to_string()
    }

    pub async fn sign_up(&self, username: &str) -> TestUser {
        let data = self
            .ok(
                None,
                "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id username } } }",
                json!({ "input": { "username": username, "email": format!("{username}@example.com"), "password": "correct horse" } }),
            )
            .await;
        TestUser {
            id: data["signUp"]["user"]["id"]
                .as_str()
                .expect("user id")
                .to_string(),
            username: username.to_string(),
            token: data["signUp"]["token"].as_str().expect("token").to_string(),
        }
    }

    /// A new user made an admin (as `storyxp grant-admin` does).
    pub async fn sign_up_admin(&self, username: &str) -> TestUser {
        use diesel_async::RunQueryDsl;
        let user = self.sign_up(username).await;
        diesel::sql_query("UPDATE users SET is_admin = TRUE WHERE id = $1")
            .bind::<diesel::sql_types::BigInt, _>(user.id.parse::<i64>().unwrap())
            .execute(&mut self.sql().await)
            .await
            .unwrap();
        user
    }

    /// Creates a story as `user`; returns its id.
    pub async fn create_story(&self, user: &TestUser, title: &str) -> String {
        let data = self
            .ok(
                Some(&user.token),
                "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
                json!({ "input": { "title": title, "content": "Once upon a time." } }),
            )
            .await;
        data["createStory"]["story"]["id"]
            .as_str()
            .expect("story id")
            .to_string()
    }

    pub async fn create_published_story(&self, user: &TestUser, title: &str) -> String {
        let id = self.create_story(user, title).await;
        self.ok(
            Some(&user.token),
            "mutation($id: ID!) { publishStory(id: $id) { story { id } } }",
            json!({ "id": id }),
        )
        .await;
        id
    }

    /// The user's XP as `me` reports it.
    pub async fn xp(&self, user: &TestUser) -> i64 {
        let data = self
            .ok(Some(&user.token), "{ me { experiencePoints } }", json!({}))
            .await;
        data["me"]["experiencePoints"]
            .as_i64()
            .expect("experiencePoints")
    }

    /// POSTs a raw body with a content type; returns status and body text.
    pub async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sending a request");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// A direct database connection, for checks the API does not offer.
    pub async fn sql(&self) -> diesel_async::AsyncPgConnection {
        use diesel_async::AsyncConnection;
        diesel_async::AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connecting to the test database")
    }
}

/// How long dropping a TestApp waits for its server to finish.
const SERVER_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for TestApp {
    /// What `shut_down` does, for the tests that do not call it (or fail before): stops
    /// the server (waiting for it where the runtime lets another thread do so), then
    /// drops its database if no other TestApp serves it. Never panics: it also runs while
    /// a failed test unwinds.
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            match tokio::runtime::Handle::try_current() {
                // A multi-thread runtime runs the server on its workers while this thread
                // waits; a current-thread one could not, so its server is only stopped.
                Ok(runtime)
                    if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
                {
                    let _ = std::thread::spawn(move || {
                        runtime.block_on(async {
                            if tokio::time::timeout(SERVER_STOP_WAIT, server)
                                .await
                                .is_err()
                            {
                                eprintln!("a test server did not stop in {SERVER_STOP_WAIT:?}");
                            }
                        })
                    })
                    .join();
                }
                _ => server.abort(),
            }
        }
        if let Some(name) = self.leave_database() {
            if let Err(error) = drop_database_now(name.clone()) {
                eprintln!("dropping the test database {name}: {error}");
            }
        }
    }
}

/// Signs up `count` users named `{prefix}{n}`, concurrently.
pub async fn sign_up_many(app: &TestApp, prefix: &str, count: usize) -> Vec<TestUser> {
    let futures = (0..count).map(|n| {
        let name = format!("{prefix}{n}");
        async move { app.sign_up(&name).await }
    });
    futures_util::future::join_all(futures).await
}

/// The storyxp binary, pointed at the app's database.
pub fn storyxp_command(app: &TestApp, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storyxp"));
    command
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// A GraphQL WebSocket client, as Apollo's GraphQLWsLink or a legacy client would be.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server sent next.
#[derive(Debug)]
pub enum WsEvent {
    Json(Value),
    Closed(Option<u16>),
}

const WS_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl WsClient {
    pub async fn send(&mut self, message: Value) {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.to_string().into(),
            ))
            .await
            .expect("sending on the websocket");
    }

    /// The next JSON message or close, skipping pings and keep-alives; panics after 15 s.
    pub async fn next(&mut self) -> WsEvent {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let message = tokio::time::timeout(WS_WAIT, self.socket.next())
                .await
                .expect("no websocket message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("a JSON message");
                    if value["type"] == "ka" {
                        continue;
                    }
                    return WsEvent::Json(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return WsEvent::Closed(frame.map(|frame| u16::from(frame.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return WsEvent::Closed(None),
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.next().await {
            WsEvent::Json(value) => value,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// connection_init with the token (if any); returns the server's answer.
    pub async fn init(&mut self, token: Option<&str>) -> WsEvent {
        let payload = match token {
            Some(token) => json!({ "authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next().await
    }

    /// A graphql-transport-ws client subscribed to levelUps as `token`'s user.
    pub async fn subscribe_level_ups(&mut self, token: &str) {
        match self.init(Some(token)).await {
            WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
            other => panic!("expected connection_ack, got {other:?}"),
        }
        self.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": LEVEL_UPS } }))
            .await;
    }

    /// Without a token, subscribes to `query` over graphql-transport-ws and asserts
    /// the server refuses it as UNAUTHENTICATED (a `next` with null data, then complete).
    pub async fn assert_unauthenticated(&mut self, query: &str) {
        match self.init(None).await {
            WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
            other => panic!("expected connection_ack, got {other:?}"),
        }
        self.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }))
            .await;
        let refused = self.next_json().await;
        assert_eq!(refused["type"], "next", "{refused}");
        assert_eq!(refused["payload"]["data"], json!(null), "{refused}");
        assert_eq!(
            refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{refused}"
        );
        assert_eq!(
            self.next_json().await,
            json!({ "id": "1", "type": "complete" })
        );
    }

    /// The next levelUps event's data.
    pub async fn next_level_up(&mut self) -> Value {
        let message = self.next_json().await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"]["levelUps"].clone()
    }
}

pub const LEVEL_UPS: &str = "subscription { levelUps { level previousLevel totalXp notification { type level message read } } }";

/// A WebSocket client on `base_url`/graphql speaking `protocol`.
pub async fn websocket_at(base_url: &str, protocol: &str) -> WsClient {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql", base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("a websocket request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    WsClient { socket }
}

/// A port free on the loopback interface now, for a server process of a test's own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until `base`/healthz answers 200, polling every 100 ms for at most `seconds`.
pub async fn wait_until_healthy(base: &str, seconds: u64) -> bool {
    let http = reqwest::Client::new();
    for _ in 0..seconds * 10 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
