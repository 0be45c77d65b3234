//! The lists the app shows, derived from the documents.

use gridsync_core::store::PlaceFilter;
use gridsync_core::tagset::TagSet;

use crate::*;

/// A small grid: households 1-1-101..103, 1-2-101, 2-1-101 with holders,
/// residents with tags, and visits of various ages.
fn small_grid() -> (Store, Vec<String>) {
    let mut s = store("worker-1");
    let mut ids = Vec::new();
    for (b, u, room) in [
        (1, 1, "101"),
        (1, 1, "102"),
        (1, 1, "103"),
        (1, 2, "101"),
        (2, 1, "101"),
    ] {
        let mut new = new_household(b, u, room);
        new.holder = Some(if b == 1 {
            "holder-1".into()
        } else {
            "holder-2".into()
        });
        ids.push(s.create_household(new).unwrap());
    }
    s.add_resident(
        &ids[0],
        Resident {
            tags: TagSet::of(["living_alone_elderly"]),
            phone: Some("13812345678".into()),
            ..resident("王老太", "19400101", 12)
        },
    )
    .unwrap();
    s.add_resident(
        &ids[3],
        Resident {
            tags: TagSet::of(["living_alone_elderly", "disabled"]),
            ..resident("李老伯", "19420202", 13)
        },
    )
    .unwrap();
    s.add_resident(&ids[4], resident("张三", "19800303", 15))
        .unwrap();
    // Visits: 101 by its holder 2 days ago; 102 by the worker 10 days ago;
    // 103 by its holder 45 days ago; 1-2-101 never; 2-1-101 by the worker today.
    // Each visit recorded on the phone of whoever made it.
    let mut by = |h: &str, who: &str, role: &str, at: i64| {
        s.set_author(gridsync_core::doc::Author {
            user: who.into(),
            role: role.into(),
        })
        .unwrap();
        s.add_visit(h, visit(at)).unwrap();
    };
    by(&ids[0], "holder-1", "package_holder", NOW - 2 * DAY);
    by(&ids[1], "worker-1", "grid_worker", NOW - 10 * DAY);
    by(&ids[2], "holder-1", "package_holder", NOW - 45 * DAY);
    by(&ids[4], "worker-1", "grid_worker", NOW - 60_000);
    (s, ids)
}

use gridsync_core::household::Resident;

