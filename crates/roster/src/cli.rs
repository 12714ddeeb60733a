//! Command-line interface: one subcommand per task.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Roster: organizations, roles, departments and permission checks for multi-tenant products.
#[derive(Debug, Parser)]
#[command(name = "roster", version)]
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
    /// Load organizations, users, permissions, roles, departments and members
    /// from a directory of JSON Lines files, all or nothing.
    ///
    /// DIR holds orgs.jsonl, users.jsonl, permissions.jsonl, roles.jsonl,
    /// departments.jsonl and members.jsonl (the format gen_w1.py writes; other
    /// files are ignored). Each record keeps its file id as its external id;
    /// a record may only refer to records of its own or an earlier file.
    /// A bad line is reported as FILE:LINE and nothing is imported. Running
    /// PostgreSQL replicas reload after the import; restart a service that
    /// uses the same SQLite file.
    ///
    /// Example: `roster import ./w1 --database sqlite://roster.db --id-map ids.jsonl`
    Import(ImportArgs),
    /// Ask a running Roster whether a user may do something in an organization.
    ///
    /// Prints `allowed` or `denied` (and with --explain the assignments that
    /// decided); exits 0 when allowed, 1 when denied, 2 on an error.
    ///
    /// Example: `roster check org_01h... usr_01h... manage_users --explain`
    Check(CheckArgs),
    /// Benchmarks: the permission check on workload W1, and write throughput.
    ///
    /// Example: `roster bench w1 --dir ./w1` (build with --release)
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The organization id (`org_...`).
    org: String,
    /// The user id (`usr_...`).
    user: String,
    /// The permission key, e.g. `manage_users`.
    permission: String,
    /// Show the role, assignment and group or department path that decided.
    #[arg(long)]
    explain: bool,
    /// Ask at project scope (`proj_...`).
    #[arg(long)]
    project: Option<String>,
    /// Ask at department scope (`dept_...`).
    #[arg(long)]
    department: Option<String>,
    /// The Roster to ask.
    #[arg(long, env = "ROSTER_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A credential: an organization API key, a session token or the platform key.
    #[arg(long, env = "ROSTER_API_KEY", hide_env_values = true)]
    key: String,
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
pub struct ImportArgs {
    /// The directory to import.
    dir: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// Also write which Roster id each file id became, as JSON Lines:
    /// `{"kind":"user","external_id":"usr_000001","id":"usr_01h…"}`.
    #[arg(long, value_name = "FILE")]
    id_map: Option<PathBuf>,
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
        Command::Import(a) => import(a).await,
        Command::Check(a) => check(a).await,
        Command::Bench(a) => crate::bench::run(a).await,
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

/// One progress bar per step on stderr; indicatif hides them when stderr is
/// not a terminal, so logs and CI output stay clean.
struct Bars(std::sync::Mutex<Option<indicatif::ProgressBar>>);

/// Progress bars for long imports, on stderr.
pub(crate) fn progress_bars() -> impl roster_store::import::Progress {
    Bars(std::sync::Mutex::new(None))
}

impl roster_store::import::Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        let bar = indicatif::ProgressBar::new(total).with_message(label.to_owned());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>32} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        if let Ok(mut b) = self.0.lock() {
            *b = Some(bar);
        }
    }
    fn advance(&self, n: u64) {
        if let Ok(b) = self.0.lock() {
            if let Some(bar) = b.as_ref() {
                bar.inc(n);
            }
        }
    }
    fn finish(&self) {
        if let Ok(mut b) = self.0.lock() {
            if let Some(bar) = b.take() {
                bar.finish();
            }
        }
    }
}

async fn import(a: ImportArgs) -> anyhow::Result<()> {
    // Create the id map first: a path we cannot write should fail before the
    // import, not after it committed.
    let id_map = a
        .id_map
        .as_ref()
        .map(|p| std::fs::File::create(p).with_context(|| format!("creating {}", p.display())))
        .transpose()?;
    let store = roster_store::Store::open(&a.db.database)
        .await
        .context("opening the database")?;
    let ctx = roster_store::Ctx {
        actor: roster_core::Actor::Platform,
        trace_id: format!("import-{}", roster_core::EventId::new()),
    };
    let platform = roster_core::access::authorize_platform(&ctx.actor)?;
    let report = match store
        .import_dir(&ctx, &platform, &a.dir, &progress_bars())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            // Nothing was imported: leave no empty id map behind either.
            if let Some(p) = &a.id_map {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    };
    if let (Some(file), Some(path)) = (id_map, &a.id_map) {
        report
            .write_id_map(std::io::BufWriter::new(file))
            .with_context(|| {
                format!(
                    "the import committed, but writing {} failed",
                    path.display()
                )
            })?;
    }
    println!(
        "imported {} organizations, {} users, {} permissions, {} roles ({} grants), {} departments, \
         {} memberships, {} role assignments, {} department members in {:.1} s (revision {})",
        report.organizations,
        report.users,
        report.permissions,
        report.roles,
        report.role_grants,
        report.departments,
        report.memberships,
        report.role_assignments,
        report.department_members,
        report.elapsed.as_secs_f64(),
        report.revision,
    );
    Ok(())
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let store = roster_store::Store::open(&a.db.database)
        .await
        .context("opening the database")?;
    // On PostgreSQL other replicas may write too: follow their changes.
    let _follower = store.spawn_follower();
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

async fn check(a: CheckArgs) -> anyhow::Result<()> {
    let mut body =
        serde_json::json!({"user_id": a.user, "permission": a.permission, "explain": a.explain});
    if let Some(p) = a.project {
        body["project_id"] = p.into();
    }
    if let Some(d) = a.department {
        body["department_id"] = d.into();
    }
    let url = format!(
        "{}/v1/organizations/{}/check",
        a.url.trim_end_matches('/'),
        a.org
    );
    let res = reqwest::Client::new()
        .post(&url)
        .header("x-api-key", a.key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("asking {url}"))?;
    let status = res.status();
    let v: serde_json::Value = res.json().await.context("reading the answer")?;
    if !status.is_success() {
        let e = &v["error"];
        anyhow::bail!(
            "{} {}: {}",
            status.as_u16(),
            e["code"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("?")
        );
    }
    let allowed = v["allowed"].as_bool().unwrap_or(false);
    println!(
        "{} (revision {})",
        if allowed { "allowed" } else { "denied" },
        v["revision"]
    );
    if a.explain {
        println!("outcome: {}", v["outcome"].as_str().unwrap_or("?"));
        for r in v["reasons"].as_array().into_iter().flatten() {
            let via = match r["via"]["type"].as_str() {
                Some("department") => format!(
                    "through department {} (path {})",
                    r["via"]["department_id"].as_str().unwrap_or("?"),
                    r["via"]["path"]
                        .as_array()
                        .map(|p| p
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(" > "))
                        .unwrap_or_default()
                ),
                Some("group") => format!(
                    "through group {}",
                    r["via"]["group_id"].as_str().unwrap_or("?")
                ),
                Some("primary_role") => "as the primary role".to_owned(),
                _ => "assigned directly".to_owned(),
            };
            println!(
                "  {} by role {} ({}), grant {:?}, assignment {}, {via}",
                r["effect"].as_str().unwrap_or("?"),
                r["role_name"].as_str().unwrap_or("?"),
                r["role_id"].as_str().unwrap_or("?"),
                r["grant"].as_str().unwrap_or("?"),
                r["assignment_id"].as_str().unwrap_or("?"),
            );
        }
    }
    if !allowed {
        std::process::exit(1);
    }
    Ok(())
}
