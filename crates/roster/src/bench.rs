//! `roster bench w1 --dir DIR`: the permission-check benchmark on workload W1.
//!
//! Imports the directory into a fresh SQLite database, builds the index from
//! the store exactly as `serve` does at start-up (timed), verifies the first
//! answers against `expected.jsonl`, then runs every check of `checks.jsonl`
//! on one thread. The last line printed is one JSON object of the figures.

use anyhow::{bail, Context};
use roster_core::{OrgId, Scope, UserId};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Debug, clap::Subcommand)]
enum Workload {
    /// W1: 1,000 organizations, 100,000 users, 1,000,000 checks.
    ///
    /// Generate it with `python3 shared/bench/gen_w1.py --out DIR`, then run
    /// `roster bench w1 --dir DIR` (build with --release for real figures).
    W1 {
        /// The directory written by gen_w1.py.
        #[arg(long)]
        dir: PathBuf,
        /// Database to import into (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database: Option<String>,
    },
    /// Role assignments per second through the HTTP API, and replication lag.
    ///
    /// Starts Roster in-process on DATABASE, creates one organization per
    /// client (members and custom roles), then has --clients concurrent clients
    /// assign roles for --seconds. On PostgreSQL a second replica follows the
    /// same database and the lag until it has applied each write is measured.
    Writes {
        /// `sqlite://FILE` or `postgres://...` (use an empty database).
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// How long a write that changes many members' decisions takes to be
    /// reflected: binds a role to a department of --members members (and
    /// takes it away again) through the HTTP API, and times each acknowledged
    /// write, which Roster sends only once its index reflects the change.
    Fanout {
        /// Database to import the organization into (default: a fresh SQLite file).
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        /// Bind-and-unbind rounds.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
    /// What one random memory access costs on this machine, by working-set
    /// size: a dependent pointer chase through --mib MiB (each step one
    /// 64-byte line). A check is one such access in the index's member
    /// tables, so this bounds its latency from below.
    Memory {
        /// Working-set sizes to measure, in MiB.
        #[arg(long, value_delimiter = ',', default_value = "1,4,8,16,32,256")]
        mib: Vec<usize>,
    },
}

struct Question {
    org: OrgId,
    user: Option<UserId>,
    permission: String,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.workload {
        Workload::W1 { dir, database } => w1(dir, database).await,
        Workload::Writes {
            database,
            clients,
            seconds,
        } => writes(&database, clients, seconds).await,
        Workload::Fanout {
            database,
            members,
            rounds,
        } => fanout(database, members, rounds).await,
        Workload::Memory { mib } => {
            memory(&mib);
            Ok(())
        }
    }
}

/// A pointer chase per size: the lines are linked in one random cycle, so
/// every step waits for the previous load and nothing can be prefetched.
fn memory(sizes: &[usize]) {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    const STEPS: usize = 2_000_000;
    let mut figures = serde_json::Map::new();
    for &mib in sizes {
        let n = (mib * 1024 * 1024 / 64).max(2);
        // The lines in a random order, each linked to the next: one cycle.
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mib as u64));
        let mut next = vec![[0usize; 8]; n];
        for i in 0..n {
            next[order[i]][0] = order[(i + 1) % n];
        }
        let mut at = order[0];
        let t = Instant::now();
        for _ in 0..STEPS {
            at = next[at][0];
        }
        std::hint::black_box(at);
        let ns = t.elapsed().as_nanos() as f64 / STEPS as f64;
        println!("{mib} MiB: {ns:.1} ns per dependent access");
        figures.insert(format!("{mib}_mib_ns"), serde_json::json!(round(ns, 1)));
    }
    println!("{}", serde_json::Value::Object(figures));
}

