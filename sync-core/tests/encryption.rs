//! Encryption at rest (feature `encryption`, SQLCipher): the store file
//! holds no resident's name or ID number in plain text, and a wrong key is
//! a clear error.

#![cfg(feature = "encryption")]

use std::path::Path;

use gridsync_core::clock::Clock;
use gridsync_core::household::NewHousehold;
use gridsync_core::{Error, OpenOptions, Store};

use crate::{NOW, id_number, new_household, resident, seed_grid, visit};

const KEY: &str = "a9c1e3f5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3f5b7d9f1";

fn open(path: &Path, key: &str) -> Result<Store, Error> {
    Store::open_with(
        path,
        OpenOptions {
            clock: Clock::Fixed(NOW),
            key: Some(key.into()),
            ..OpenOptions::default()
        },
    )
}

#[test]
fn store_file_holds_no_names_or_id_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let people = [
        ("欧阳秀英", "19420315", 12),
        ("司马建国", "19700101", 11),
        ("诸葛小明", "20100601", 31),
    ];
    {
        let mut s = open(&path, KEY).unwrap();
        seed_grid(&mut s);
        let h = s
            .create_household(NewHousehold {
                residents: vec![resident(people[0].0, people[0].1, people[0].2)],
                ..new_household(1, 1, "101")
            })
            .unwrap();
        for (name, born, seq) in &people[1..] {
            s.add_resident(&h, resident(name, born, *seq)).unwrap();
        }
        s.add_visit(&h, visit(NOW - 1000)).unwrap();
        assert_eq!(s.household(&h).unwrap().residents.len(), 3);
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        checked += bytes.len();
        for (name, born, seq) in &people {
            let id = id_number(born, *seq);
            for secret in [name.as_bytes(), id.as_bytes(), &id.as_bytes()[6..14]] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "personal data in plain text in the store file"
                );
            }
        }
    }
    assert!(checked > 4096, "the store was written");

    // The right key reads it all back.
    let s = open(&path, KEY).unwrap();
    assert_eq!(s.search_residents("欧阳").unwrap().len(), 1);
}

#[test]
fn wrong_key_is_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    {
        let mut s = open(&path, KEY).unwrap();
        seed_grid(&mut s);
    }
    assert!(matches!(
        open(&path, "another passphrase"),
        Err(Error::WrongKey)
    ));
    // A store written without a key is not readable as an encrypted one.
    let plain = dir.path().join("plain.db");
    drop(Store::open(&plain).unwrap());
    assert!(matches!(open(&plain, KEY), Err(Error::WrongKey)));
    // And the right key still opens the first.
    assert!(open(&path, KEY).is_ok());
}

#[test]
fn a_short_key_is_refused_before_the_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    match open(&path, "abcd") {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "key"),
        other => panic!("a 4-character key was accepted: {other:?}"),
    }
    assert!(!path.exists(), "no file made for a refused key");
    // A passphrase of 12 characters or more is a key too.
    let mut s = open(&path, "门前的老槐树开花了十二字").unwrap();
    seed_grid(&mut s);
    drop(s);
    assert!(open(&path, "门前的老槐树开花了十二字").is_ok());
    assert!(matches!(open(&path, KEY), Err(Error::WrongKey)));
}

#[test]
fn a_store_keyed_by_an_earlier_version_opens_and_is_moved_to_the_raw_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    // Earlier versions applied every key as a passphrase: `PRAGMA key =
    // '<64 hex digits>'`.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "key", KEY).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let mut s = open(&path, KEY).unwrap();
    seed_grid(&mut s);
    drop(s);
    // Now keyed raw: the raw form opens it, the passphrase form no longer.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "key", format!("x'{KEY}'"))
        .unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "key", KEY).unwrap();
    assert!(
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
            .is_err()
    );
    drop(conn);
    assert!(open(&path, KEY).is_ok());
}

#[test]
fn rekey_changes_the_key_and_the_store_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let new_key = "a new passphrase for this phone";
    let h;
    {
        let mut s = open(&path, KEY).unwrap();
        seed_grid(&mut s);
        h = s.create_household(new_household(1, 1, "101")).unwrap();
        match s.rekey("abcd") {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "key"),
            other => panic!("a short new key was accepted: {other:?}"),
        }
        s.rekey(new_key).unwrap();
        // The open store goes on reading and writing.
        s.add_visit(&h, visit(NOW - 1000)).unwrap();
        assert_eq!(s.household(&h).unwrap().visits.len(), 1);
    }
    assert!(matches!(open(&path, KEY), Err(Error::WrongKey)));
    let mut s = open(&path, new_key).unwrap();
    assert_eq!(s.household(&h).unwrap().visits.len(), 1);
    // And back to a raw key.
    s.rekey(KEY).unwrap();
    drop(s);
    assert!(open(&path, KEY).is_ok());
    // A store opened without a key is not rekeyed into an encrypted one.
    let mut plain = Store::open(dir.path().join("plain.db")).unwrap();
    assert!(matches!(plain.rekey(KEY), Err(Error::Encryption(_))));
}
