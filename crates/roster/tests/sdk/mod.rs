//! The harness of the official SDKs' end-to-end tests: starts `roster serve`
//! on a fresh SQLite file and a free port, then runs a script of
//! `tests/e2e/` with the Python named by `ROSTER_SDK_PYTHON` (a virtualenv
//! with the SDKs installed, see the README). Without it the tests are
//! skipped, unless `ROSTER_REQUIRE_SDK=1` (CI) makes that a failure. The
//! script gets `ROSTER_URL` and `ROSTER_PLATFORM_KEY`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "rbk_sdk_e2e_test_key";
/// How long the server may take to answer /healthz, and the script to finish.
const START_LIMIT: Duration = Duration::from_secs(30);
const SCRIPT_LIMIT: Duration = Duration::from_secs(300);

/// The server process, killed when the test ends (also on panic).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One plain HTTP/1.1 request to /healthz; true on a 200.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python to run the script with, or `None` when the test is skipped.
fn sdk_python(package: &str) -> Option<PathBuf> {
    match std::env::var_os("ROSTER_SDK_PYTHON").filter(|v| !v.is_empty()) {
        // `cargo test` runs tests from the package directory; a relative path
        // such as `.venv-e2e/bin/python` is meant from the workspace root.
        Some(p) => {
            let p = PathBuf::from(p);
            Some(if p.is_relative() && p.components().count() > 1 {
                workspace_root().join(p)
            } else {
                p
            })
        }
        None => {
            assert!(
                std::env::var("ROSTER_REQUIRE_SDK").as_deref() != Ok("1"),
                "ROSTER_REQUIRE_SDK=1 but ROSTER_SDK_PYTHON is unset: point it at a Python \
                 with {package} installed (see the README)"
            );
            // Past the test harness's capture, so a plain `cargo test` shows it.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set ROSTER_SDK_PYTHON (see README) to run the {package} end-to-end test"
            );
            None
        }
    }
}

/// Runs `tests/e2e/{script}` (written for `package`) against a fresh server;
/// the script's last line must read `N passed, 0 failed`.
pub fn run_sdk_script(script: &str, package: &str) {
    let Some(python) = sdk_python(package) else {
        return;
    };
    let script = workspace_root().join("tests/e2e").join(script);
    assert!(script.is_file(), "{} is missing", script.display());
    let tmp = tempfile::tempdir().unwrap();
    let server_log = tmp.path().join("server.log");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", &addr.to_string(), "--database"])
            .arg(format!("sqlite://{}", tmp.path().join("r.db").display()))
            .env("ROSTER_BOOTSTRAP_KEY", KEY)
            .env("ROSTER_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&server_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + START_LIMIT;
    while !healthy(addr) {
        assert!(
            Instant::now() < deadline,
            "roster serve did not answer /healthz on {addr} within {START_LIMIT:?}; its log:\n{}",
            tail(&server_log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The script's output goes to a file: a pipe nobody reads could fill and stall it.
    let out_path = tmp.path().join("sdk.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut script_run = Command::new(&python)
        .arg(&script)
        .env("ROSTER_URL", format!("http://{addr}"))
        .env("ROSTER_PLATFORM_KEY", KEY)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run ROSTER_SDK_PYTHON={}: {e}", python.display()));
    let deadline = Instant::now() + SCRIPT_LIMIT;
    let status = loop {
        if let Some(status) = script_run.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = script_run.kill();
            let _ = script_run.wait();
            panic!(
                "the SDK script did not finish within {SCRIPT_LIMIT:?}; its output:\n{}",
                tail(&out_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "the SDK script failed ({status}):\n{output}\n--- server log:\n{}",
        tail(&server_log)
    );
    let last = output.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed"),
        "unexpected last line {last:?}:\n{output}"
    );
}
