//! The throwaway PostgreSQL cluster of [`TempPostgres`].

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// The variable that makes a missing PostgreSQL an error rather than a skipped test.
pub const REQUIRE_VAR: &str = "AITP_REQUIRE_POSTGRES";

/// How to install the server, for the messages that need it.
const INSTALL: &str = "install PostgreSQL's server (Debian/Ubuntu: `apt-get update && apt-get \
     install -y postgresql`; its binaries go to /usr/lib/postgresql/<major>/bin), or point \
     AITP_POSTGRES_BIN at a directory holding `initdb`, `postgres`, `pg_isready` and `createdb`";

/// How long the server may take to accept connections (a loaded machine is slow, not stuck).
const READY_WITHIN: Duration = Duration::from_secs(120);

/// The superuser `initdb` creates (no password: trust authentication on loopback only).
const USER: &str = "aitp";

/// The watchdog: starts `postgres` (arguments: bin dir, cluster dir, port, then `-c`
/// settings), stops it with a fast shutdown when its standard input reaches its end, and
/// then removes the cluster's directory. It exits when the server does, so a server that
/// fails to start is seen; the directory is then kept for another try.
const WATCHDOG: &str = r#"
bin=$1; dir=$2; port=$3; shift 3
stop="$dir/stop.$port"
exec 3<&0
"$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 "$@" \
    </dev/null >>"$dir/server.log" 2>&1 3<&- &
pid=$!
( read -r _ <&3; : >"$stop"; kill -INT "$pid" 2>/dev/null ) &
wait "$pid"
status=$?
if [ -e "$stop" ]; then cd / && rm -rf "$dir"; fi
exit $status
"#;

/// A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, `postgres`
/// on a free loopback port, a fresh database per test, and the cluster stopped and removed at
/// the end.
///
/// The server is started by a small shell watchdog that holds a pipe from this process: when
/// the pipe closes (the [`TempPostgres`] is dropped, or the test process ends in any way, a
/// panic or `SIGKILL` included) the watchdog shuts the server down and deletes its directory.
/// So a cluster shared by the tests of one binary ([`TempPostgres::shared`]) is stopped too,
/// although a `static` is never dropped.
///
/// The binaries are looked up in `AITP_POSTGRES_BIN` (a directory), then Debian's
/// `/usr/lib/postgresql/<major>/bin` (newest first), then the `PATH`. When they are missing the
/// tests that need them are skipped with a notice, unless `AITP_REQUIRE_POSTGRES` is set (CI
/// sets it): then they fail, saying how to install PostgreSQL. `initdb` and `postgres` refuse
/// to run as root, so as root the cluster runs as the `postgres` user the Debian package
/// creates.
///
/// ```no_run
/// use aitp::store::testing::TempPostgres;
///
/// // `None` (with a printed notice) when PostgreSQL is not installed: the test is skipped.
/// if let Some(pg) = TempPostgres::shared() {
///     let config = pg.database(); // `host=127.0.0.1 port=… user=aitp dbname=…`
/// #   let _ = config;
/// }
/// ```
#[derive(Debug)]
pub struct TempPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The watchdog shell, and the pipe whose end stops the server.
    watchdog: Child,
    stop: Option<ChildStdin>,
}

