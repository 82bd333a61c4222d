//! Sharing a store file with a running `orgstore serve`, started as a child process.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Store, BIN};

const CLIENT_ID: &str = "cli-test";
const CLIENT_SECRET: &str = "cli-test-secret";

/// `orgstore serve` on a free loopback port; stopped with SIGTERM when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(s: &Store, multi_process: bool) -> Served {
        let mut args = vec![
            "serve",
            "--db",
            s.db(),
            "--listen",
            "127.0.0.1:0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ];
        if multi_process {
            args.push("--multi-process");
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The banner's first line names the address: "orgstore serving http://127.0.0.1:PORT".
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            for _ in lines {} // keep draining
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .expect("the server prints its address");
        let addr = banner
            .strip_prefix("orgstore serving http://")
            .unwrap_or_else(|| panic!("banner: {banner}"))
            .parse()
            .unwrap();
        let served = Served { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while served.http("GET", "/health", None, "").0 != 200 {
            assert!(Instant::now() < deadline, "/health never answered 200");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    /// One HTTP/1.0 request; the status and the body.
    fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return (0, String::new());
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let kind = if path == "/oauth/token" {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n{auth}Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        if stream.read_to_string(&mut response).is_err() {
            return (0, String::new());
        }
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn token(&self) -> String {
        let (status, body) = self.http(
            "POST",
            "/oauth/token",
            None,
            &format!(
                "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
            ),
        );
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// SIGTERM by PID, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let status = terminate(&mut self.child);
        std::mem::forget(self);
        status
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed assertion must not leave the server running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_cli_shares_the_file_with_a_multi_process_server() {
    let s = Store::new();
    let served = Served::start(&s, true);

    // A CLI write is served at once...
    let org = s
        .cli(
            "create",
            &[
                "--multi-process",
                "--display-name",
                "From the CLI",
                "--external-id",
                "cli-1",
            ],
        )
        .json();
    let token = served.token();
    let (status, body) = served.http(
        "GET",
        &format!("/api/v1/organizations/{}", org["id"].as_str().unwrap()),
        Some(&token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let served_org: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served_org["organization"], org);

    // ...and a write through the server is seen by the CLI.
    let (status, body) = served.http(
        "POST",
        "/api/v1/organizations",
        Some(&token),
        r#"{"display_name": "From the server", "external_id": "srv-1"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let got = s
        .cli("get", &["--multi-process", "--external-id", "srv-1"])
        .json();
    assert_eq!(got["display_name"], "From the server");
    let page = s.cli("list", &["--multi-process"]).json();
    assert_eq!(page["total_size"], 2);
    let stats = s.cli("stats", &["--multi-process"]).json();
    assert_eq!(stats["organizations"]["total"], 2);
    let backup = s.path("live.redb");
    let report = s
        .cli("backup", &["--multi-process", backup.to_str().unwrap()])
        .json();
    assert_eq!(report["organizations"], 2);
    assert_eq!(s.cli("check", &["--multi-process"]).json()["ok"], true);

    // Without --multi-process, the file the server holds is refused at once.
    let started = Instant::now();
    let err = s.cli("list", &[]).error(6);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(err["message"].as_str().unwrap().contains("in use"), "{err}");

    assert!(served.stop().success(), "a clean stop on SIGTERM");
    // The server closed the store: the CLI alone may open it now.
    assert_eq!(s.cli("list", &[]).json()["total_size"], 2);
}

#[test]
fn a_file_held_by_a_server_without_multi_process_is_in_use() {
    let s = Store::new();
    let served = Served::start(&s, false);
    for (command, args) in [
        ("list", vec![]),
        ("create", vec!["--display-name", "X"]),
        ("import", vec!["-"]),
        ("check", vec![]),
    ] {
        let started = Instant::now();
        let out = s.cli(command, &args);
        let elapsed = started.elapsed();
        let err = out.error(6);
        assert_eq!(err["code"], "FAILED_PRECONDITION");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("in use"), "{command}: {message}");
        assert!(message.contains("--multi-process"), "a hint: {message}");
        assert!(
            elapsed < Duration::from_millis(1500),
            "{command} took {elapsed:?}"
        );
    }
    // Asking to share does not help while the server holds the file alone: refused after
    // the library's bounded wait.
    let started = Instant::now();
    let err = s.cli("list", &["--multi-process"]).error(6);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("without multi-process mode"),
        "{err}"
    );
    assert!(served.stop().success());
}
