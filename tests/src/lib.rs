//! Shared helpers of the cross-crate integration tests: where the spec material is, and the
//! official schemas as validators.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The `shared/` folder beside the repository (override with `AITP_SHARED_DIR`).
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AITP_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The folder of spec vectors.
pub fn vectors_dir() -> PathBuf {
    shared_dir().join("spec/vectors")
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every vector file (`*.json` but the report), sorted by name.
pub fn vector_files() -> Vec<PathBuf> {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the spec vectors at {}: {e}. The repository expects `shared/` beside it \
                 (or set AITP_SHARED_DIR).",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != "validation-report.json")
        })
        .collect();
    files.sort();
    files
}

/// `validation-report.json`'s entry for a vector file, if it has one.
pub fn report_entry(file_name: &str) -> Option<Value> {
    let path = vectors_dir().join("validation-report.json");
    let report = read_json(&path);
    report["vectors"].get(file_name).cloned()
}

/// The official schema document a message of `capability` (`aitp-01` … `aitp-05`, `aitp-04tx`)
/// and `key` is validated against, as a root schema for the `jsonschema` crate.
///
/// The AITP-01/02 files are OpenAPI 3.0 documents: the document itself becomes the root, with a
/// `$ref` to the message's component (so its `#/components/...` references still resolve).
pub fn official_schema(capability: &str, key: &str) -> Value {
    let spec = shared_dir().join("spec");
    let file = |slug: &str| {
        spec.join(format!(
            "aitp/schemas/capabilities/{slug}/v1.0.0/schema.json"
        ))
    };
    let component = |key: &str| -> String {
        key.split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let openapi = |path: PathBuf, component: String| {
        let mut doc = read_json(&path);
        let obj = doc.as_object_mut().expect("schema document is an object");
        obj.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        obj.insert(
            "$ref".into(),
            json!(format!("#/components/schemas/{component}")),
        );
        doc
    };
    match capability {
        "aitp-01" => openapi(file("aitp-01-payments"), component(key)),
        "aitp-02" => openapi(file("aitp-02-decisions"), component(key)),
        "aitp-03" => read_json(&file("aitp-03-data-request")),
        "aitp-04" => read_json(&file("aitp-04-near-wallet")),
        "aitp-05" => read_json(&file("aitp-05-evm-wallet")),
        "aitp-04tx" => {
            read_json(&spec.join("legacy/aitp-04-transactions.v1.0.0.legacy.schema.json"))
        }
        other => panic!("no official schema for {other}"),
    }
}

/// Errors of `instance` against `schema`, as strings (empty when valid).
pub fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

/// Serves `server` on a free loopback port in the background; returns the base URL
/// (`http://127.0.0.1:PORT/v1`). The server stops when the returned guard is dropped.
pub async fn serve_in_background<S: aitp::store::ThreadStore>(
    server: aitp::server::Server<S>,
) -> (String, ServerGuard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        server
            .serve_with(listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
    });
    (
        format!("http://{addr}/v1"),
        ServerGuard {
            stop: Some(tx),
            handle,
        },
    )
}

/// Stops a background server when dropped.
#[derive(Debug)]
pub struct ServerGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl ServerGuard {
    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A Python virtual environment under `dir` with `packages` installed (pip specifiers such as
/// `openai==3.54.0`), created on first use and reused afterwards. Fails with a message saying
/// what is missing when Python or the package index cannot be reached.
pub fn python_venv(dir: &Path, packages: &[&str]) -> PathBuf {
    use std::process::Command;
    let venv = dir.join(packages.join("_").replace(['=', '<', '>', ' ', '/'], "-"));
    let python = venv.join("bin/python");
    let stamp = venv.join(".installed");
    if stamp.exists() {
        return python;
    }
    let _ = std::fs::create_dir_all(dir);
    // One test process at a time creates a given venv.
    let lock = venv.with_extension("lock");
    let mut waited = 0;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(_) if waited < 600 => {
                std::thread::sleep(std::time::Duration::from_secs(1));
                waited += 1;
                if stamp.exists() {
                    return python;
                }
            }
            Err(e) => panic!("cannot lock {}: {e}", lock.display()),
        }
    }
    let result = (|| {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 is needed for the peer tests and could not run: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`python3 -m venv {}` failed ({status})",
                venv.display()
            ));
        }
        let out = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages)
            .output()
            .map_err(|e| format!("pip could not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pip install {packages:?} failed (is the Python package index reachable?):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::write(&stamp, packages.join("\n")).map_err(|e| e.to_string())?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&lock);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&venv);
        panic!("setting up the Python peer failed: {e}");
    }
    python
}