/// Where the PostgreSQL binaries are, or why they are not found.
fn binaries() -> Result<PathBuf, String> {
    let complete = |dir: &Path| {
        ["initdb", "postgres", "pg_isready", "createdb"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("AITP_POSTGRES_BIN") {
        let dir = PathBuf::from(dir);
        return if complete(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "AITP_POSTGRES_BIN={} lacks initdb, postgres, pg_isready or createdb",
                dir.display()
            ))
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| complete(dir))
        .ok_or_else(|| "PostgreSQL's server binaries were not found".to_owned())
}

/// The output of a command that must succeed, trimmed.
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// As root, the uid and gid of the `postgres` user the server must run as; `None` otherwise.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    if output(Command::new("id").arg("-u"))? != "0" {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32, String> {
        output(Command::new("id").args([flag, "postgres"]))
            .map_err(|e| {
                format!(
                    "running as root, PostgreSQL needs an unprivileged `postgres` user \
                     (the Debian package creates it): {e}"
                )
            })?
            .parse()
            .map_err(|e| format!("`id {flag} postgres`: {e}"))
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// A port nobody listens on now (another process may take it before the server does; the
/// start is then retried on another).
fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Polls `pg_isready` until the server on `port` accepts connections; fails if the watchdog
/// (so the server) exits first, or after [`READY_WITHIN`].
fn wait_ready(bin: &Path, dir: &Path, port: u16, watchdog: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Err(format!("the server exited ({status}): {}", log_tail(dir)));
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-U", USER, "-d", "postgres"])
            .arg("-p")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run pg_isready: {e}"))?;
        if ready.success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not accepting connections after {READY_WITHIN:?}: {}",
                log_tail(dir)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The end of the server's log, for error messages.
fn log_tail(dir: &Path) -> String {
    let lines: Vec<String> = std::fs::File::open(dir.join("server.log"))
        .map(|f| BufReader::new(f).lines().map_while(Result::ok).collect())
        .unwrap_or_default();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl TempPostgres {
    /// Starts a cluster tuned for tests: `fsync`, `synchronous_commit` and
    /// `full_page_writes` off (fast, and nothing survives a crash of the machine, which
    /// tests do not need). `None` (after a printed notice) when PostgreSQL is not installed
    /// and [`REQUIRE_VAR`] is not set.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is missing and required, or it fails to start: a test cannot go on.
    pub fn start() -> Option<Self> {
        Self::start_with(&FAST)
    }

    /// Starts a cluster with PostgreSQL's durable defaults, for tests of crashes.
    /// `None` as for [`TempPostgres::start`].
    ///
    /// # Panics
    ///
    /// As [`TempPostgres::start`].
    pub fn start_durable() -> Option<Self> {
        Self::start_with(&[])
    }

    /// One cluster for every test of this process that asks, started by the first; stopped
    /// and removed when the process ends. Tests take a [`TempPostgres::database`] each.
    /// `None` as for [`TempPostgres::start`].
    ///
    /// # Panics
    ///
    /// As [`TempPostgres::start`], in every test that asks.
    pub fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Result<Option<TempPostgres>, String>> = OnceLock::new();
        match SHARED.get_or_init(|| Self::try_start(&FAST)) {
            Ok(pg) => pg.as_ref(),
            Err(e) => panic!("{e}"),
        }
    }

    fn start_with(settings: &[&str]) -> Option<Self> {
        Self::try_start(settings).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The cluster, `Ok(None)` when PostgreSQL is missing and not required.
    fn try_start(settings: &[&str]) -> Result<Option<Self>, String> {
        let bin = match binaries() {
            Ok(bin) => bin,
            Err(why) if std::env::var_os(REQUIRE_VAR).is_some() => {
                return Err(format!("{why}; {REQUIRE_VAR} is set, so {INSTALL}"));
            }
            Err(why) => {
                eprintln!(
                    "note: skipping a PostgreSQL test: {why}. To run it, {INSTALL}. \
                     Set {REQUIRE_VAR}=1 to make this an error."
                );
                return Ok(None);
            }
        };
        let user = run_as()?;
        let dir = tempfile::Builder::new()
            .prefix("aitp-postgres-")
            .tempdir()
            .map_err(|e| format!("no temporary directory for PostgreSQL: {e}"))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to postgres: {e}", dir.path().display()))?;
        }
        let data = dir.path().join("data");
        output(as_user(
            Command::new(bin.join("initdb"))
                .current_dir(dir.path())
                .arg("-D")
                .arg(&data)
                .args([
                    "-A",
                    "trust",
                    "-U",
                    USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .stdin(Stdio::null()),
            user,
        ))
        .map_err(|e| format!("initdb failed: {e}"))?;
        // From here on the watchdog owns the directory and removes it.
        let dir = dir.keep();
        let mut last_error = String::new();
        // A port taken between choosing it and binding it: try another.
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(WATCHDOG)
                .arg("aitp-postgres-watchdog")
                .arg(&bin)
                .arg(&dir)
                .arg(port.to_string());
            for setting in settings {
                cmd.arg("-c").arg(setting);
            }
            let mut watchdog = as_user(
                cmd.current_dir(&dir)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
                user,
            )
            .spawn()
            .map_err(|e| format!("cannot start the PostgreSQL watchdog: {e}"))?;
            let stop = watchdog.stdin.take();
            match wait_ready(&bin, &dir, port, &mut watchdog) {
                Ok(()) => {
                    return Ok(Some(Self {
                        bin,
                        dir,
                        port,
                        watchdog,
                        stop,
                    }));
                }
                Err(e) => {
                    last_error = e;
                    drop(stop);
                    let _ = watchdog.kill();
                    let _ = watchdog.wait();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(format!("PostgreSQL did not start: {last_error}"))
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection settings (libpq's `key=value` form, as `tokio-postgres` reads them) for
    /// `database` as the superuser.
    pub fn config(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={USER} dbname={database}",
            self.port
        )
    }

    /// Creates a new, empty database and returns its [connection settings](Self::config):
    /// each test gets its own, so tests sharing the cluster do not see each other's rows.
    ///
    /// # Panics
    ///
    /// When `createdb` fails.
    pub fn database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "aitp_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        output(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-U", USER])
                .arg("-p")
                .arg(self.port.to_string())
                .arg(&name)
                .stdin(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        self.config(&name)
    }
}

/// The settings of [`TempPostgres::start`] and the shared cluster.
const FAST: [&str; 3] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
];

impl Drop for TempPostgres {
    /// Stops the server (a fast shutdown: sessions are ended) and waits until it has exited
    /// and its directory is gone.
    fn drop(&mut self) {
        drop(self.stop.take());
        let _ = self.watchdog.wait();
        // The watchdog removed it, unless the server had died before.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