/// Writes an import directory: one organization whose `members` members all
/// sit in one department and hold a Reader role; a Writer role stays unbound.
fn fanout_dir(dir: &Path, members: usize) -> anyhow::Result<()> {
    use std::io::Write;
    let file = |name: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::new(std::fs::File::create(
            dir.join(name),
        )?))
    };
    writeln!(file("orgs.jsonl")?, r#"{{"id":"org_a","name":"Fanout"}}"#)?;
    writeln!(file("permissions.jsonl")?, r#"{{"name":"doc.read"}}"#)?;
    let mut roles = file("roles.jsonl")?;
    writeln!(
        roles,
        r#"{{"id":"role_r","org_id":"org_a","name":"Reader","permissions":["doc.read"]}}"#
    )?;
    writeln!(
        roles,
        r#"{{"id":"role_w","org_id":"org_a","name":"Writer","permissions":["manage_users"]}}"#
    )?;
    roles.flush()?;
    writeln!(
        file("departments.jsonl")?,
        r#"{{"id":"dept_all","org_id":"org_a","name":"Everyone","parent_id":null,"roles":[]}}"#
    )?;
    let (mut users, mut memberships) = (file("users.jsonl")?, file("members.jsonl")?);
    for u in 0..members {
        writeln!(
            users,
            r#"{{"id":"usr_{u}","email":"fanout-{u}@example.test","name":"Member {u}"}}"#
        )?;
        writeln!(
            memberships,
            r#"{{"org_id":"org_a","user_id":"usr_{u}","roles":["role_r"],"departments":["dept_all"]}}"#
        )?;
    }
    users.flush()?;
    memberships.flush()?;
    Ok(())
}

async fn fanout(database: Option<String>, members: usize, rounds: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("import");
    std::fs::create_dir(&dir)?;
    fanout_dir(&dir, members)?;
    let url =
        database.unwrap_or_else(|| format!("sqlite://{}", tmp.path().join("fanout.db").display()));
    let store = roster_store::Store::open(&url).await?;
    let ctx = roster_store::Ctx {
        actor: roster_core::Actor::Platform,
        trace_id: "bench".into(),
    };
    let platform = roster_core::authorize_platform(&roster_core::Actor::Platform)?;
    let report = store
        .import_dir(&ctx, &platform, &dir, &crate::cli::progress_bars())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = |external: &str| -> anyhow::Result<String> {
        report
            .id_map
            .iter()
            .find(|e| e.external_id == external)
            .map(|e| e.id.clone())
            .with_context(|| format!("{external} was not imported"))
    };
    let (org, dept, writer, last_user) = (
        id("org_a")?,
        id("dept_all")?,
        id("role_w")?,
        id(&format!("usr_{}", members.saturating_sub(1)))?,
    );
    let base = serve_in_process(store.clone()).await?;
    let client = reqwest::Client::new();
    let check = |allowed_expected: bool| {
        let (client, base, org, user) = (&client, &base, &org, &last_user);
        async move {
            let (_, body, _) = post(
                client,
                format!("{base}/v1/organizations/{org}/check"),
                serde_json::json!({"user_id": user, "permission": "manage_users"}),
            )
            .await?;
            if body["allowed"].as_bool() != Some(allowed_expected) {
                bail!("the check answered {body} right after the write");
            }
            anyhow::Ok(())
        }
    };
    eprintln!(
        "{members} members in one department; binding and unbinding a role {rounds} times ..."
    );
    // Before the role is bound nobody holds it; asking first also opens the
    // client's connection, so the first timed write does not include it.
    check(false).await?;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let (status, body, _) = post(
            &client,
            format!("{base}/v1/organizations/{org}/departments/{dept}/roles"),
            serde_json::json!({"role_id": writer}),
        )
        .await?;
        times.push(t.elapsed());
        if status != 201 {
            bail!("binding failed: {status} {body}");
        }
        check(true).await?;
        let t = Instant::now();
        let r = client
            .delete(format!(
                "{base}/v1/organizations/{org}/departments/{dept}/roles/{writer}"
            ))
            .header("x-api-key", BENCH_KEY)
            .send()
            .await?;
        times.push(t.elapsed());
        if !r.status().is_success() {
            bail!("unbinding failed: {}", r.status());
        }
        check(false).await?;
    }
    times.sort();
    let ms = |d: std::time::Duration| round(d.as_secs_f64() * 1000.0, 1);
    let p50 = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!(
        "{} writes each changing {members} members' decisions: p50 {} ms, max {} ms (acknowledged = reflected)",
        times.len(),
        ms(p50),
        ms(max)
    );
    println!(
        "{}",
        serde_json::json!({"members": members, "writes": times.len(), "p50_ms": ms(p50), "max_ms": ms(max)})
    );
    Ok(())
}

