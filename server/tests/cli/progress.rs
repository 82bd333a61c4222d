//! Progress bars: drawn on a terminal, absent when stderr is a pipe.

use std::process::Command;

use crate::support::{record, write_lines, Store, BIN};

fn has_terminal_codes(text: &[u8]) -> bool {
    text.contains(&0x1b) || text.contains(&b'\r')
}

fn input(s: &Store) -> std::path::PathBuf {
    let lines: Vec<String> = (1..=3000).map(|n| record(n, "US")).collect();
    let file = s.path("in.jsonl");
    write_lines(&file, &lines);
    file
}

#[test]
fn no_progress_bar_when_stderr_is_a_pipe() {
    let s = Store::new();
    let file = input(&s);
    let out = s.cli("import", &[file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        !has_terminal_codes(out.stderr.as_bytes()),
        "{:?}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "only the summary: {:?}",
        out.stderr
    );
    let out = s.cli("export", &[]);
    assert_eq!(out.code, 0);
    assert!(
        !has_terminal_codes(out.stderr.as_bytes()),
        "{:?}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "only the summary: {:?}",
        out.stderr
    );
}

/// The same commands on a pseudo-terminal (util-linux `script`) do draw a bar: the check
/// above is not passing for want of a bar.
#[cfg(target_os = "linux")]
#[test]
fn a_progress_bar_on_a_terminal() {
    let s = Store::new();
    let file = input(&s);
    for command in [
        format!("{BIN} import --db {} {}", s.db(), file.display()),
        format!("{BIN} export --db {} > /dev/null", s.db()),
    ] {
        let out = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("TERM", "xterm")
            .output()
            .expect("util-linux `script` runs commands on a pseudo-terminal");
        assert!(out.status.success(), "{command}: {out:?}");
        assert!(has_terminal_codes(&out.stdout), "{command}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains('['), "a bar is drawn: {text:?}");
    }
    assert_eq!(s.open().count(None).unwrap(), 3000);
}
