//! The storage conformance suite: every `DocStore` implementation must pass
//! it. `conformance!` instantiates it for one implementation.

use std::sync::Arc;

use gridsync_core::clock::Clock;
use gridsync_core::household::{NewHousehold, Place, Resident};
use gridsync_core::{OpenOptions, Store};
use gridsync_server::principal::{Principal, Role};
use gridsync_server::scope::Guard;
use gridsync_server::store::{DocStore, FeedCursor, IncomingChange, PullLimits};
use gridsync_server::sync::validate;

pub(crate) const G1: &str = "110105001001001";
pub(crate) const G2: &str = "110105001001002";

pub(crate) fn principal(role: Role, grids: &[&str]) -> Principal {
    Principal {
        user_id: format!("user-{}", role.code()),
        username: role.code().into(),
        role,
        device_id: Some("dev".into()),
        grids: grids.iter().map(|s| s.to_string()).collect(),
        subtree: matches!(role, Role::Supervisor).then(|| "110105001001".to_string()),
        department: None,
        post: None,
    }
}

/// A phone's author signed in as `principal(role, …)`.
pub(crate) fn signed_in(role: Role) -> gridsync_core::doc::Author {
    gridsync_core::doc::Author {
        user: principal(role, &[]).user_id,
        role: role.code().into(),
    }
}

pub(crate) fn guard(p: Principal) -> Box<Guard> {
    Box::new(Guard::new(p, validate::document))
}

/// Push `changes` as G1's grid worker.
pub(crate) async fn push_as_worker<S: DocStore + ?Sized>(
    store: &S,
    changes: Vec<IncomingChange>,
) -> gridsync_server::store::PushOutcome {
    store
        .push(
            changes,
            None,
            None,
            guard(principal(Role::GridWorker, &[G1])),
        )
        .await
        .unwrap()
}

/// [`push_as_worker`], every change accepted.
pub(crate) async fn worker_push(
    store: &dyn DocStore,
    changes: Vec<IncomingChange>,
) -> gridsync_server::store::PushOutcome {
    let out = push_as_worker(store, changes).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    out
}

/// A phone with grids G1 and G2 and `n` households in `grid`; returns its
/// outbox as incoming changes.
pub(crate) fn phone_with(
    grid: &str,
    n: usize,
    holder: Option<&str>,
) -> (Store, Vec<IncomingChange>) {
    let mut s = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(1_795_658_400_000),
        ..OpenOptions::default()
    })
    .unwrap();
    // The phone is signed in as the grid worker who pushes its changes.
    s.set_author(signed_in(Role::GridWorker)).unwrap();
    for code in [G1, G2] {
        s.create_grid(gridsync_core::grid::NewGrid {
            code: code.into(),
            name: "网格".into(),
            community: "社区".into(),
            street: "街道".into(),
        })
        .unwrap();
        s.add_place(code, "", "小区", "1号楼", "1单元").unwrap();
    }
    // The grid documents themselves are not pushed here (they are the
    // server's); only households.
    let before: Vec<i64> = s.outbox(10_000).unwrap().iter().map(|e| e.seq).collect();
    for i in 0..n {
        let h = s
            .create_household(NewHousehold {
                grid: grid.into(),
                place: Place {
                    compound: "小区".into(),
                    building: "1号楼".into(),
                    unit: "1单元".into(),
                    room: format!("{i}"),
                    ..Place::default()
                },
                holder: holder.map(String::from),
                residents: vec![Resident::named("张三")],
                ..NewHousehold::default()
            })
            .unwrap();
        s.add_resident(&h, Resident::named("李四")).unwrap();
    }
    let out = s
        .outbox(100_000)
        .unwrap()
        .into_iter()
        .filter(|e| !before.contains(&e.seq))
        .map(|e| IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect();
    (s, out)
}