async fn w1(dir: PathBuf, database: Option<String>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let url =
        database.unwrap_or_else(|| format!("sqlite://{}", tmp.path().join("w1.db").display()));
    let store = roster_store::Store::open(&url).await?;
    eprintln!("importing {} into {url} ...", dir.display());
    let ctx = roster_store::Ctx {
        actor: roster_core::Actor::Platform,
        trace_id: "bench".into(),
    };
    let platform = roster_core::authorize_platform(&roster_core::Actor::Platform)?;
    let report = store
        .import_dir(&ctx, &platform, &dir, &crate::cli::progress_bars())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("imported in {:.1} s", report.elapsed.as_secs_f64());

    let t = Instant::now();
    store.rebuild_index().await?;
    let build_s = t.elapsed().as_secs_f64();
    let snap = store.index().load_full();
    let index_mib = snap.heap_bytes() as f64 / (1024.0 * 1024.0);

    let mut orgs = HashMap::new();
    let mut users = HashMap::new();
    for e in &report.id_map {
        match e.kind {
            "organization" => {
                orgs.insert(
                    e.external_id.clone(),
                    OrgId::parse(&e.id).map_err(|_| anyhow::anyhow!("bad id {}", e.id))?,
                );
            }
            "user" => {
                users.insert(
                    e.external_id.clone(),
                    UserId::parse(&e.id).map_err(|_| anyhow::anyhow!("bad id {}", e.id))?,
                );
            }
            _ => {}
        }
    }
    let questions = read_checks(&dir.join("checks.jsonl"), &orgs, &users)?;
    let expected = read_expected(&dir.join("expected.jsonl"))?;

    let ask = |q: &Question| -> bool {
        q.user.is_some_and(|u| {
            snap.allowed(q.org, u, &q.permission, Scope::Organization) == Some(true)
        })
    };
    let mut mismatches = 0usize;
    for (q, want) in questions.iter().zip(&expected) {
        if ask(q) != *want {
            mismatches += 1;
        }
    }
    let verified = expected.len().min(questions.len());

    // Throughput: every check once, one thread, no timing inside the loop.
    let t = Instant::now();
    let mut allowed = 0usize;
    for q in &questions {
        allowed += usize::from(std::hint::black_box(ask(std::hint::black_box(q))));
    }
    let elapsed = t.elapsed().as_secs_f64();
    let checks_per_s = questions.len() as f64 / elapsed;

    // Latency: each check timed on its own, by the processor's time-stamp
    // counter (quanta; calibrated against the system clock): reading it
    // costs ~11 ns here against ~25 ns for `Instant::now` (clock_gettime),
    // and that cost is part of every figure. It is measured and shown.
    let clock = quanta::Clock::new();
    let mut lat: Vec<u64> = Vec::with_capacity(questions.len());
    let mut empty: Vec<u64> = Vec::with_capacity(questions.len());
    for _ in &questions {
        let t = clock.raw();
        std::hint::black_box(());
        empty.push(clock.delta_as_nanos(t, clock.raw()));
    }
    for q in &questions {
        let t = clock.raw();
        std::hint::black_box(ask(std::hint::black_box(q)));
        lat.push(clock.delta_as_nanos(t, clock.raw()));
    }
    lat.sort_unstable();
    empty.sort_unstable();
    let timer_ns = empty[empty.len() / 2];
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let peak_rss_mib = peak_rss_kib() as f64 / 1024.0;

    println!(
        "W1: {} organizations indexed, {} checks ({} allowed)",
        snap.org_count(),
        questions.len(),
        allowed
    );
    println!("index build from the store: {build_s:.2} s, index memory ~{index_mib:.0} MiB, peak RSS {peak_rss_mib:.0} MiB");
    println!("verified {verified} answers against expected.jsonl: {mismatches} mismatches");
    println!(
        "one thread: {:.0} checks/s, p50 {} ns, p99 {} ns (each including the timer's own {timer_ns} ns)",
        checks_per_s,
        pct(0.5),
        pct(0.99)
    );
    println!(
        "{}",
        serde_json::json!({
            "build_s": round(build_s, 3),
            "index_mib": round(index_mib, 1),
            "peak_rss_mib": round(peak_rss_mib, 1),
            "checks_per_s": checks_per_s.round(),
            "p50_ns": pct(0.5),
            "p99_ns": pct(0.99),
            "verified": verified,
            "mismatches": mismatches,
        })
    );
    if mismatches > 0 {
        bail!("{mismatches} answers differ from expected.jsonl");
    }
    Ok(())
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn read_checks(
    path: &Path,
    orgs: &HashMap<String, OrgId>,
    users: &HashMap<String, UserId>,
) -> anyhow::Result<Vec<Question>> {
    #[derive(serde::Deserialize)]
    struct Line {
        org_id: String,
        user_id: String,
        permission: String,
    }
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let l: Line = serde_json::from_str(&line?)
            .with_context(|| format!("{}:{}", path.display(), n + 1))?;
        let org = *orgs
            .get(&l.org_id)
            .with_context(|| format!("{}:{}: unknown org {}", path.display(), n + 1, l.org_id))?;
        out.push(Question {
            org,
            user: users.get(&l.user_id).copied(),
            permission: l.permission,
        });
    }
    Ok(out)
}

fn read_expected(path: &Path) -> anyhow::Result<Vec<bool>> {
    #[derive(serde::Deserialize)]
    struct Line {
        allowed: bool,
    }
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    std::io::BufReader::new(f)
        .lines()
        .map(|l| Ok(serde_json::from_str::<Line>(&l?)?.allowed))
        .collect()
}

/// Peak resident set size of this process (Linux), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

const BENCH_KEY: &str = "rbk_bench_key";

