//! Killing the process at any instant loses no acknowledged edit and leaves
//! nothing half-written. The test runs this very test binary as a child that
//! writes in a loop and reports each acknowledged edit on stdout, kills it
//! with SIGKILL at a random moment, reopens the store and checks.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridsync_core::Durability;
use gridsync_core::store::PlaceFilter;

use crate::*;

const DB_VAR: &str = "GRIDSYNC_CRASH_DB";

/// The child's side: write forever, printing `ACK <kind> <household> <id>`
/// after each edit the store acknowledged.
#[test]
#[ignore = "run by crash::killed_writer_loses_nothing_acknowledged as its child"]
fn crash_child_writer() {
    let Ok(path) = std::env::var(DB_VAR) else {
        return;
    };
    let mut s = Store::open_with(
        &path,
        OpenOptions {
            clock: Clock::Fixed(NOW),
            durability: Durability::Full,
            cache_docs: 8,
            key: None,
        },
    )
    .unwrap();
    if s.households(&PlaceFilter::default()).unwrap().is_empty()
        && s.documents().unwrap().is_empty()
    {
        seed_grid(&mut s);
    }
    let out = std::io::stdout();
    let mut n: u64 = std::process::id() as u64 * 1000;
    loop {
        n += 1;
        let h = s
            .create_household(new_household(1 + (n % 3) as u32, 1, &format!("{n}")))
            .unwrap();
        writeln!(out.lock(), "ACK household {h} -").unwrap();
        for i in 0..3 {
            let r = s
                .add_resident(
                    &h,
                    resident(&format!("居民{i}"), "19700101", (n as u32 + i) % 1000),
                )
                .unwrap();
            writeln!(out.lock(), "ACK resident {h} {r}").unwrap();
            let v = s.add_visit(&h, visit(NOW - i64::from(i) * DAY)).unwrap();
            writeln!(out.lock(), "ACK visit {h} {v}").unwrap();
        }
        let batch = s
            .batch(|s| {
                let b = s.create_household(new_household(1, 2, &format!("b{n}")))?;
                let v = s.add_visit(&b, visit(NOW))?;
                Ok((b, v))
            })
            .unwrap();
        writeln!(out.lock(), "ACK household {} -", batch.0).unwrap();
        writeln!(out.lock(), "ACK visit {} {}", batch.0, batch.1).unwrap();
    }
}

#[test]
fn killed_writer_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite3");
    let exe = std::env::current_exe().unwrap();
    let rounds = 12;
    let mut acked: Vec<(String, String, String)> = Vec::new();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash::crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DB_VAR, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ACK ") {
                    let parts: Vec<_> = rest.split(' ').map(String::from).collect();
                    lines.push((parts[0].clone(), parts[1].clone(), parts[2].clone()));
                }
            }
            lines
        });
        // Kill at a different moment each round, after some writes happened.
        let start = Instant::now();
        let wait = Duration::from_millis(150 + (round * 37 % 250) as u64);
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        acked.extend(reader.join().unwrap());

        // Reopen: every acknowledged edit is there, the file is sound.
        let mut s = store_at(&path);
        check_store(&mut s, &acked);
    }
    assert!(
        acked.len() > 100,
        "the child wrote only {} edits",
        acked.len()
    );
}

fn check_store(s: &mut Store, acked: &[(String, String, String)]) {
    let listed = s.households(&PlaceFilter::default()).unwrap();
    for (kind, h, id) in acked {
        let got = s
            .household(h)
            .unwrap_or_else(|e| panic!("acknowledged household {h} lost: {e}"));
        match kind.as_str() {
            "resident" => assert!(got.residents.contains_key(id), "acknowledged resident lost"),
            "visit" => assert!(got.visits.contains_key(id), "acknowledged visit lost"),
            _ => {}
        }
    }
    // Nothing half-written: every stored household is whole and listed, the
    // projections agree with the documents, every outbox entry is a change of
    // a stored document.
    for (id, kind, _) in s.documents().unwrap() {
        if kind == "household" {
            let h = s.household(&id).unwrap();
            assert!(
                listed.iter().any(|r| r.id == id),
                "household not in projection"
            );
            let row = listed.iter().find(|r| r.id == id).unwrap();
            assert_eq!(row.residents as usize, h.current_residents().count());
        }
    }
    let before = s.households(&PlaceFilter::default()).unwrap();
    s.rebuild_projections().unwrap();
    assert_eq!(s.households(&PlaceFilter::default()).unwrap(), before);
    let pending = s.outbox(usize::MAX >> 1).unwrap();
    for entry in pending {
        let changes = s.doc_changes(&entry.doc_id).unwrap();
        assert!(
            changes.contains(&entry.data),
            "outbox entry without its change"
        );
    }
}