/// The changes `phone` made after its outbox held `before` entries.
pub(crate) fn outbox_after(phone: &Store, before: usize) -> Vec<IncomingChange> {
    phone
        .outbox(100_000)
        .unwrap()
        .into_iter()
        .skip(before)
        .map(|e| IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect()
}

pub(crate) fn feed(name: &str, cursor: i64) -> FeedCursor {
    FeedCursor {
        feed: name.into(),
        at: gridsync_server::store::Position::at(cursor),
    }
}

pub(crate) async fn pull_all(
    store: &dyn DocStore,
    feeds: Vec<FeedCursor>,
    limits: PullLimits,
) -> (usize, Vec<FeedCursor>, usize) {
    let mut cursors = feeds;
    let mut docs = 0;
    let mut pages = 0;
    loop {
        let page = store.pull(cursors.clone(), limits, None).await.unwrap();
        docs += page.docs.len();
        pages += 1;
        cursors = page.cursors;
        if !page.more {
            return (docs, cursors, pages);
        }
        assert!(pages < 1000, "pull does not end");
    }
}

/// The suite, as async functions over any store.
pub(crate) mod suite {
    use super::*;

    pub(crate) async fn push_then_pull_roundtrip(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G1, 5, None);
        let n = changes.len();
        let out = store
            .push(
                changes,
                Some("u".into()),
                Some("d".into()),
                guard(principal(Role::GridWorker, &[G1])),
            )
            .await
            .unwrap();
        assert_eq!(out.stored, n);
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 5);
        assert!(!page.more);
        assert_eq!(page.cursors[0].at.cursor, store.max_seq().await.unwrap());
        // Every document loads and is whole.
        for d in &page.docs {
            let doc = automerge::Automerge::load(&d.data).unwrap();
            let h: gridsync_core::household::Household =
                gridsync_core::doc::read(&doc, None).unwrap();
            assert_eq!(h.residents.len(), 2);
            assert_eq!(d.scope, G1);
        }
        // Nothing new after the cursor.
        let again = store
            .pull(page.cursors.clone(), PullLimits::default(), None)
            .await
            .unwrap();
        assert!(again.docs.is_empty());
    }

    pub(crate) async fn pushing_twice_stores_once(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G1, 3, None);
        let n = changes.len();
        let first = push_as_worker(&*store, changes.clone()).await;
        let max = store.max_seq().await.unwrap();
        let second = push_as_worker(&*store, changes).await;
        assert_eq!(first.stored, n);
        assert_eq!(second.stored, 0);
        assert_eq!(second.duplicates, n);
        assert_eq!(store.max_seq().await.unwrap(), max);
    }

    /// A document forked from another shares its first changes: each
    /// document's log holds them (a pull of the fork alone is whole).
    pub(crate) async fn changes_shared_by_two_documents_are_kept_for_each(
        store: Arc<dyn DocStore>,
    ) {
        use automerge::ReadDoc;
        use automerge::transaction::Transactable;
        let (mut phone, changes) = phone_with(G1, 1, None);
        let original = changes[0].doc_id.clone();
        let first = push_as_worker(&*store, changes.clone()).await;
        assert_eq!(first.stored, changes.len());
        let fork_id = uuid::Uuid::now_v7().to_string();
        let mut fork = automerge::Automerge::load(&phone.export_doc(&original).unwrap()).unwrap();
        fork.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| {
                automerge::transaction::CommitOptions::default()
                    .with_message(r#"{"by":"user-grid_worker","op":"fork"}"#)
            },
            |tx| {
                tx.put(automerge::ROOT, "id", fork_id.as_str())?;
                Ok(())
            },
        )
        .unwrap();
        let pushed: Vec<IncomingChange> = fork
            .get_changes(&[])
            .iter()
            .map(|c| IncomingChange {
                doc_id: fork_id.clone(),
                data: c.raw_bytes().to_vec(),
            })
            .collect();
        let second = push_as_worker(&*store, pushed.clone()).await;
        assert!(second.rejected.is_empty(), "{:?}", second.rejected);
        assert_eq!(second.stored, pushed.len());
        assert_eq!(second.duplicates, 0);
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        let pulled = page.docs.iter().find(|d| d.id == fork_id).unwrap();
        let doc = automerge::Automerge::load(&pulled.data).unwrap();
        assert!(doc.get_missing_deps(&[]).is_empty());
        assert_eq!(doc.get_heads(), fork.get_heads());
        let h: gridsync_core::household::Household = gridsync_core::doc::read(&doc, None).unwrap();
        assert_eq!(h.id, fork_id);
        assert_eq!(h.residents.len(), 2);
    }

    pub(crate) async fn refused_changes_are_stored_nowhere(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G2, 2, None);
        let out = push_as_worker(&*store, changes).await;
        assert_eq!(out.stored, 0);
        assert_eq!(out.rejected.len(), 4);
        assert!(
            out.rejected
                .iter()
                .any(|r| r.refusal.code == "out_of_scope")
        );
        assert_eq!(store.max_seq().await.unwrap(), 0);
        let page = store
            .pull(
                vec![feed(&format!("g:{G2}"), 0)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert!(page.docs.is_empty());
    }

    pub(crate) async fn pages_are_bounded_and_resumable(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G1, 25, None);
        push_as_worker(&*store, changes).await;
        let limits = PullLimits {
            max_docs: 7,
            max_bytes: 1 << 20,
        };
        let (docs, cursors, pages) =
            pull_all(store.as_ref(), vec![feed(&format!("g:{G1}"), 0)], limits).await;
        assert_eq!(docs, 25);
        assert_eq!(pages, 4);
        // Byte-bounded pages, too.
        let tiny = PullLimits {
            max_docs: 1000,
            max_bytes: 1,
        };
        let (docs, _, pages) =
            pull_all(store.as_ref(), vec![feed(&format!("g:{G1}"), 0)], tiny).await;
        assert_eq!(docs, 25);
        assert_eq!(
            pages, 25,
            "one document per page when each exceeds the byte bound"
        );
        assert_eq!(cursors[0].at.cursor, store.max_seq().await.unwrap());
    }

    pub(crate) async fn incremental_pull_sends_changes_after_cursor(store: Arc<dyn DocStore>) {
        let (mut phone, changes) = phone_with(G1, 2, None);
        push_as_worker(&*store, changes).await;
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        let cursor = page.cursors[0].at.cursor;
        let h = phone.households(&Default::default()).unwrap()[0].id.clone();
        let before = phone.outbox(10_000).unwrap().len();
        phone.add_resident(&h, Resident::named("王五")).unwrap();
        let new = outbox_after(&phone, before);
        assert_eq!(new.len(), 1);
        let change_len = new[0].data.len();
        push_as_worker(&*store, new).await;
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), cursor)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.docs[0].id, h);
        assert_eq!(
            page.docs[0].data.len(),
            change_len,
            "only the new change, not the document"
        );
    }

    pub(crate) async fn holder_feed_and_departures(store: Arc<dyn DocStore>) {
        let (mut phone, changes) = phone_with(G1, 1, Some("holder-1"));
        push_as_worker(&*store, changes).await;
        let holder_feed = feed("h:holder-1", 0);
        let page = store
            .pull(vec![holder_feed.clone()], PullLimits::default(), None)
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 1);
        let cursor = page.cursors[0].clone();
        // The grid worker hands the household to another holder.
        let h = page.docs[0].id.clone();
        let before = phone.outbox(10_000).unwrap().len();
        phone
            .edit_household(&h, |f| f.holder = Some("holder-2".into()))
            .unwrap();
        let new = outbox_after(&phone, before);
        push_as_worker(&*store, new).await;
        let page = store
            .pull(vec![cursor], PullLimits::default(), None)
            .await
            .unwrap();
        assert!(page.docs.is_empty());
        assert_eq!(page.departures, vec![("h:holder-1".to_string(), h.clone())]);
        let page = store
            .pull(vec![feed("h:holder-2", 0)], PullLimits::default(), None)
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 1);
        assert_eq!(
            store.facts(&h).await.unwrap().unwrap().holder.as_deref(),
            Some("holder-2")
        );
    }

    pub(crate) async fn supervisor_moves_household_worker_cannot(store: Arc<dyn DocStore>) {
        let (mut phone, changes) = phone_with(G1, 1, None);
        push_as_worker(&*store, changes).await;
        let h = phone.households(&Default::default()).unwrap()[0].id.clone();
        // Moving the household, once on a grid worker's phone, once on a
        // supervisor's.
        let saved = phone.export_doc(&h).unwrap();
        let before = phone.outbox(10_000).unwrap().len();
        phone.move_household(&h, G2).unwrap();
        let new = outbox_after(&phone, before);
        let refused = store
            .push(
                new.clone(),
                None,
                None,
                guard(principal(Role::GridWorker, &[G1, G2])),
            )
            .await
            .unwrap();
        assert_eq!(refused.rejected.len(), 1);
        assert_eq!(refused.rejected[0].refusal.code, "role_forbids");
        let mut office = Store::open_in_memory(OpenOptions {
            clock: Clock::Fixed(1_795_658_400_000),
            ..OpenOptions::default()
        })
        .unwrap();
        office.set_author(signed_in(Role::Supervisor)).unwrap();
        for code in [G1, G2] {
            let grid = phone.grid(code).unwrap().id;
            let bytes = phone.export_doc(&grid).unwrap();
            office.apply_remote(&grid, &[bytes]).unwrap();
        }
        office.apply_remote(&h, &[saved]).unwrap();
        let before = office.outbox(10_000).unwrap().len();
        office.move_household(&h, G2).unwrap();
        let new = outbox_after(&office, before);
        let ok = store
            .push(new, None, None, guard(principal(Role::Supervisor, &[])))
            .await
            .unwrap();
        assert_eq!(ok.stored, 1);
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0), feed(&format!("g:{G2}"), 0)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.docs[0].scope, G2);
    }

    pub(crate) async fn own_changes_are_not_echoed(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G1, 3, None);
        store
            .push(
                changes,
                None,
                Some("d1".into()),
                guard(principal(Role::GridWorker, &[G1])),
            )
            .await
            .unwrap();
        let mine = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0)],
                PullLimits::default(),
                Some("d1".into()),
            )
            .await
            .unwrap();
        assert!(mine.docs.is_empty(), "the pushing device gets nothing back");
        assert_eq!(
            mine.cursors[0].at.cursor,
            store.max_seq().await.unwrap(),
            "but its cursor moves on"
        );
        let other = store
            .pull(
                vec![feed(&format!("g:{G1}"), 0)],
                PullLimits::default(),
                Some("d2".into()),
            )
            .await
            .unwrap();
        assert_eq!(other.docs.len(), 3);
    }

    /// Documents a pull passes over (the device's own changes are all
    /// there is) take no room on the page: a phone that pushed more
    /// documents than its page holds is answered with `more: false`, not
    /// asked back for an empty page, and still gets the news after them.
    pub(crate) async fn passed_over_documents_take_no_room(store: Arc<dyn DocStore>) {
        let (mut a, first) = phone_with(G1, 30, None);
        let worker = || guard(principal(Role::GridWorker, &[G1]));
        store
            .push(first, None, Some("d1".into()), worker())
            .await
            .unwrap();
        let limits = PullLimits {
            max_docs: 5,
            ..PullLimits::default()
        };
        let pull = |device: &'static str| {
            let store = store.clone();
            async move {
                store
                    .pull(
                        vec![feed(&format!("g:{G1}"), 0)],
                        limits,
                        Some(device.into()),
                    )
                    .await
                    .unwrap()
            }
        };
        let mine = pull("d1").await;
        assert!(mine.docs.is_empty(), "its own 30 documents are not sent");
        assert!(!mine.more, "and take no room: nothing more to ask for");
        assert_eq!(mine.cursors[0].at.cursor, store.max_seq().await.unwrap());
        assert_eq!(mine.cursors[0].at.base, store.max_seq().await.unwrap());
        // Another device's change after the 30 comes on the same page.
        let id = a.households(&Default::default()).unwrap()[7].id.clone();
        let before = a.outbox(10_000).unwrap().len();
        a.add_resident(&id, Resident::named("后来")).unwrap();
        store
            .push(outbox_after(&a, before), None, Some("d2".into()), worker())
            .await
            .unwrap();
        let news = pull("d1").await;
        assert_eq!(news.docs.len(), 1);
        assert_eq!(news.docs[0].id, id);
        assert!(!news.more);
        // For another device the page still holds five.
        let other = pull("d3").await;
        assert_eq!(other.docs.len(), 5);
        assert!(other.more);
    }

    /// The echo check follows who wrote what, whatever the order: a device
    /// gets a document back exactly when a change it lacks is not its own.
    pub(crate) async fn echo_follows_interleaved_writers(store: Arc<dyn DocStore>) {
        let (mut a, first) = phone_with(G1, 1, None);
        let id = a.households(&Default::default()).unwrap()[0].id.clone();
        let worker = || guard(principal(Role::GridWorker, &[G1]));
        let push = |changes, device: Option<&str>| {
            let store = store.clone();
            let device = device.map(String::from);
            async move {
                store.push(changes, None, device, worker()).await.unwrap();
                store.max_seq().await.unwrap()
            }
        };
        let edit = |a: &mut gridsync_core::store::Store| {
            let before = a.outbox(10_000).unwrap().len();
            a.add_resident(&id, Resident::named("后来")).unwrap();
            outbox_after(a, before)
        };
        let by_d1 = push(first, Some("d1")).await;
        let by_d2 = push(edit(&mut a), Some("d2")).await;
        let by_d1_again = push(edit(&mut a), Some("d1")).await;
        let docs_for = |device: &'static str, cursor: i64| {
            let store = store.clone();
            async move {
                store
                    .pull(
                        vec![feed(&format!("g:{G1}"), cursor)],
                        PullLimits::default(),
                        Some(device.into()),
                    )
                    .await
                    .unwrap()
                    .docs
                    .len()
            }
        };
        assert_eq!(docs_for("d1", 0).await, 1, "d2's change is news to d1");
        assert_eq!(docs_for("d1", by_d1).await, 1, "d2's change is news to d1");
        assert_eq!(
            docs_for("d1", by_d2).await,
            0,
            "only d1's own change is left"
        );
        assert_eq!(docs_for("d1", by_d1_again).await, 0, "nothing new");
        assert_eq!(
            docs_for("d2", by_d2).await,
            1,
            "d1's last change is news to d2"
        );
        assert_eq!(
            docs_for("d3", by_d1_again - 1).await,
            1,
            "everything is news to d3"
        );
        // A change the server writes (no device) is news to every device.
        push(edit(&mut a), None).await;
        assert_eq!(docs_for("d1", by_d1_again).await, 1);
        assert_eq!(docs_for("d2", by_d1_again).await, 1);
    }

    /// A page cut short leaves `base` behind `cursor`. A document further
    /// on whose newest change is the pulling device's own, but which has
    /// another device's change after `base` that the device was never sent,
    /// must still be sent: what is "only the device's own" counts from
    /// `base`, not from `cursor`. (The SQLite store counted from `cursor`
    /// and skipped it, so the other device's change never arrived.)
    pub(crate) async fn echo_suppression_counts_from_base(store: Arc<dyn DocStore>) {
        let (mut a, first) = phone_with(G1, 3, None);
        let ids: Vec<String> = a
            .households(&Default::default())
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        let worker = || guard(principal(Role::GridWorker, &[G1]));
        let mut edit = |id: &str, device: &'static str| {
            let before = a.outbox(10_000).unwrap().len();
            a.add_resident(id, Resident::named("后来")).unwrap();
            (outbox_after(&a, before), device)
        };
        let edits = [
            edit(&ids[0], "e"), // another device's change to A: d lacks it
            edit(&ids[1], "e"), // B
            edit(&ids[0], "d"), // d's own, newest change to A
            edit(&ids[2], "e"), // C
        ];
        store
            .push(first, None, Some("e".into()), worker())
            .await
            .unwrap();
        let seen = store.max_seq().await.unwrap();
        for (changes, device) in edits {
            store
                .push(changes, None, Some(device.into()), worker())
                .await
                .unwrap();
        }
        // d had everything up to `seen`; it pulls one document per page.
        let limits = PullLimits {
            max_docs: 1,
            ..PullLimits::default()
        };
        let mut cursors = vec![feed(&format!("g:{G1}"), seen)];
        let mut sent = Vec::new();
        loop {
            let page = store
                .pull(cursors.clone(), limits, Some("d".into()))
                .await
                .unwrap();
            sent.extend(page.docs.into_iter().map(|d| d.id));
            cursors = page.cursors;
            if !page.more {
                break;
            }
        }
        assert!(
            sent.contains(&ids[0]),
            "A carries e's change d lacks: {sent:?}"
        );
        assert!(sent.contains(&ids[1]) && sent.contains(&ids[2]), "{sent:?}");
    }

    pub(crate) async fn paged_pull_delivers_whole_documents(store: Arc<dyn DocStore>) {
        // Documents recorded by two phones, interleaved in the log, so a
        // document's latest change comes after others' earlier pages.
        let (mut a, first) = phone_with(G1, 3, None);
        push_as_worker(&*store, first).await;
        let ids: Vec<String> = a
            .households(&Default::default())
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        for id in &ids {
            let before = a.outbox(10_000).unwrap().len();
            a.add_resident(id, Resident::named("后来")).unwrap();
            let new = outbox_after(&a, before);
            push_as_worker(&*store, new).await;
        }
        let limits = PullLimits {
            max_docs: 1,
            max_bytes: 1 << 20,
        };
        let mut cursors = vec![feed(&format!("g:{G1}"), 0)];
        let mut docs: std::collections::HashMap<String, automerge::Automerge> = Default::default();
        loop {
            let page = store.pull(cursors.clone(), limits, None).await.unwrap();
            for d in page.docs {
                docs.entry(d.id)
                    .or_default()
                    .load_incremental(&d.data)
                    .unwrap();
            }
            cursors = page.cursors;
            if !page.more {
                break;
            }
        }
        assert_eq!(docs.len(), 3);
        for (_, d) in docs {
            assert!(
                automerge::ReadDoc::get_missing_deps(&d, &[]).is_empty(),
                "a document arrived incomplete"
            );
            let h: gridsync_core::household::Household =
                gridsync_core::doc::read(&d, None).unwrap();
            assert_eq!(h.residents.len(), 3);
        }
    }

    pub(crate) async fn a_cursor_past_the_end_starts_over(store: Arc<dyn DocStore>) {
        // As after restoring an older backup: the device is ahead of the log.
        let (_, changes) = phone_with(G1, 2, None);
        push_as_worker(&*store, changes).await;
        let ahead = store.max_seq().await.unwrap() + 100;
        let page = store
            .pull(
                vec![feed(&format!("g:{G1}"), ahead)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.docs.len(), 2, "everything is sent again");
        assert_eq!(page.cursors[0].at.cursor, store.max_seq().await.unwrap());
    }

    pub(crate) async fn garbage_changes_are_refused(store: Arc<dyn DocStore>) {
        let bad = vec![
            IncomingChange {
                doc_id: "not-a-uuid".into(),
                data: vec![1, 2, 3],
            },
            IncomingChange {
                doc_id: uuid::Uuid::now_v7().to_string(),
                data: b"garbage".to_vec(),
            },
        ];
        let out = store
            .push(bad, None, None, guard(principal(Role::Admin, &[])))
            .await
            .unwrap();
        assert_eq!(out.rejected.len(), 2);
        assert!(
            out.rejected
                .iter()
                .all(|r| r.refusal.code == "invalid_change")
        );
        assert_eq!(store.max_seq().await.unwrap(), 0);
    }

    /// The log's mark: where it ends and the change there, under a
    /// generation. A device that shows a mark the log no longer holds (a
    /// restore from an older backup) renews the generation once; every
    /// device that heard from the old one is then told too.
    pub(crate) async fn the_pusher_of_each_change_is_recorded(store: Arc<dyn DocStore>) {
        let (_, changes) = phone_with(G1, 1, None);
        let doc = changes[0].doc_id.clone();
        let hashes: std::collections::BTreeSet<String> = changes
            .iter()
            .map(|c| {
                automerge::Change::from_bytes(c.data.clone())
                    .unwrap()
                    .hash()
                    .to_string()
            })
            .collect();
        let outcome = store
            .push(
                changes,
                Some("user-grid_worker".into()),
                Some("dev".into()),
                guard(principal(Role::GridWorker, &[G1])),
            )
            .await
            .unwrap();
        assert!(outcome.rejected.is_empty());
        let pushers = store.pushers(&doc).await.unwrap();
        let got: std::collections::BTreeSet<String> =
            pushers.iter().map(|(h, _)| h.clone()).collect();
        assert_eq!(got, hashes);
        assert!(pushers.iter().all(|(_, u)| u == "user-grid_worker"));
        assert!(store.pushers("no-such-doc").await.unwrap().is_empty());
    }

    pub(crate) async fn a_log_that_lost_changes_is_told_by_its_mark(store: Arc<dyn DocStore>) {
        use gridsync_server::store::{LogMark, log_lost};
        let empty = store.log_mark().await.unwrap();
        assert_eq!((empty.end, empty.tip.as_str()), (0, ""));
        assert_eq!(empty.generation.len(), 32);
        let (_phone, changes) = phone_with(G1, 2, None);
        push_as_worker(&*store, changes).await;
        let mark = store.log_mark().await.unwrap();
        assert_eq!(mark.generation, empty.generation);
        assert_eq!(mark.end, store.max_seq().await.unwrap());
        assert_eq!(
            store.change_at(mark.end).await.unwrap(),
            Some(mark.tip.clone())
        );
        assert_eq!(store.change_at(mark.end + 1).await.unwrap(), None);
        assert!(!log_lost(store.as_ref(), &mark).await.unwrap());
        assert!(!log_lost(store.as_ref(), &empty).await.unwrap());
        // No generation: a device from before generations, nothing known.
        assert!(!log_lost(store.as_ref(), &LogMark::default()).await.unwrap());
        // A mark past the end, or another change at it: changes were lost.
        let ahead = LogMark {
            end: mark.end + 3,
            ..mark.clone()
        };
        assert!(log_lost(store.as_ref(), &ahead).await.unwrap());
        let renewed = store.log_mark().await.unwrap().generation;
        assert_ne!(renewed, mark.generation);
        // Every device of the old generation is told, with no new renewal.
        assert!(log_lost(store.as_ref(), &mark).await.unwrap());
        let other = LogMark {
            tip: "00".repeat(32),
            ..mark.clone()
        };
        assert!(log_lost(store.as_ref(), &other).await.unwrap());
        assert_eq!(store.log_mark().await.unwrap().generation, renewed);
        // Renewing from a stale generation changes nothing.
        assert_eq!(
            store.renew_generation(&mark.generation).await.unwrap(),
            renewed
        );
    }

    /// Eight devices edit the same household at once and push together:
    /// pushes that decided on a version another push replaced meanwhile
    /// decide again, so every edit lands and none is lost.
    pub(crate) async fn concurrent_pushes_to_one_document_all_land(store: Arc<dyn DocStore>) {
        let (phone, changes) = phone_with(G1, 1, None);
        let id = changes[0].doc_id.clone();
        push_as_worker(&*store, changes).await;
        let mut whole = phone;
        let saved = whole.export_doc(&id).unwrap();
        let mut tasks = Vec::new();
        let mut edits = Vec::new();
        for i in 0..8 {
            let mut fork = Store::open_in_memory(OpenOptions {
                clock: Clock::Fixed(1_795_658_400_000),
                ..OpenOptions::default()
            })
            .unwrap();
            fork.set_author(signed_in(Role::GridWorker)).unwrap();
            fork.apply_remote(&id, std::slice::from_ref(&saved))
                .unwrap();
            let before = fork.outbox(10_000).unwrap().len();
            fork.add_resident(&id, Resident::named(format!("住户{i}")))
                .unwrap();
            let new = outbox_after(&fork, before);
            assert_eq!(new.len(), 1);
            edits.push(new);
        }
        // All at once, so pushes decide on the same version.
        let start = Arc::new(tokio::sync::Barrier::new(edits.len()));
        for new in edits {
            let (store, start) = (store.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                push_as_worker(&*store, new).await
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += t.await.unwrap().stored;
        }
        assert_eq!(stored, 8);
        let doc = automerge::Automerge::load(&store.load(&id).await.unwrap().unwrap()).unwrap();
        let h: gridsync_core::household::Household = gridsync_core::doc::read(&doc, None).unwrap();
        assert_eq!(h.current_residents().count(), 2 + 8);
    }

    /// `documents` reads what `load` reads, each at its latest version,
    /// in the order asked, leaving out ids the server does not have; a
    /// document just pushed (still in the store's cache) and one compacted
    /// since alike.
    pub(crate) async fn documents_are_read_as_loaded(store: Arc<dyn DocStore>) {
        let (mut phone, changes) = phone_with(G1, 3, None);
        let mut ids: Vec<String> = changes.iter().map(|c| c.doc_id.clone()).collect();
        ids.sort();
        ids.dedup();
        worker_push(store.as_ref(), changes).await;
        // One more change to the second: its latest version is asked for.
        let before = phone.outbox(100_000).unwrap().len();
        phone
            .add_resident(&ids[1], Resident::named("王五"))
            .unwrap();
        let more = outbox_after(&phone, before);
        worker_push(store.as_ref(), more).await;
        let asked = vec![
            ids[2].clone(),
            "01a246bf-0000-7000-8000-000000000000".to_string(),
            ids[0].clone(),
            ids[1].clone(),
        ];
        let got = store.documents(asked).await.unwrap();
        let got_ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got_ids, [ids[2].as_str(), ids[0].as_str(), ids[1].as_str()]);
        for (id, doc) in &got {
            let loaded =
                automerge::Automerge::load(&store.load(id).await.unwrap().unwrap()).unwrap();
            let mut want = phone.heads(id).unwrap();
            want.sort();
            for d in [doc, &loaded] {
                let mut heads = gridsync_core::doc::heads_hex(&d.get_heads());
                heads.sort();
                assert_eq!(heads, want, "{id}");
            }
            assert_eq!(
                gridsync_core::doc::to_json(doc, None),
                gridsync_core::doc::to_json(&loaded, None)
            );
        }
        assert!(store.documents(Vec::new()).await.unwrap().is_empty());
    }

    /// A grid's push leaves each of its documents with a few loose
    /// changes; they are folded into snapshots after the answer, in the
    /// background, more documents than one batch of it holds, and every
    /// document stays what the phone has.
    pub(crate) async fn a_grids_push_is_compacted_in_the_background(store: Arc<dyn DocStore>) {
        let (mut phone, mut changes) = phone_with(G1, 250, None);
        let ids: Vec<String> = {
            let mut ids: Vec<String> = changes.iter().map(|c| c.doc_id.clone()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        assert_eq!(ids.len(), 250);
        // Two changes each so far; two more residents make four.
        let before = phone.outbox(100_000).unwrap().len();
        for id in &ids {
            for name in ["王五", "赵六"] {
                phone.add_resident(id, Resident::named(name)).unwrap();
            }
        }
        changes.extend(outbox_after(&phone, before));
        let out = worker_push(store.as_ref(), changes).await;
        assert_eq!(out.stored, 250 * 4);
        // A pulled document is its snapshot followed by its loose changes,
        // each a chunk that starts with Automerge's magic bytes.
        let chunks = |bytes: &[u8]| {
            bytes
                .windows(4)
                .filter(|w| *w == [0x85, 0x6f, 0x4a, 0x83])
                .count()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let page = store
                .pull(
                    vec![feed(&format!("g:{G1}"), 0)],
                    PullLimits {
                        max_docs: 1000,
                        max_bytes: 64 << 20,
                    },
                    None,
                )
                .await
                .unwrap();
            assert_eq!(page.docs.len(), 250);
            let loose = page.docs.iter().filter(|d| chunks(&d.data) > 1).count();
            if loose == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{loose} of 250 documents not compacted after 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        for id in &ids {
            let stored =
                automerge::Automerge::load(&store.load(id).await.unwrap().unwrap()).unwrap();
            let mut got = gridsync_core::doc::heads_hex(&stored.get_heads());
            got.sort();
            let mut heads = phone.heads(id).unwrap();
            heads.sort();
            assert_eq!(got, heads);
            let h: gridsync_core::household::Household =
                gridsync_core::doc::read(&stored, None).unwrap();
            assert_eq!(h.current_residents().count(), 4);
        }
    }

    /// A push that leaves a document with many loose changes folds them
    /// into a snapshot in the same transaction; a later push adds loose
    /// changes after that snapshot, and another replaces it. At each step
    /// the stored document and a fresh pull of it are the phone's.
    pub(crate) async fn a_document_compacted_by_its_push_stays_whole(store: Arc<dyn DocStore>) {
        let (mut phone, mut changes) = phone_with(G1, 1, None);
        let id = changes[0].doc_id.clone();
        let push = |changes: Vec<IncomingChange>| {
            let store = store.clone();
            async move {
                let out = push_as_worker(&*store, changes).await;
                assert!(out.rejected.is_empty(), "{:?}", out.rejected);
                out.stored
            }
        };
        // Each step's edits (40 pass the threshold of a snapshot), pushed
        // at once.
        for (step, edits) in [40, 3, 40].into_iter().enumerate() {
            let before = phone.outbox(100_000).unwrap().len();
            for i in 0..edits {
                phone
                    .add_resident(&id, Resident::named(format!("住户{step}-{i}")))
                    .unwrap();
            }
            changes.extend(outbox_after(&phone, before));
            let n = changes.len();
            assert_eq!(push(std::mem::take(&mut changes)).await, n);
            let mut heads = phone.heads(&id).unwrap();
            heads.sort();
            let stored =
                automerge::Automerge::load(&store.load(&id).await.unwrap().unwrap()).unwrap();
            let mut got = gridsync_core::doc::heads_hex(&stored.get_heads());
            got.sort();
            assert_eq!(got, heads, "stored document after step {step}");
            let page = store
                .pull(
                    vec![feed(&format!("g:{G1}"), 0)],
                    PullLimits::default(),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(page.docs.len(), 1);
            let pulled = automerge::Automerge::load(&page.docs[0].data).unwrap();
            let mut got = gridsync_core::doc::heads_hex(&pulled.get_heads());
            got.sort();
            assert_eq!(got, heads, "pulled document after step {step}");
            let h: gridsync_core::household::Household =
                gridsync_core::doc::read(&pulled, None).unwrap();
            assert_eq!(h.residents.len(), 2 + [40, 43, 83][step]);
        }
    }

    /// A document pulled whole carries the list rows validation derived
    /// from its latest version, the rows the phone derives itself; sent as
    /// changes after the device's base it carries none; and rows left
    /// behind their document (a write that derived none) are never sent.
    pub(crate) async fn a_pulled_document_carries_its_current_list_rows(store: Arc<dyn DocStore>) {
        use gridsync_core::Listing;
        use gridsync_server::store::{DocFacts, Refusal, WriteGuard};

        /// Validation as usual, the list rows dropped.
        struct Rowless(Box<Guard>);
        impl WriteGuard for Rowless {
            fn admit(&self, change: &automerge::Change) -> Result<String, Refusal> {
                self.0.admit(change)
            }
            fn check(
                &self,
                doc_id: &str,
                before: Option<&DocFacts>,
                before_doc: &automerge::Automerge,
                after: &automerge::Automerge,
                ops: &[String],
                changes: &[&[u8]],
            ) -> Result<DocFacts, Refusal> {
                let mut facts = self
                    .0
                    .check(doc_id, before, before_doc, after, ops, changes)?;
                assert!(facts.listing.is_some(), "validation derives the rows");
                facts.listing = None;
                Ok(facts)
            }
        }
        let worker = || guard(principal(Role::GridWorker, &[G1]));
        let (mut phone, changes) = phone_with(G1, 2, None);
        let ids: Vec<String> = {
            let mut ids: Vec<String> = changes.iter().map(|c| c.doc_id.clone()).collect();
            ids.dedup();
            ids
        };
        assert_eq!(ids.len(), 2);
        store.push(changes, None, None, worker()).await.unwrap();
        let listings = |page: &gridsync_server::store::PullPage| {
            page.docs
                .iter()
                .map(|d| {
                    let l = d.listing.as_ref().map(|l| {
                        Listing::from_json(std::str::from_utf8(l).unwrap()).expect("readable rows")
                    });
                    (d.id.clone(), l)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let whole = |store: Arc<dyn DocStore>| async move {
            store
                .pull(
                    vec![feed(&format!("g:{G1}"), 0)],
                    PullLimits::default(),
                    None,
                )
                .await
                .unwrap()
        };
        let first = whole(store.clone()).await;
        let got = listings(&first);
        for id in &ids {
            let want = phone.listing(id).unwrap().unwrap();
            assert_eq!(got[id].as_ref(), Some(&want), "rows of {id}");
            assert_eq!(want.household.as_ref().unwrap().people.len(), 2);
        }
        let end = store.max_seq().await.unwrap();

        // A resident added: the rows follow; pulled as changes after the
        // device's base, the document comes without them.
        let before = phone.outbox(100_000).unwrap().len();
        phone
            .add_resident(&ids[0], Resident::named("王五"))
            .unwrap();
        store
            .push(outbox_after(&phone, before), None, None, worker())
            .await
            .unwrap();
        let got = listings(&whole(store.clone()).await);
        assert_eq!(got[&ids[0]], phone.listing(&ids[0]).unwrap());
        assert_eq!(
            got[&ids[0]]
                .as_ref()
                .unwrap()
                .household
                .as_ref()
                .unwrap()
                .people
                .len(),
            3
        );
        let news = store
            .pull(
                vec![feed(&format!("g:{G1}"), end)],
                PullLimits::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(news.docs.len(), 1);
        assert_eq!(news.docs[0].listing, None);

        // A write that derived no rows: the old rows are behind the
        // document now, and are not sent; the other document's still are.
        let before = phone.outbox(100_000).unwrap().len();
        phone
            .add_resident(&ids[0], Resident::named("赵六"))
            .unwrap();
        let out = store
            .push(
                outbox_after(&phone, before),
                None,
                None,
                Box::new(Rowless(worker())),
            )
            .await
            .unwrap();
        assert_eq!(out.stored, 1);
        let got = listings(&whole(store.clone()).await);
        assert_eq!(got[&ids[0]], None, "stale rows are never sent");
        assert_eq!(got[&ids[1]], phone.listing(&ids[1]).unwrap());
    }

    pub(crate) async fn concurrent_pushes_keep_the_log_whole(store: Arc<dyn DocStore>) {
        let mut tasks = Vec::new();
        let mut total = 0;
        for _ in 0..8 {
            let (_, changes) = phone_with(G1, 4, None);
            total += changes.len();
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                push_as_worker(&*store, changes).await
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += t.await.unwrap().stored;
        }
        assert_eq!(stored, total);
        assert_eq!(
            store.max_seq().await.unwrap() as usize,
            total,
            "sequence numbers are gap-free"
        );
        let (docs, _, _) = pull_all(
            store.as_ref(),
            vec![feed(&format!("g:{G1}"), 0)],
            PullLimits::default(),
        )
        .await;
        assert_eq!(docs, 32);
    }
}

/// Instantiate the suite for a store made by `$make` (an async expression).
#[macro_export]
macro_rules! conformance {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (store, _guard) = $make.await;
                        $crate::store::suite::$name(store).await;
                    }
                };
            }
            case!(push_then_pull_roundtrip);
            case!(pushing_twice_stores_once);
            case!(changes_shared_by_two_documents_are_kept_for_each);
            case!(refused_changes_are_stored_nowhere);
            case!(pages_are_bounded_and_resumable);
            case!(incremental_pull_sends_changes_after_cursor);
            case!(holder_feed_and_departures);
            case!(supervisor_moves_household_worker_cannot);
            case!(garbage_changes_are_refused);
            case!(own_changes_are_not_echoed);
            case!(echo_follows_interleaved_writers);
            case!(passed_over_documents_take_no_room);
            case!(echo_suppression_counts_from_base);
            case!(a_cursor_past_the_end_starts_over);
            case!(paged_pull_delivers_whole_documents);
            case!(concurrent_pushes_keep_the_log_whole);
            case!(a_document_compacted_by_its_push_stays_whole);
            case!(a_grids_push_is_compacted_in_the_background);
            case!(documents_are_read_as_loaded);
            case!(a_pulled_document_carries_its_current_list_rows);
            case!(concurrent_pushes_to_one_document_all_land);
            case!(a_log_that_lost_changes_is_told_by_its_mark);
            case!(the_pusher_of_each_change_is_recorded);
        }
    };
}

async fn sqlite_store() -> (Arc<dyn DocStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = gridsync_server::db::open(&dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    (
        Arc::new(gridsync_server::store::sqlite::SqliteDocStore::new(pool)),
        dir,
    )
}

conformance!(sqlite, sqlite_store());