async fn serve_in_process(store: roster_store::Store) -> anyhow::Result<String> {
    let app = roster_http::App::new(
        store,
        &roster_http::Config {
            bootstrap_key: Some(BENCH_KEY.into()),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, roster_http::router(app)).await });
    Ok(format!("http://{addr}"))
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> anyhow::Result<(u16, serde_json::Value, Option<i64>)> {
    let r = client
        .post(url)
        .header("x-api-key", BENCH_KEY)
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let rev = r
        .headers()
        .get("roster-revision")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((status, r.json().await.unwrap_or_default(), rev))
}

fn id_of(v: &serde_json::Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {v}"))
}

async fn writes(database: &str, clients: usize, seconds: u64) -> anyhow::Result<()> {
    const USERS: usize = 40;
    const ROLES: usize = 25;
    let store = roster_store::Store::open(database).await?;
    let follower_a = store.spawn_follower();
    let base = serve_in_process(store.clone()).await?;
    let replica = match store.kind() {
        roster_store::DbKind::Postgres => {
            let b = roster_store::Store::open(database).await?;
            b.spawn_follower();
            Some(b)
        }
        roster_store::DbKind::Sqlite => None,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()?;
    eprintln!("setting up {clients} organizations with {USERS} members and {ROLES} roles each ...");
    let mut plans = Vec::new();
    for c in 0..clients {
        let (_, org, _) = post(
            &client,
            format!("{base}/v1/organizations"),
            serde_json::json!({"name": format!("Bench {c}"), "type": "Work"}),
        )
        .await?;
        let org = id_of(&org)?;
        let mut users = Vec::new();
        for u in 0..USERS {
            let email = format!("bench-{c}-{u}-{}@example.test", std::process::id());
            let (_, user, _) = post(
                &client,
                format!("{base}/v1/users"),
                serde_json::json!({"email": email, "full_name": "Bench User"}),
            )
            .await?;
            let user = id_of(&user)?;
            post(
                &client,
                format!("{base}/v1/organizations/{org}/members"),
                serde_json::json!({"user_id": user}),
            )
            .await?;
            users.push(user);
        }
        let mut roles = Vec::new();
        for r in 0..ROLES {
            let (s, role, _) = post(&client, format!("{base}/v1/organizations/{org}/roles"), serde_json::json!({"name": format!("Role {r}"), "capabilities": ["view_audit_log"]})).await?;
            if s != 201 {
                bail!("creating a role failed: {s} {role}");
            }
            roles.push(id_of(&role)?);
        }
        plans.push((org, users, roles));
    }

    // The replica's revision over time, sampled by a thread of its own.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(i64, Instant)>>> = Default::default();
    let sampler = replica.clone().map(|b| {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut last = b.revision();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = b.revision();
                if r != last {
                    seen.lock().map(|mut v| v.push((r, Instant::now()))).ok();
                    last = r;
                }
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        })
    });

    eprintln!("{clients} clients assigning roles for {seconds} s ...");
    let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (org, users, roles) in plans {
        let (client, base) = (client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked: Vec<(i64, Instant)> = Vec::new();
            let mut errors = 0usize;
            'outer: for role in &roles {
                for user in &users {
                    if Instant::now() > deadline {
                        break 'outer;
                    }
                    let url = format!("{base}/v1/organizations/{org}/roles/{role}/members");
                    match post(&client, url, serde_json::json!({"user_id": user})).await {
                        Ok((201, _, Some(rev))) => acked.push((rev, Instant::now())),
                        _ => errors += 1,
                    }
                }
            }
            (acked, errors)
        }));
    }
    let mut acked = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (a, e) = t.await?;
        acked.extend(a);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // let the replica finish, then stop sampling
    if let Some(b) = &replica {
        let max = acked.iter().map(|(r, _)| *r).max().unwrap_or(0);
        let until = Instant::now() + std::time::Duration::from_secs(5);
        while b.revision() < max && Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    drop(follower_a);
    let writes_per_s = acked.len() as f64 / elapsed;
    let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
    let mut lags: Vec<f64> = acked
        .iter()
        .filter_map(|(rev, at)| {
            seen.iter()
                .find(|(r, _)| r >= rev)
                .map(|(_, t)| t.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 * p) as usize).min(lags.len().saturating_sub(1)))
            .copied()
    };
    println!("{} role assignments acknowledged in {elapsed:.1} s by {clients} clients: {writes_per_s:.0} writes/s ({errors} errors)", acked.len());
    if replica.is_some() {
        println!(
            "replication lag to a second replica: p50 {:.2} ms, p99 {:.2} ms ({} samples)",
            pct(0.5).unwrap_or(f64::NAN),
            pct(0.99).unwrap_or(f64::NAN),
            lags.len()
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "database": store.kind().name(),
            "clients": clients,
            "writes": acked.len(),
            "errors": errors,
            "writes_per_s": writes_per_s.round(),
            "lag_p50_ms": pct(0.5).map(|v| round(v, 2)),
            "lag_p99_ms": pct(0.99).map(|v| round(v, 2)),
        })
    );
    Ok(())
}
