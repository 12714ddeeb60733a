//! Command-line interface: one subcommand per task.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Roster: organizations, roles, departments and permission checks for multi-tenant products.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (creates and migrates the database on first start).
    ///
    /// Example: `roster serve --listen 127.0.0.1:8080 --database sqlite://roster.db`
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db"
    )]
    pub database: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    db: DbArgs,
    /// The platform bootstrap key (may do anything). When unset, Roster keeps
    /// a generated one in --bootstrap-key-file and tells you where.
    #[arg(long, env = "ROSTER_BOOTSTRAP_KEY", hide_env_values = true)]
    bootstrap_key: Option<String>,
    /// Where the generated bootstrap key is kept when ROSTER_BOOTSTRAP_KEY is unset.
    #[arg(
        long,
        env = "ROSTER_BOOTSTRAP_KEY_FILE",
        default_value = "roster-bootstrap.key"
    )]
    bootstrap_key_file: PathBuf,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    init_tracing();
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Migrate(a) => {
            let store = roster_store::Store::connect(&a.database).await?;
            store.migrate().await?;
            tracing::info!(database = %redact(&a.database), "migrations applied");
            Ok(())
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// The database URL without a password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The configured key, or one generated once and kept in `file` (mode 0600).
fn bootstrap_key(a: &ServeArgs) -> anyhow::Result<(String, Option<PathBuf>)> {
    if let Some(k) = a.bootstrap_key.as_deref().filter(|k| !k.is_empty()) {
        return Ok((k.to_owned(), None));
    }
    let path = &a.bootstrap_key_file;
    if let Ok(k) = std::fs::read_to_string(path) {
        if !k.trim().is_empty() {
            return Ok((k.trim().to_owned(), Some(path.clone())));
        }
    }
    let key = roster_store::auth::new_secret("rbk_");
    std::fs::write(path, format!("{key}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok((key, Some(path.clone())))
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let store = roster_store::Store::open(&a.db.database)
        .await
        .context("opening the database")?;
    let (key, key_file) = bootstrap_key(&a)?;
    let app = roster_http::App::new(
        store,
        &roster_http::Config {
            bootstrap_key: Some(key),
        },
    );
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(database = %redact(&a.db.database), revision = app.store.revision(), "database ready");
    match key_file {
        Some(f) => tracing::info!(
            "platform bootstrap key: in {} (send it as X-API-Key or Authorization: Bearer)",
            f.display()
        ),
        None => tracing::info!("platform bootstrap key: from ROSTER_BOOTSTRAP_KEY"),
    }
    tracing::info!("listening on http://{addr} (API reference at http://{addr}/docs, OpenAPI at /openapi.json)");
    axum::serve(listener, roster_http::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}