#[test]
fn lists_households_by_building_and_unit() {
    let (s, ids) = small_grid();
    let unit = s
        .households(&PlaceFilter {
            building: Some("1号楼".into()),
            unit: Some("1单元".into()),
            ..Default::default()
        })
        .unwrap();
    let rooms: Vec<_> = unit.iter().map(|h| h.place.room.as_str()).collect();
    assert_eq!(rooms, ["101", "102", "103"]);
    let building = s
        .households(&PlaceFilter {
            building: Some("1号楼".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(building.len(), 4);
    assert_eq!(
        s.households(&PlaceFilter::default()).unwrap().len(),
        ids.len()
    );
    assert_eq!(building[0].residents, 1);
}

#[test]
fn households_not_visited_and_not_contacted() {
    let (s, ids) = small_grid();
    let not_visited: Vec<_> = s
        .households_not_visited(30)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(not_visited, [ids[2].clone(), ids[3].clone()]);
    let not_visited_week: Vec<_> = s
        .households_not_visited(7)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(
        not_visited_week,
        [ids[1].clone(), ids[2].clone(), ids[3].clone()]
    );

    // 1+X: holder-1 holds 4 households and contacted one of them in 30 days.
    let not_contacted: Vec<_> = s
        .households_not_contacted(30, Some("holder-1"))
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(
        not_contacted,
        [ids[1].clone(), ids[2].clone(), ids[3].clone()]
    );
    assert_eq!(s.holder_coverage("holder-1", 30).unwrap(), (1, 4));
    // holder-2's household was visited only by the grid worker.
    assert_eq!(
        s.households_not_contacted(30, Some("holder-2"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.households_not_contacted(30, None).unwrap().len(), 4);
}

#[test]
fn residents_by_tag_and_search_are_masked() {
    let (s, _) = small_grid();
    let alone: Vec<_> = s.residents_with_tag("living_alone_elderly").unwrap();
    assert_eq!(alone.len(), 2);
    assert_eq!(s.residents_with_tag("disabled").unwrap().len(), 1);
    let wang = alone.iter().find(|r| r.name == "王老太").unwrap();
    assert_eq!(wang.phone_masked.as_deref(), Some("138****5678"));
    let id = id_number("19400101", 12);
    assert_eq!(
        wang.id_number_masked.as_deref(),
        Some(format!("{}********{}", &id[..6], &id[14..]).as_str())
    );

    let by_name = s.search_residents("老").unwrap();
    assert_eq!(by_name.len(), 2);
    let by_tail = s.search_residents(&id[14..]).unwrap();
    assert_eq!(by_tail.len(), 1);
    assert_eq!(by_tail[0].name, "王老太");
    assert!(
        s.search_residents("%").unwrap().is_empty(),
        "wildcards are literal"
    );
}

#[test]
fn projections_are_rebuilt_from_documents() {
    let (mut s, _) = small_grid();
    let households = s.households(&PlaceFilter::default()).unwrap();
    let tagged = s.residents_with_tag("living_alone_elderly").unwrap();
    let stale = s.households_not_visited(30).unwrap();
    s.clear_cache();
    assert_eq!(s.rebuild_projections().unwrap(), 6);
    assert_eq!(s.households(&PlaceFilter::default()).unwrap(), households);
    assert_eq!(
        s.residents_with_tag("living_alone_elderly").unwrap(),
        tagged
    );
    assert_eq!(s.households_not_visited(30).unwrap(), stale);
}

#[test]
fn removed_residents_leave_the_lists() {
    let (mut s, ids) = small_grid();
    let rid = s.residents_with_tag("disabled").unwrap()[0]
        .resident_id
        .clone();
    s.remove_resident(&ids[3], &rid, None).unwrap();
    assert!(s.residents_with_tag("disabled").unwrap().is_empty());
    assert!(s.search_residents("李老伯").unwrap().is_empty());
}

/// `ids` of `src` as a pull page brings them whole, with their list rows
/// when `with_rows`.
fn whole_page(src: &mut Store, ids: &[String], with_rows: bool) -> Vec<gridsync_core::PulledDoc> {
    ids.iter()
        .map(|id| gridsync_core::PulledDoc {
            id: id.clone(),
            kind: "household".into(),
            scope: GRID.into(),
            data: src.export_doc(id).unwrap(),
            listing: if with_rows {
                src.listing(id).unwrap().map(|l| l.to_json())
            } else {
                None
            },
        })
        .collect()
}

/// A pulled page of whole documents is stored as it came and indexed on
/// the first list query: the lists equal those of the store it came from,
/// and a damaged or partial document takes the careful path.
#[test]
fn pulled_documents_are_listed_after_lazy_indexing() {
    let (mut src, ids) = small_grid();
    let page = whole_page(&mut src, &ids, false);
    let mut dst = store("supervisor");
    let before = dst.documents().unwrap().len();
    dst.apply_pulled(&page).unwrap();
    // Stored, not yet indexed: the background indexer finds them all.
    assert_eq!(dst.documents().unwrap().len(), before + ids.len());
    assert_eq!(dst.index_pending(2).unwrap(), 2);
    // Told to stop after the first document it decodes (a sync's answer
    // came in): that one is listed, the rest stays pending.
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let stop = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1;
    assert_eq!(dst.index_pending_until(100, &stop).unwrap(), 1);
    assert_eq!(dst.pending_index().unwrap().0, ids.len() - 3);
    // The rest is indexed by the first query, which sees every household.
    let all = |s: &Store| {
        s.households(&PlaceFilter::default())
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.residents, h.last_visit))
            .collect::<Vec<_>>()
    };
    assert_eq!(all(&dst), all(&src));
    assert_eq!(dst.index_pending(100).unwrap(), 0);
    assert_eq!(
        dst.residents_with_tag("living_alone_elderly")
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        dst.holder_coverage("holder-1", 30).unwrap(),
        src.holder_coverage("holder-1", 30).unwrap()
    );
    // Purging a stored-but-unindexed document leaves nothing behind.
    let mut other = store("supervisor-2");
    other.apply_pulled(&page[..1]).unwrap();
    other.purge(&[ids[0].clone()]).unwrap();
    assert_eq!(other.index_pending(100).unwrap(), 0);
    assert!(
        other
            .households(&PlaceFilter::default())
            .unwrap()
            .is_empty()
    );
    // A document that is not whole on its own (loose changes) is applied
    // and listed at once, not deferred.
    let changes = src.doc_changes(&ids[1]).unwrap().concat();
    let mut third = store("supervisor-3");
    third
        .apply_pulled(&[gridsync_core::PulledDoc {
            id: ids[1].clone(),
            kind: "household".into(),
            scope: GRID.into(),
            data: changes,
            listing: None,
        }])
        .unwrap();
    assert_eq!(third.index_pending(100).unwrap(), 0);
    assert_eq!(third.households(&PlaceFilter::default()).unwrap().len(), 1);
}

/// Whole documents pulled with the server's list rows are listed from
/// those rows, without decoding, and every list equals the source's. Rows
/// in a format this version does not know are not read: those documents
/// are indexed from their data as before.
#[test]
fn pulled_documents_with_their_rows_are_listed_without_decoding() {
    use gridsync_core::Listing;
    let (mut src, ids) = small_grid();
    let page = whole_page(&mut src, &ids, true);
    assert!(page.iter().all(|d| d.listing.is_some()));
    let mut dst = store("supervisor");
    dst.track_changes(true);
    dst.apply_pulled(&page).unwrap();
    assert_eq!(dst.pending_index().unwrap(), (ids.len(), ids.len()));
    // An app watching its lists hears of every document stored.
    let mut heard: Vec<String> = dst
        .take_changes()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    heard.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(heard, want);
    let lists = |s: &Store| {
        (
            s.households(&PlaceFilter::default()).unwrap(),
            s.residents_with_tag("living_alone_elderly").unwrap(),
            s.search_residents("王").unwrap(),
            s.households_not_visited(30).unwrap(),
            s.holder_coverage("holder-1", 30).unwrap(),
        )
    };
    assert_eq!(lists(&dst), lists(&src));
    assert!(!lists(&dst).0.is_empty());
    // The document itself is stored whole and reads as the source's.
    assert_eq!(
        dst.household(&ids[0]).unwrap(),
        src.household(&ids[0]).unwrap()
    );

    // Rows sent as JSON round-trip; another version's, or rows this
    // version cannot read, are not used: those documents are decoded.
    let json = page[0].listing.clone().unwrap();
    assert_eq!(Listing::from_json(&json), src.listing(&ids[0]).unwrap());
    let future = json.replacen("\"v\":1", "\"v\":2", 1);
    assert_ne!(future, json);
    assert_eq!(Listing::from_json(&future), None);
    assert_eq!(Listing::from_json("{\"v\":1,\"household\":{}}"), None);
    let mut odd = page.clone();
    odd[0].listing = Some(future);
    odd[1].listing = Some("{\"v\":1,\"household\":{}}".into());
    odd[2].listing = Some("not json".into());
    let mut third = store("supervisor-2");
    third.apply_pulled(&odd).unwrap();
    assert_eq!(lists(&third), lists(&src));

    // What is listed is the rows sent, not a decoding of the document.
    let mut sent = page.clone();
    let mut rows = Listing::from_json(sent[0].listing.as_deref().unwrap()).unwrap();
    rows.household.as_mut().unwrap().residents = 97;
    sent[0].listing = Some(rows.to_json());
    let mut fourth = store("supervisor-3");
    fourth.apply_pulled(&sent).unwrap();
    let row = fourth
        .households(&PlaceFilter::default())
        .unwrap()
        .into_iter()
        .find(|h| h.id == ids[0])
        .unwrap();
    assert_eq!(row.residents, 97);
    assert_eq!(fourth.pending_index().unwrap(), (0, 0));

    // All of a document's changes with its rows (the server had not yet
    // folded them into a snapshot): stored as they came, listed from the
    // rows, and the document reads whole.
    let mut changes = page.clone();
    for d in &mut changes {
        d.data = src.doc_changes(&d.id).unwrap().concat();
        assert!(!gridsync_core::doc::is_whole_document(&d.data));
    }
    let mut fifth = store("supervisor-4");
    fifth.apply_pulled(&changes).unwrap();
    assert_eq!(fifth.pending_index().unwrap(), (ids.len(), ids.len()));
    assert_eq!(lists(&fifth), lists(&src));
    for id in &ids {
        assert_eq!(fifth.household(id).unwrap(), src.household(id).unwrap());
        assert_eq!(fifth.heads(id).unwrap(), src.heads(id).unwrap());
    }
}

/// News for documents already here is kept as it came and listed by the
/// next query; many such pieces are folded into a snapshot when indexed,
/// and the document reads the same throughout.
#[test]
fn news_for_known_documents_is_listed_after_lazy_indexing() {
    let (mut src, ids) = small_grid();
    let mut dst = store("supervisor");
    let page = |id: &str, data: Vec<u8>| gridsync_core::PulledDoc {
        id: id.to_string(),
        kind: "household".into(),
        scope: GRID.into(),
        data,
        listing: None,
    };
    let whole = src.export_doc(&ids[3]).unwrap();
    dst.apply_pulled(&[page(&ids[3], whole)]).unwrap();
    let residents = |s: &Store| {
        s.households(&PlaceFilter::default())
            .unwrap()
            .into_iter()
            .find(|h| h.id == ids[3])
            .map(|h| h.residents)
    };
    assert_eq!(residents(&dst), Some(1));
    // Seventy changes arrive one page each, more than a snapshot folds in.
    for i in 0..70 {
        let before = src.heads(&ids[3]).unwrap();
        src.add_resident(&ids[3], resident(&format!("住户{i}"), "19900101", 20 + i))
            .unwrap();
        let changes = src.doc_changes(&ids[3]).unwrap();
        let news = changes[changes.len() - 1].clone();
        assert_ne!(before, src.heads(&ids[3]).unwrap());
        dst.apply_pulled(&[page(&ids[3], news)]).unwrap();
    }
    assert_eq!(residents(&dst), Some(71));
    assert_eq!(residents(&dst), residents(&src));
    assert_eq!(dst.index_pending(10).unwrap(), 0);
    assert_eq!(
        dst.household(&ids[3]).unwrap(),
        src.household(&ids[3]).unwrap()
    );
    assert_eq!(dst.heads(&ids[3]).unwrap(), src.heads(&ids[3]).unwrap());
}

/// A first sync brings more households than the phone lists (a
/// supervisor's phone): they are indexed in bulk, the lists' secondary
/// indexes dropped and built again around the rows in one transaction.
/// The lists equal those built a few documents at a time, the same
/// indexes stand after, and a bulk step that fails leaves the indexes and
/// the pending documents as they were.
#[test]
fn a_large_first_page_is_indexed_in_bulk_to_the_same_lists() {
    use gridsync_core::demo::{GridPlan, populate_households};
    let mut src = store("worker-1");
    let plan = GridPlan {
        households: 600,
        visits_per_household: 2,
        ..GridPlan::default()
    };
    let holders: Vec<String> = (0..5).map(|i| format!("holder-{i}")).collect();
    let ids = populate_households(&mut src, GRID, &plan, "worker-1", &holders, NOW, 7).unwrap();
    let page = whole_page(&mut src, &ids, true);
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let raw = |name: &str| rusqlite::Connection::open(path(name)).unwrap();
    let indexes = |name: &str| -> Vec<(String, String)> {
        raw(name)
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' ORDER BY name")
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let schema_version = |name: &str| -> i64 {
        raw(name)
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .unwrap()
    };
    let lists = |s: &Store| {
        (
            s.households(&PlaceFilter::default()).unwrap(),
            s.households_not_visited(30).unwrap(),
            s.households_not_contacted(30, None).unwrap(),
            s.residents_with_tag("living_alone_elderly").unwrap(),
            s.search_residents("张").unwrap(),
            s.holder_coverage("holder-1", 30).unwrap(),
        )
    };

    let mut careful = store_at(&path("careful.db"));
    let mut bulk = store_at(&path("bulk.db"));
    careful.apply_pulled(&page).unwrap();
    bulk.apply_pulled(&page).unwrap();
    let (standing, version) = (indexes("bulk.db"), schema_version("bulk.db"));
    assert!(standing.iter().any(|(n, _)| n == "p_residents_id_rev"));

    // A few at a time (a sync's steps): row by row, no index rebuilt.
    let careful_version = schema_version("careful.db");
    let mut done = 0;
    while let n @ 1.. = careful.index_pending(100).unwrap() {
        done += n;
    }
    assert_eq!(done, ids.len());
    assert_eq!(schema_version("careful.db"), careful_version);

    // All at once into empty lists: in bulk (the schema changed and is
    // back as it stood).
    assert_eq!(bulk.index_pending(usize::MAX).unwrap(), ids.len());
    assert!(schema_version("bulk.db") > version);
    assert_eq!(indexes("bulk.db"), standing);
    assert_eq!(lists(&bulk), lists(&careful));
    assert_eq!(lists(&bulk).0.len(), ids.len());
    assert!(!lists(&bulk).3.is_empty());

    // A bulk step that fails half way (a row already there) is undone
    // whole: the indexes stand, every document is still pending.
    let mut failing = store_at(&path("failing.db"));
    failing.apply_pulled(&page).unwrap();
    let last = ids.last().unwrap();
    let conflicting = "INSERT INTO p_households (doc_id, grid, area, compound, building, unit,
            room, address_key, residents) VALUES (?1, 'g', '', '', '', '', '', '', 0)";
    raw("failing.db").execute(conflicting, [last]).unwrap();
    assert!(failing.index_pending(usize::MAX).is_err());
    assert_eq!(indexes("failing.db"), standing);
    assert_eq!(failing.pending_index().unwrap().0, ids.len());
    raw("failing.db")
        .execute("DELETE FROM p_households WHERE doc_id = ?1", [last])
        .unwrap();
    assert_eq!(lists(&failing), lists(&careful));
}
