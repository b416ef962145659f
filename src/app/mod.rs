//! Process assembly, above everything else: the command line and its environment
//! (`cli`), the database a process uses and its secret (`setup`: an explicit
//! DATABASE_URL or the managed cluster, migrations and the rules' seeding), the
//! server's state and its life (`server`), logging (`telemetry`), and `run`, which
//! dispatches a command.

pub mod cli;
pub mod server;
pub mod setup;
pub mod telemetry;

use crate::domain::{admin, legacy};
use crate::{db, graphql};
use cli::{Cli, Command};
use setup::{Database, jwt_secret};

/// Runs one command of the binary to completion.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        command => {
            let threads = cli.serve.worker_threads.map_or_else(
                || server::default_worker_threads(cli.database.database_url.as_deref()),
                usize::from,
            );
            // One thread: a current-thread runtime, with no work-stealing scheduler to
            // pay for (the accept loop and every connection share the thread).
            let runtime = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()?
            };
            runtime.block_on(run_async(command, cli.database, cli.serve))
        }
    }
}

async fn run_async(
    command: Command,
    database_args: cli::DatabaseArgs,
    serve_args: cli::ServeArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve => {
            // Check the configuration before starting anything.
            let secret = jwt_secret(&database_args, serve_args.jwt_secret.as_deref())?;
            let options = server::ServerOptions {
                cors_origins: serve_args.cors_origins.clone(),
                auth_attempts_per_minute: serve_args.auth_attempts_per_minute,
                pool_size: serve_args
                    .pool_size
                    .unwrap_or_else(server::default_pool_size),
                pooler: database_args.database_pooler.into(),
                listen_database_url: database_args.listen_database_url.clone(),
                clock: if serve_args.test_clock {
                    tracing::warn!(
                        "STORYXP_TEST_CLOCK is on: requests may set their own time with X-Storyxp-Now; never run production like this"
                    );
                    crate::clock::Clock::test()
                } else {
                    crate::clock::Clock::real()
                },
            };
            options.check()?;
            let database = Database::open(&database_args).await?;
            let result = serve(&database, &secret, serve_args.addr, options).await;
            database.close();
            result
        }
        Command::Migrate => {
            let database = Database::open(&database_args).await?;
            println!("migrations are up to date");
            database.close();
            Ok(())
        }
        Command::PrintSchema => Ok(()),
        command => {
            let database = Database::open(&database_args).await?;
            let result =
                run_maintenance(command, &database, database_args.database_pooler.into()).await;
            database.close();
            result
        }
    }
}

/// The one-shot commands that work on the database.
async fn run_maintenance(
    command: Command,
    database: &Database,
    pooler: db::Pooler,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut connection = db::connect(&database.url, pooler).await?;
    match command {
        Command::GrantAdmin { username, revoke } => {
            admin::set_admin(&mut connection, &username, !revoke).await?;
            println!(
                "{username} is {} an admin",
                if revoke { "no longer" } else { "now" }
            );
        }
        Command::BackfillXp {
            dry_run,
            batch_size,
        } => {
            if batch_size < 1 {
                return Err("--batch-size must be at least 1".into());
            }
            let report = legacy::backfill::backfill(&mut connection, dry_run, batch_size).await?;
            if report.created_awards + report.published_awards == 0 {
                println!("backfill-xp: nothing to do; every story already has its XP");
            } else {
                let verb = if dry_run { "would grant" } else { "granted" };
                println!(
                    "backfill-xp: {verb} {} XP to {} users ({} story-created awards, {} story-published awards, {} achievements{})",
                    report.xp_granted,
                    report.users_touched,
                    report.created_awards,
                    report.published_awards,
                    report.achievements,
                    if dry_run { " not counted" } else { "" }
                );
            }
        }
        Command::ImportDjango { dump } => {
            let report = legacy::django_import::import(&mut connection, &dump).await?;
            println!(
                "import-django: {} users imported ({} already there), {} stories imported ({} already there), {} other records ignored; no XP awarded (run backfill-xp next)",
                report.users_imported,
                report.users_skipped,
                report.stories_imported,
                report.stories_skipped,
                report.other_records_ignored
            );
        }
        Command::Serve | Command::Migrate | Command::PrintSchema => {}
    }
    Ok(())
}

async fn serve(
    database: &Database,
    secret: &[u8],
    addr: std::net::SocketAddr,
    options: server::ServerOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let state = server::state_with(&database.url, secret, options)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    tracing::info!(
        "storyxp listening; GraphiQL at http://{}/graphql",
        listener.local_addr()?
    );
    server::serve(listener, state, server::shutdown_signal()).await?;
    Ok(())
}
