//! Encryption at rest (feature `encryption`, SQLCipher): the store file
//! holds no resident's name or ID number in plain text, and a wrong key is
//! a clear error.

#![cfg(feature = "encryption")]

use std::path::Path;

use gridsync_core::household::{Clock, NewHousehold};
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
    assert!(matches!(open(&path, "another key"), Err(Error::WrongKey)));
    // A store written without a key is not readable as an encrypted one.
    let plain = dir.path().join("plain.db");
    drop(Store::open(&plain).unwrap());
    assert!(matches!(open(&plain, KEY), Err(Error::WrongKey)));
    // And the right key still opens the first.
    assert!(open(&path, KEY).is_ok());
}
