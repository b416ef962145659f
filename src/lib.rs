//! storyxp: a GraphQL API server for the persistent XP and levels system of a
//! story-writing app. See ARCHITECTURE.md for the map.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod server;
pub mod stories;
pub mod telemetry;
pub mod xp;

use cli::{Cli, Command};
use db::setup::{Database, jwt_secret};

/// Runs one command of the binary to completion.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        command => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_async(command, cli.database, cli.serve)),
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
            let database = Database::open(&database_args).await?;
            let result = serve(&database, &secret, serve_args.addr).await;
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
    }
}

async fn serve(
    database: &Database,
    secret: &[u8],
    addr: std::net::SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let state = server::state_for(&database.url, secret)?;
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
