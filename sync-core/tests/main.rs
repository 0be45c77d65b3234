//! Integration tests of gridsync-core through its public API: one binary,
//! one module per area, one helper that builds the scenario.

#![allow(clippy::unwrap_used)]

mod cli;
mod crash;
mod duplicates;
mod encryption;
mod fixtures;
mod issues;
mod ledger;
mod merge;
mod outcome;
mod projection;

use gridsync_core::clock::Clock;
use gridsync_core::doc::Author;
use gridsync_core::grid::NewGrid;
use gridsync_core::household::{NewHousehold, Place, Resident, Visit};
use gridsync_core::{OpenOptions, Store};

/// 2026-11-26 10:00 China Standard Time, in ms.
pub(crate) const NOW: i64 = 1_795_658_400_000;
pub(crate) const DAY: i64 = 86_400_000;
pub(crate) const GRID: &str = "110105001001001";

/// A valid ID number for a person born on `yyyymmdd`, `seq` telling people
/// apart (odd: male, even: female).
pub(crate) fn id_number(yyyymmdd: &str, seq: u32) -> String {
    let body = format!("110105{yyyymmdd}{:03}", seq % 1000);
    gridsync_core::id_number::with_check_character(&body).unwrap()
}

/// An in-memory store whose clock reads [`NOW`], signed in as `user`, with
/// grid [`GRID`] and its places (area 东片区, compound 幸福小区, buildings
/// 1–3, units 1–2).
/// The store in file `path` (created if missing), on the tests' clock.
pub(crate) fn store_at(path: &std::path::Path) -> Store {
    Store::open_with(
        path,
        OpenOptions {
            clock: Clock::Fixed(NOW),
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

pub(crate) fn store(user: &str) -> Store {
    let mut s = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(NOW),
        ..OpenOptions::default()
    })
    .unwrap();
    s.set_author(Author {
        user: user.into(),
        role: "grid_worker".into(),
    })
    .unwrap();
    seed_grid(&mut s);
    s
}

pub(crate) fn seed_grid(s: &mut Store) {
    s.create_grid(NewGrid {
        code: GRID.into(),
        name: "第一网格".into(),
        community: "幸福社区".into(),
        street: "建国门街道".into(),
    })
    .unwrap();
    for b in 1..=3 {
        for u in 1..=2 {
            s.add_place(
                GRID,
                "东片区",
                "幸福小区",
                &format!("{b}号楼"),
                &format!("{u}单元"),
            )
            .unwrap();
        }
    }
}

pub(crate) fn place(building: u32, unit: u32, room: &str) -> Place {
    Place {
        area: "东片区".into(),
        compound: "幸福小区".into(),
        building: format!("{building}号楼"),
        unit: format!("{unit}单元"),
        room: room.into(),
    }
}

pub(crate) fn new_household(building: u32, unit: u32, room: &str) -> NewHousehold {
    NewHousehold {
        grid: GRID.into(),
        place: place(building, unit, room),
        ..NewHousehold::default()
    }
}

pub(crate) fn resident(name: &str, born: &str, seq: u32) -> Resident {
    Resident {
        id_number: Some(id_number(born, seq)),
        ..Resident::named(name)
    }
}

pub(crate) fn visit(at: i64) -> Visit {
    Visit {
        at,
        method: "in_person".into(),
        findings: "家中一切正常".into(),
        ..Visit::default()
    }
}

/// Copy every change of every document of `from` into `to`, as a sync would.
pub(crate) fn exchange(from: &mut Store, to: &mut Store) {
    for (id, _, _) in from.documents().unwrap() {
        let changes = from.doc_changes(&id).unwrap();
        to.apply_remote(&id, &changes).unwrap();
    }
}

/// Bring every pair of stores up to date with each other.
pub(crate) fn sync_all(stores: &mut [&mut Store]) {
    for _ in 0..2 {
        for i in 0..stores.len() {
            for j in 0..stores.len() {
                if i != j {
                    let (a, b) = if i < j {
                        let (l, r) = stores.split_at_mut(j);
                        (&mut *l[i], &mut *r[0])
                    } else {
                        let (l, r) = stores.split_at_mut(i);
                        (&mut *r[0], &mut *l[j])
                    };
                    exchange(a, b);
                }
            }
        }
    }
}

/// A second phone, signed in as `user` with `role`, that has synced
/// everything `from` has (the grid included).
pub(crate) fn phone_from(from: &mut Store, user: &str, role: &str) -> Store {
    let mut s = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(NOW),
        ..OpenOptions::default()
    })
    .unwrap();
    s.set_author(Author {
        user: user.into(),
        role: role.into(),
    })
    .unwrap();
    exchange(from, &mut s);
    s
}
